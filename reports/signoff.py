"""The sign-off sample workbook (抽样核对): written for a reviewer, read back for the go-live decision.

Before go-live somebody who knows the customers checks a sample by hand: is this customer in the
new CRM what the old systems said it is? `crm-migrate sample-check CONFIG --size N` draws the
sample (transforms/signoff.py: stratified, keyed by a seed) and writes `signoff_sample.xlsx`:

- sheet `Sample`: one block per customer: its target row (as the target holds it now when the
  target can be reached, else as the run loaded it), then its source records (the member records
  resolution merged into it, standardized), then its opportunities in the target. The same columns
  throughout, so values line up for comparison. The target row carries the answer cell
  (`correct? (yes/no)`, a yes/no list) and a `comment` cell.
- sheet `About`: the run, the seed, the size, where the target rows came from, the strata table.
- a hidden sheet `_signoff`: the run id and the drawn ids, so a workbook is read back only against
  its own run and a deleted block is noticed.

`--read FILE` reads the answers (openpyxl), checks them, and writes signoff.json and a section of
report.html (transforms/signoff.acceptance gives the numbers).
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl

from crm_migrate.contracts import CUSTOMER, OPPORTUNITY, ROW, SOURCE, SOURCE_KEY
from crm_migrate.errors import MigrationError
from reports.run_folder import LOADED_DIR, read_loaded
from transforms.mapping import ColumnSpec
from transforms.signoff import NO, POPULATION, SAMPLED, STRATUM, TARGET_ID, YES, acceptance, draw, normalize_answer, strata

WORKBOOK = "signoff_sample.xlsx"
RESULT = "signoff.json"
SHEET, ABOUT, META = "Sample", "About", "_signoff"
FORMAT = "crm-migrate sign-off sample 1"  # the hidden sheet's first cell: what this workbook is
ANSWER, COMMENT = "correct? (yes/no)", "comment"
TARGET_ROW, SOURCE_ROW, OPPORTUNITY_ROW = "目标 target", "源记录 source", "商机 opportunity"
MARK_START, MARK_END = "<!-- signoff:start -->", "<!-- signoff:end -->"

# The customer fields a reviewer compares, in the canonical model's names (a target column shows
# under the field it is mapped `from`); opportunity rows use name, owner and created_at as well.
CUSTOMER_FIELDS = ("name", "credit_code", "phone", "email", "address", "province", "city", "industry", "contact_name", "owner",
                   "status", "created_at")
OPPORTUNITY_FIELDS = ("stage", "amount", "currency", "expected_close_date")
OPPORTUNITY_SHARED = ("name", "owner", "created_at")

# (column of the rows frame, header, width): the Sample sheet's columns in order.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("block", "# 序号", 6),
    (TARGET_ID, "golden id 客户主编号", 22),
    ("kind", "行类型 row kind", 16),
    ("origin", "来源 source", 16),
    ("key", "编号 key", 18),
    ("row", "源行号 source row", 9),
    ("name", "名称 name", 34),
    ("credit_code", "统一社会信用代码 credit code", 22),
    ("phone", "电话 phone", 17),
    ("email", "邮箱 email", 24),
    ("address", "地址 address", 36),
    ("province", "省 province", 10),
    ("city", "市 city", 10),
    ("industry", "行业 industry", 12),
    ("contact_name", "联系人 contact", 10),
    ("owner", "负责人 owner", 10),
    ("status", "状态 status", 10),
    ("created_at", "创建时间 created", 17),
    ("stage", "阶段 stage", 14),
    ("amount", "金额 amount", 14),
    ("currency", "币种 currency", 8),
    ("expected_close_date", "预计成交 close date", 12),
    ("disposition", "处理 disposition", 11),
    ("flags", "标记 flags", 28),
    ("note", "备注 note", 24),
    (STRATUM, "抽样层 stratum", 30),
    ("answer", ANSWER, 14),
    ("comment", COMMENT, 40),
)
FRAME_COLUMNS = [c for c, _, _ in COLUMNS if c not in ("answer", "comment")]
STRING_COLUMNS = {"kind", "origin", "key", "disposition", "flags", "note", STRATUM, TARGET_ID}


# ---- the run folder ------------------------------------------------------------------------------

def check_run_folder(run_dir: Path, customer_table: str) -> None:
    """Only a committed run's customers can be checked in the target: refuse dry runs, plans, failed
    runs and folders without the loaded rows, saying which."""
    if not run_dir.is_dir():
        raise MigrationError(f"no run folder {run_dir}", hint="give --run a run folder's name in the config's output_dir")
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise MigrationError(f"run folder {run_dir} has no readable manifest.json", hint="`crm-migrate runs CONFIG` lists the runs") from None
    if manifest.get("dry_run"):
        raise MigrationError(f"run {run_dir.name} is a dry run: it loaded nothing to check",
                             hint="draw the sign-off sample from a committed run (`crm-migrate runs CONFIG`)")
    if manifest.get("status") == "planned":
        raise MigrationError(f"run {run_dir.name} is a plan: it loaded nothing to check", hint="draw the sign-off sample from a committed run")
    if not manifest.get("committed"):
        raise MigrationError(f"run {run_dir.name} did not commit (status {manifest.get('status')}): nothing of it is in the target",
                             hint="draw the sign-off sample from a committed run (`crm-migrate runs CONFIG`)")
    if read_loaded(run_dir, customer_table) is None:
        raise MigrationError(f"run folder {run_dir} keeps no loaded rows of {customer_table} ({LOADED_DIR}/{customer_table}.parquet)",
                             hint="runs keep them from crm-migrate 0.2 on; draw the sample from a run made since")
    for name in ("golden_customers.parquet", "golden_members.parquet", "ledger.parquet"):
        if not (run_dir / name).exists():
            raise MigrationError(f"run folder {run_dir} has no {name}", hint="runs keep it from this version on; draw the sample from a run made since")


def _by_field(frame: pl.DataFrame, columns: list[ColumnSpec], fields) -> list[pl.Expr]:
    """Each canonical field as the target column mapped `from` it (null where none is)."""
    out = []
    for f in fields:
        col = next((c.name for c in columns if c.source == f and c.name in frame.columns), None)
        out.append(pl.col(col).alias(f) if col else pl.lit(None, dtype=pl.String).alias(f))
    return out


def _numbered(columns: list[ColumnSpec]) -> str | None:
    """The target's own customer number column (account_number: `number:` in the mapping), if any."""
    return next((c.name for c in columns if c.number is not None), None)


def _foreign_key(columns: list[ColumnSpec]) -> str | None:
    """The opportunity column holding its customer's golden id (mapped `from: customer_target_id`)."""
    return next((c.name for c in columns if c.source == "customer_target_id"), None)


def _golden_column(columns: list[ColumnSpec], key: str) -> str:
    """The customer column holding the golden id (mapped `from: target_id`; usually the key itself)."""
    return next((c.name for c in columns if c.source == "target_id"), key)


@dataclass
class TargetRows:
    """Target rows for the sampled customers and where they came from (shown on the About sheet)."""
    accounts: pl.DataFrame
    opportunities: pl.DataFrame | None
    origin: str  # "target" (read now) or "loaded" (the run's copy)
    note: str
    missing_now: list[str] = field(default_factory=list)  # ids the run loaded that the target no longer holds


def target_rows(url: str, specs: dict, run_dir: Path, ids: list[str]) -> TargetRows:
    """The sampled customers' target rows and their opportunities: as the target holds them now when
    it can be read, else (unreachable, table gone) as the run loaded them, saying which. A customer
    the target no longer holds is shown as loaded and named in `missing_now`."""
    import sqlalchemy as sa

    from loaders.by_key import read_by_keys
    from loaders.target import connect_target, make_engine, sqlite_file
    from crm_migrate.secrets import mask_url

    c_table, c_key, c_cols = specs[CUSTOMER]
    gid = _golden_column(c_cols, c_key)
    loaded_accounts = read_loaded(run_dir, c_table)[0].filter(pl.col(gid).cast(pl.String).is_in(ids))
    o_spec = specs.get(OPPORTUNITY)
    fk = _foreign_key(o_spec[2]) if o_spec else None
    kept_opps = read_loaded(run_dir, o_spec[0]) if o_spec and fk else None
    loaded_opps = kept_opps[0].filter(pl.col(fk).is_in(ids)) if kept_opps else None

    def fallback(why: str) -> TargetRows:
        return TargetRows(loaded_accounts, loaded_opps, "loaded", f"as the run loaded them ({LOADED_DIR}/ of the run folder): {why}")

    path = sqlite_file(url)
    if path is not None and not path.exists():
        return fallback(f"the target file {path} does not exist")
    try:
        engine = make_engine(url)
    except MigrationError as exc:
        return fallback(exc.message)
    try:
        with connect_target(engine, url) as conn:
            tables = set(sa.inspect(conn).get_table_names())
            if c_table not in tables:
                return fallback(f"the target has no table {c_table}")
            accounts = read_by_keys(conn, c_table, c_key, c_cols, gid, ids, loaded_accounts.schema)
            opps = None
            if loaded_opps is not None:
                opps = (read_by_keys(conn, o_spec[0], o_spec[1], o_spec[2], fk, ids, loaded_opps.schema)
                        if o_spec[0] in tables else loaded_opps.clear())
    except MigrationError as exc:
        return fallback(exc.message)
    except Exception as exc:  # noqa: BLE001 - a driver's error: say its kind, fall back to the run's copy
        return fallback(f"reading the target failed ({type(exc).__name__})")
    finally:
        engine.dispose()
    missing = loaded_accounts.join(accounts.select(gid), on=gid, how="anti")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return TargetRows(pl.concat([accounts, missing], how="vertical_relaxed"), opps, "target",
                      f"as the target {mask_url(url)} held them at {stamp}", sorted(missing.get_column(gid).cast(pl.String).to_list()))


# ---- the sample ----------------------------------------------------------------------------------

@dataclass
class SampleBook:
    run_id: str
    seed: int
    size: int
    drawn: pl.DataFrame  # target_id, stratum, sources, merged, flagged
    strata: pl.DataFrame  # stratum, customers, sampled
    rows: pl.DataFrame  # the Sample sheet's rows (FRAME_COLUMNS)
    target: TargetRows


def population(run_dir: Path, specs: dict) -> pl.Series:
    """Golden ids of the customers the run loaded (a row in loaded/<customer table>)."""
    table, key, cols = specs[CUSTOMER]
    golden = pl.read_parquet(run_dir / "golden_customers.parquet", columns=[TARGET_ID])
    loaded = read_loaded(run_dir, table)[0].select(pl.col(_golden_column(cols, key)).cast(pl.String).alias(TARGET_ID))
    return loaded.join(golden, on=TARGET_ID, how="semi").get_column(TARGET_ID)


def prepare(run_dir: Path, specs: dict, url: str, size: int, seed: int) -> SampleBook:
    """Draw the sample of a run and lay out its rows: what the workbook shows."""
    members = pl.read_parquet(run_dir / "golden_members.parquet")
    ledger = pl.read_parquet(run_dir / "ledger.parquet")
    stratified = strata(population(run_dir, specs), members, ledger)
    drawn, table = draw(stratified, size, seed)
    drawn = drawn.sort(STRATUM, TARGET_ID).with_row_index("block", offset=1).with_columns(pl.col("block").cast(pl.Int64))
    target = target_rows(url, specs, run_dir, drawn.get_column(TARGET_ID).to_list())
    golden = pl.read_parquet(run_dir / "golden_customers.parquet", columns=[TARGET_ID, "survivor"])
    rows = block_rows(drawn, golden, members, ledger, target, specs)
    return SampleBook(run_dir.name, seed, size, drawn, table, rows, target)


def block_rows(drawn: pl.DataFrame, golden: pl.DataFrame, members: pl.DataFrame, ledger: pl.DataFrame, target: TargetRows,
               specs: dict) -> pl.DataFrame:
    """One block per drawn customer (in `block` order): its target row, its member records, its
    opportunities, in the same columns (FRAME_COLUMNS)."""
    c_table, c_key, c_cols = specs[CUSTOMER]
    ids = drawn.select(TARGET_ID, "block", STRATUM)
    number = _numbered(c_cols)
    missing = pl.col(TARGET_ID).is_in(pl.Series(target.missing_now, dtype=pl.String).implode())
    gid = _golden_column(c_cols, c_key)
    accounts = target.accounts.select(
        pl.col(gid).cast(pl.String).alias(TARGET_ID), pl.lit(TARGET_ROW).alias("kind"), pl.lit(c_table).alias("origin"),
        (pl.col(number) if number else pl.col(c_key)).cast(pl.String).alias("key"), pl.lit(None, dtype=pl.Int64).alias("row"),
        *_by_field(target.accounts, c_cols, CUSTOMER_FIELDS)
    ).with_columns(pl.when(missing).then(pl.lit("not in the target now: shown as the run loaded it")).otherwise(None).alias("note"),
                   pl.lit(0).alias("__order"))

    customer_flags = (ledger.filter(pl.col("entity") == CUSTOMER)
                      .select(pl.col("source").alias(SOURCE), pl.col("source_key").alias(SOURCE_KEY), pl.col("source_row").alias(ROW),
                              "disposition", "flags"))
    sources = (members.join(ids.select(TARGET_ID), on=TARGET_ID, how="semi")
               .join(customer_flags, on=[SOURCE, SOURCE_KEY, ROW], how="left", nulls_equal=True)
               .join(golden, on=TARGET_ID, how="left")
               .select(TARGET_ID, pl.lit(SOURCE_ROW).alias("kind"), pl.col(SOURCE).alias("origin"), pl.col(SOURCE_KEY).cast(pl.String).alias("key"),
                       pl.col(ROW).cast(pl.Int64).alias("row"),
                       *[pl.col(f) if f in members.columns else pl.lit(None, dtype=pl.String).alias(f) for f in CUSTOMER_FIELDS],
                       "disposition", pl.when(pl.col("flags") != "").then(pl.col("flags")).alias("flags"),
                       pl.when(pl.col("survivor") == pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY).cast(pl.String))
                       .then(pl.lit("主记录 survivor")).otherwise(None).alias("note"),
                       pl.lit(1).alias("__order")))
    parts = [accounts, sources]
    if target.opportunities is not None and specs.get(OPPORTUNITY):
        o_table, o_key, o_cols = specs[OPPORTUNITY]
        opps = target.opportunities
        parts.append(opps.select(
            pl.col(_foreign_key(o_cols)).cast(pl.String).alias(TARGET_ID), pl.lit(OPPORTUNITY_ROW).alias("kind"), pl.lit(o_table).alias("origin"),
            pl.col(o_key).cast(pl.String).alias("key"), *_by_field(opps, o_cols, OPPORTUNITY_SHARED + OPPORTUNITY_FIELDS),
            pl.lit(2).alias("__order")).with_columns(pl.col("amount").cast(pl.Float64, strict=False)))
    rows = pl.concat(parts, how="diagonal_relaxed").join(ids, on=TARGET_ID, how="inner")
    rows = rows.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in FRAME_COLUMNS if c not in rows.columns])
    sort_by = ["block", "__order", "origin", "expected_close_date", "key", "row"]
    return rows.sort(sort_by, nulls_last=True).select(FRAME_COLUMNS)


# ---- writing -------------------------------------------------------------------------------------

def write_workbook(path: Path, book: SampleBook, safe_cells: dict) -> None:
    """The reviewer's workbook: Sample (one block per customer, the answer on its target row), About,
    and the hidden _signoff sheet the reader checks."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), safe_cells)
    head = wb.add_format({"bold": True, "bg_color": "#E2E8F0", "text_wrap": True, "valign": "top", "border": 1})
    base = {"valign": "top"}
    styles = {
        TARGET_ROW: {**base, "bold": True, "bg_color": "#DBEAFE", "top": 2},
        SOURCE_ROW: {**base},
        OPPORTUNITY_ROW: {**base, "italic": True, "font_color": "#166534"},
    }
    number_formats = {"date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm", "amount": "#,##0.00", None: None}
    fmt_cache: dict = {}

    def fmt(kind: str, num: str | None = None, extra: dict | None = None):
        k = (kind, num, tuple(sorted((extra or {}).items())))
        if k not in fmt_cache:
            props = {**styles.get(kind, base), **(extra or {})}
            if number_formats[num]:
                props["num_format"] = number_formats[num]
            fmt_cache[k] = wb.add_format(props)
        return fmt_cache[k]

    answer_style = {"bg_color": "#FEF9C3", "border": 1, "locked": False}
    ws = wb.add_worksheet(SHEET)
    ws.write_row(0, 0, [h for _, h, _ in COLUMNS], head)
    ws.set_row(0, 32)
    for c, (_, _, width) in enumerate(COLUMNS):
        ws.set_column(c, c, width)
    answer_col = [c for c, _, _ in COLUMNS].index("answer")
    target_rows: list[tuple[str, int]] = []
    for r, row in enumerate(book.rows.iter_rows(named=True), start=1):
        kind = row["kind"]
        for c, (name, _, _) in enumerate(COLUMNS):
            if name in ("answer", "comment"):
                if kind == TARGET_ROW:
                    ws.write_blank(r, c, None, fmt(kind, None, answer_style))
                continue
            v = row.get(name)
            if v is None:
                ws.write_blank(r, c, None, fmt(kind))
            elif isinstance(v, str):
                ws.write_string(r, c, v, fmt(kind))
            elif isinstance(v, datetime):
                ws.write_datetime(r, c, v.replace(tzinfo=None), fmt(kind, "datetime"))
            elif isinstance(v, date):
                ws.write_datetime(r, c, datetime(v.year, v.month, v.day), fmt(kind, "date"))
            elif isinstance(v, bool):
                ws.write_string(r, c, "yes" if v else "no", fmt(kind))
            elif isinstance(v, (int, float, Decimal)):
                ws.write_number(r, c, float(v), fmt(kind, "amount" if name == "amount" else None))
            else:
                ws.write_string(r, c, str(v), fmt(kind))
        if kind == TARGET_ROW:
            target_rows.append((row[TARGET_ID], r))
            ws.data_validation(r, answer_col, r, answer_col, {
                "validate": "list", "source": [YES, NO], "error_type": "warning",
                "input_title": "是否正确？correct?", "input_message": "yes / no（是 / 否 也可）",
                "error_title": "yes / no", "error_message": "choose yes or no (是 / 否 are read as yes / no)"})
    last = max(1, book.rows.height)
    ws.autofilter(0, 0, last, len(COLUMNS) - 1)
    ws.freeze_panes(1, 3)
    _about(wb, book, head)
    _meta(wb, book, target_rows)
    wb.close()


def _about(wb, book: SampleBook, head) -> None:
    ws = wb.add_worksheet(ABOUT)
    bold = wb.add_format({"bold": True})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 70)
    ws.set_column(2, 3, 14)
    ws.write_string(0, 0, "抽样核对 sign-off sample", wb.add_format({"bold": True, "font_size": 14}))
    drawn = book.drawn.height
    lines = [
        ("run 运行", book.run_id),
        ("seed 随机种子", str(book.seed)),
        ("size asked 要求数量", str(book.size)),
        ("customers drawn 抽取客户数", str(drawn)),
        ("customers loaded by the run 运行加载客户数", str(int(book.strata.get_column(POPULATION).sum() or 0))),
        ("target rows shown 目标行来源", book.target.note),
        ("customers not in the target now 目标中已不存在", ", ".join(book.target.missing_now) or "none"),
        ("source records 源记录", "each member record resolution merged into the customer, as standardized (canonical values), "
                                "with its ledger disposition and flags; 主记录 survivor marks the record the golden record is built on"),
        ("how to fill 填写方法", f"for each customer (blue target row), compare the target row with its source records and opportunities; "
                              f"answer '{ANSWER}' with yes or no (是/否, y/n are read too) and say why in '{COMMENT}' when no. "
                              "Leave unanswered what you did not check. Do not move, add or delete rows or sheets."),
        ("read back 回读", f"crm-migrate sample-check CONFIG --read <this file> --run {book.run_id}"),
    ]
    for i, (k, v) in enumerate(lines, start=2):
        ws.write_string(i, 0, k, bold)
        ws.write_string(i, 1, v, wrap)
    top = len(lines) + 4
    ws.write_string(top - 1, 0, "strata 抽样分层 (sources · merged/single · flagged/no flags)", bold)
    ws.write_row(top, 0, ["stratum 分层", "", "customers in run 运行中客户", "sampled 抽取"], head)
    for r, (stratum, customers, sampled) in enumerate(book.strata.select(STRATUM, POPULATION, SAMPLED).iter_rows(), start=top + 1):
        ws.write_string(r, 0, stratum)
        ws.write_number(r, 2, customers)
        ws.write_number(r, 3, sampled)


def _meta(wb, book: SampleBook, target_rows: list[tuple[str, int]]) -> None:
    """The hidden sheet: what the reader checks the workbook against."""
    ws = wb.add_worksheet(META)
    strata_of = dict(book.drawn.select(TARGET_ID, STRATUM).iter_rows())
    for r, (k, v) in enumerate([("format", FORMAT), ("run_id", book.run_id), ("seed", str(book.seed)), ("size", str(book.size)),
                                ("drawn", str(book.drawn.height)), ("target_rows", book.target.origin)]):
        ws.write_string(r, 0, k)
        ws.write_string(r, 1, v)
    ws.write_row(7, 0, [TARGET_ID, STRATUM, "sample_row"])
    for r, (tid, row) in enumerate(target_rows, start=8):
        ws.write_string(r, 0, tid)
        ws.write_string(r, 1, strata_of.get(tid, ""))
        ws.write_number(r, 2, row + 1)
    ws.hide()


# ---- reading -------------------------------------------------------------------------------------

@dataclass
class ReadBack:
    run_id: str
    seed: str
    answers: pl.DataFrame  # target_id, stratum, answer (yes/no/None), comment, row (the sheet's row number)


def read_workbook(path: Path, run_id: str) -> ReadBack:
    """The answers of a filled workbook of run `run_id`. Refuses a workbook of another run, a
    workbook that is not a sign-off sample, an answer that is neither yes nor no (naming the sheet,
    row and column), an answer outside a target row, and a block added or removed."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, data_only=True)
    except FileNotFoundError:
        raise MigrationError(f"no workbook {path}", hint="give --read the filled signoff_sample.xlsx") from None
    except Exception as exc:  # noqa: BLE001 - openpyxl's kinds of unreadable files
        raise MigrationError(f"cannot read {path} as an Excel workbook ({type(exc).__name__})", hint="give --read the filled signoff_sample.xlsx") from None
    try:
        if META not in wb.sheetnames or SHEET not in wb.sheetnames or wb[META]["A1"].value != "format" or wb[META]["B1"].value != FORMAT:
            raise MigrationError(f"{path} is not a sign-off sample workbook (its hidden sheet {META} or its sheet {SHEET} is missing)",
                                 hint="draw one with `crm-migrate sample-check CONFIG --size N`")
        meta = wb[META]
        info = {str(meta.cell(r, 1).value): str(meta.cell(r, 2).value) for r in range(1, 7)}
        if info.get("run_id") != run_id:
            raise MigrationError(f"{path} is the sign-off sample of run {info.get('run_id')}, not of run {run_id}: its answers are about "
                                 "that run's customers", hint=f"read it against its own run: --run {info.get('run_id')}; or draw a sample of run {run_id}")
        drawn = {}
        for tid, stratum, _ in meta.iter_rows(min_row=9, max_col=3, values_only=True):
            if tid:
                drawn[str(tid)] = str(stratum or "")
        ws = wb[SHEET]
        header = [c.value for c in ws[1]]
        where = {}
        for name, title, _ in COLUMNS:
            if name in (TARGET_ID, "kind", "answer", "comment"):
                if title not in header:
                    raise MigrationError(f"the column '{title}' is missing", file=str(path), sheet=SHEET, row=1,
                                         hint="do not rename or delete the columns; draw the sample again if it is lost")
                where[name] = header.index(title)
        found: list[dict] = []
        for r, values in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
            get = lambda name: values[where[name]] if where[name] < len(values) else None  # noqa: E731
            raw = get("answer")
            try:
                answer = normalize_answer(raw)
            except ValueError:
                raise MigrationError(f"'{raw}' is not an answer", file=str(path), sheet=SHEET, row=r, column=ANSWER,
                                     hint="answer yes or no (是/否 and y/n are read too), or leave it empty if not checked") from None
            comment = get("comment")
            comment = str(comment).strip() if comment is not None and str(comment).strip() else None
            if get("kind") != TARGET_ROW:
                if answer is not None:
                    raise MigrationError("an answer on a row that is not a customer's target row", file=str(path), sheet=SHEET, row=r,
                                         column=ANSWER, hint=f"answer on the customer's first row (row kind '{TARGET_ROW}')")
                continue
            found.append({TARGET_ID: str(get(TARGET_ID)), "answer": answer, "comment": comment, "row": r})
    finally:
        wb.close()
    ids = [f[TARGET_ID] for f in found]
    extra, lost = [i for i in ids if i not in drawn], [i for i in drawn if i not in set(ids)]
    if extra or lost or len(set(ids)) != len(ids):
        what = (f"customers not drawn: {', '.join(extra[:5])}" if extra else "") + ("; " if extra and lost else "") + \
               (f"customers drawn but missing: {', '.join(lost[:5])}" if lost else "") or "a customer's block appears twice"
        raise MigrationError(f"the blocks of {SHEET} are not the customers drawn ({what})", file=str(path), sheet=SHEET,
                             hint="do not add, delete or copy blocks; copy the answers into a freshly drawn workbook (same --seed and --size)")
    answers = pl.DataFrame(found, schema={TARGET_ID: pl.String, "answer": pl.String, "comment": pl.String, "row": pl.Int64})
    answers = answers.with_columns(pl.col(TARGET_ID).replace_strict(drawn, return_dtype=pl.String).alias(STRATUM))
    return ReadBack(info["run_id"], info.get("seed", ""), answers.select(TARGET_ID, STRATUM, "answer", "comment", "row"))


def stratum_sizes(run_dir: Path, specs: dict) -> dict[str, int]:
    """The run's loaded customers per stratum, as the draw saw them (for the weighted rate)."""
    members = pl.read_parquet(run_dir / "golden_members.parquet")
    ledger = pl.read_parquet(run_dir / "ledger.parquet")
    return dict(strata(population(run_dir, specs), members, ledger).group_by(STRATUM).len().rows())


def result(read: ReadBack, workbook: Path, accounts: pl.DataFrame, specs: dict, sizes: dict[str, int] | None = None) -> dict:
    """signoff.json: the statistics, the rejected cases (golden id, the target's customer number and
    name where the mapping has them, the comment) and the unanswered ids."""
    _, key, cols = specs[CUSTOMER]
    number = _numbered(cols)
    name = next((c.name for c in cols if c.source == "name"), None)
    shown = accounts.select(pl.col(_golden_column(cols, key)).cast(pl.String).alias(TARGET_ID),
                            (pl.col(number).cast(pl.String) if number else pl.lit(None, dtype=pl.String)).alias("account_number"),
                            (pl.col(name).cast(pl.String) if name else pl.lit(None, dtype=pl.String)).alias("name"))
    rejected = (read.answers.filter(pl.col("answer") == NO).join(shown, on=TARGET_ID, how="left")
                .select(TARGET_ID, "account_number", "name", "comment", "row", STRATUM))
    stats = acceptance(read.answers, sizes)
    return {"run_id": read.run_id, "read_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "workbook": str(workbook),
            "seed": read.seed, **stats, "rejected": rejected.to_dicts(),
            "unanswered_ids": read.answers.filter(pl.col("answer").is_null()).get_column(TARGET_ID).to_list(),
            "signed_off": stats["sampled"] > 0 and stats["yes"] == stats["sampled"]}


# ---- report.html ---------------------------------------------------------------------------------

def _pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def html_section(res: dict, mask) -> str:
    """The report's "Sign-off sample" section; every value escaped, comments through `mask` (the
    report's masking of phones, emails and person names)."""
    e = lambda v: html.escape("" if v is None else str(v))  # noqa: E731
    low, high = res["wilson_95"]
    verdict, cls = (("signed off: every sampled customer answered yes", "ok") if res["signed_off"] else
                    (f"not signed off: {res['no']} answered no, {res['unanswered']} unanswered", "bad"))
    out = [MARK_START, '<section id="signoff">', " <h2>Sign-off sample</h2>",
           f' <p><b class="{cls}">{e(verdict)}</b> · read {e(res["read_at"][:19])} UTC from <code>{e(Path(res["workbook"]).name)}</code>'
           f' (seed {e(res["seed"])})</p>',
           ' <div class="cards">',
           *[f'  <div class="card"><span>{e(k)}</span><b>{e(v)}</b></div>' for k, v in (
               ("sampled", res["sampled"]), ("answered", res["answered"]), ("yes", res["yes"]), ("no", res["no"]),
               ("unanswered", res["unanswered"]), ("acceptance rate", _pct(res["acceptance_rate"])),
               ("95% Wilson interval", f"{_pct(low)} – {_pct(high)}" if res["answered"] else "–"),
               *((("weighted by stratum size", _pct(res["weighted_acceptance_rate"])),) if "weighted_acceptance_rate" in res else ()))],
           " </div>",
           ' <p class="small">The acceptance rate is yes / answered over the sample as drawn (stratified: every kind of customer at '
           "least once, so small strata weigh more than in the run). The interval is where the run's true rate lies with 95% "
           "confidence, if the reviewers' answers are right. The weighted rate counts each stratum's rate by its share of the "
           "run's customers.</p>",
           " <table><tr><th>stratum</th><th>customers in run</th><th>sampled</th><th>yes</th><th>no</th><th>unanswered</th><th>acceptance</th></tr>"]
    for s, v in res["strata"].items():
        out.append(f'  <tr><td>{e(s)}</td><td class="n">{e(v.get("customers", ""))}</td><td class="n">{e(v["sampled"])}</td><td class="n">{e(v["yes"])}</td>'
                   f'<td class="n">{e(v["no"])}</td><td class="n">{e(v["unanswered"])}</td><td class="n">{e(_pct(v["acceptance_rate"]))}</td></tr>')
    out.append(" </table>")
    if res["rejected"]:
        out.append(" <h3>Answered no</h3>\n <table><tr><th>golden id</th><th>account number</th><th>name</th><th>comment</th></tr>")
        for r in res["rejected"]:
            out.append(f'  <tr><td><code>{e(r[TARGET_ID])}</code></td><td>{e(r["account_number"])}</td><td>{e(r["name"])}</td>'
                       f'<td>{e(mask(r["comment"]))}</td></tr>')
        out.append(" </table>")
    if res["unanswered_ids"]:
        out.append(f' <p class="small">Unanswered: {", ".join(f"<code>{e(i)}</code>" for i in res["unanswered_ids"])}</p>')
    out += ["</section>", MARK_END]
    return "\n".join(out) + "\n"


_SECTION = re.compile(re.escape(MARK_START) + r".*?" + re.escape(MARK_END) + r"\n?", re.S)


def insert_section(report: Path, fragment: str) -> None:
    """Put the section into report.html just before `</main>`, replacing one an earlier read put there."""
    if not report.exists():
        raise MigrationError(f"the run folder has no {report.name}", file=str(report.parent), hint="the run's report stage writes it")
    page = _SECTION.sub("", report.read_text(encoding="utf-8"))
    at = page.rfind("</main>")
    if at < 0:
        at = page.rfind("</body>")
    page = page[:at] + fragment + page[at:] if at >= 0 else page + fragment
    report.write_text(page, encoding="utf-8")
