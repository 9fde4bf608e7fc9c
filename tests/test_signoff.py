"""The sign-off sample (`crm-migrate sample-check`) on a real demo run: the draw is stratified and
repeatable, each block shows exactly the customer's records and opportunities, the answers read back
give the acceptance rate with its Wilson interval, signoff.json and a report section; a bad answer,
another run's workbook and a dry run are refused. Plus the pure parts against known values."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from crm_migrate.contracts import LOADED, MERGED
from pipelines.cli import app
from pipelines.config import load_config
from pipelines.run import run_pipeline
from reports import signoff as book
from tests.helpers import demo_config
from transforms.signoff import allocate, draw, normalize_answer, wilson

runner = CliRunner()
SIZE, SEED = 20, 7


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One committed demo run and its default sign-off workbook (--size 20 --seed 7)."""
    root = tmp_path_factory.mktemp("signoff")
    cfg = demo_config(root)
    run_dir = Path(run_pipeline(cfg)["run_dir"])
    result = runner.invoke(app, ["sample-check", str(cfg), "--size", str(SIZE), "--seed", str(SEED)])
    assert result.exit_code == 0, result.output
    return cfg, run_dir, run_dir / book.WORKBOOK


def sheet_rows(path: Path) -> tuple[list[str], list[tuple]]:
    wb = load_workbook(path)
    rows = list(wb[book.SHEET].iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


def col(header: list[str], name: str) -> int:
    return header.index(dict((c, h) for c, h, _ in book.COLUMNS)[name])


def expected_strata(run_dir: Path) -> dict[str, str]:
    """Golden id -> stratum, computed here in plain Python from the run folder's files."""
    loaded = set(pl.read_parquet(run_dir / "loaded" / "crm_account.parquet")["external_id"].to_list())
    flagged = {(r["source"], r["source_key"], r["source_row"]) for r in pl.read_parquet(run_dir / "ledger.parquet").to_dicts()
               if r["entity"] == "customer" and r["flags"]}
    sources: dict[str, set] = {}
    count: dict[str, int] = {}
    flag: dict[str, bool] = {}
    for m in pl.read_parquet(run_dir / "golden_members.parquet", columns=["_source", "_source_key", "_row", "target_id"]).to_dicts():
        t = m["target_id"]
        sources.setdefault(t, set()).add(m["_source"])
        count[t] = count.get(t, 0) + 1
        flag[t] = flag.get(t, False) or (m["_source"], m["_source_key"], m["_row"]) in flagged
    return {t: f"{'+'.join(sorted(sources[t]))} · {'merged' if count[t] > 1 else 'single'} · {'flagged' if flag[t] else 'no flags'}"
            for t in loaded}


def independent_wilson(k: int, n: int) -> list[float]:
    """The 95% Wilson interval from scipy when it is installed, else as the roots of the quadratic
    (k/n - x)^2 = z^2 x (1 - x) / n: either way not the code under test."""
    try:
        from scipy.stats import binomtest
    except ImportError:
        z2, p = 1.959963984540054 ** 2, k / n
        a, b, c = 1 + z2 / n, -(2 * p + z2 / n), p * p
        d = math.sqrt(b * b - 4 * a * c)
        return [(-b - d) / (2 * a), (-b + d) / (2 * a)]
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return [ci.low, ci.high]


def fill(src: Path, dst: Path, answers: dict[int, tuple]) -> list[tuple[str, int]]:
    """Write answers (block number -> (answer, comment)) into a copy; returns (golden id, row) per block."""
    wb = load_workbook(src)
    ws = wb[book.SHEET]
    header = [c.value for c in ws[1]]
    a, c, k, g = (header.index(book.ANSWER) + 1, header.index(book.COMMENT) + 1, col(header, "kind") + 1, col(header, "target_id") + 1)
    blocks = []
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, k).value == book.TARGET_ROW:
            blocks.append((ws.cell(r, g).value, r))
            answer, comment = answers.get(len(blocks), (None, None))
            ws.cell(r, a).value, ws.cell(r, c).value = answer, comment
    wb.save(dst)
    return blocks


# ---- the workbook --------------------------------------------------------------------------------

def test_the_workbook_holds_n_customers_from_every_stratum_with_the_yes_no_list(demo):
    _, run_dir, path = demo
    header, rows = sheet_rows(path)
    targets = [r for r in rows if r[col(header, "kind")] == book.TARGET_ROW]
    assert len(targets) == SIZE and len({r[col(header, "target_id")] for r in targets}) == SIZE
    truth = expected_strata(run_dir)
    assert SIZE >= len(set(truth.values()))  # the demo has fewer strata than 20: each must be drawn
    drawn = {r[col(header, "target_id")]: r[col(header, "stratum")] for r in targets}
    assert all(truth[t] == s for t, s in drawn.items())
    assert set(drawn.values()) == set(truth.values())

    wb = load_workbook(path)
    ws = wb[book.SHEET]
    assert ws.freeze_panes == "D2" and ws.auto_filter.ref.startswith("A1:")
    answer = header.index(book.ANSWER)
    letter = ws.cell(1, answer + 1).column_letter
    covered = {str(cell) for dv in ws.data_validations.dataValidation if dv.type == "list" and dv.formula1 == '"yes,no"'
               for cell in dv.sqref.ranges}
    target_rows = [i + 2 for i, r in enumerate(rows) if r[col(header, "kind")] == book.TARGET_ROW]
    assert covered == {f"{letter}{r}" for r in target_rows}
    about = [tuple(v for v in row if v is not None) for row in wb[book.ABOUT].iter_rows(values_only=True)]
    assert ("run 运行", run_dir.name) in about and ("seed 随机种子", str(SEED)) in about
    assert any(r[0] == "target rows shown 目标行来源" and r[1].startswith("as the target") for r in about if r)
    strata_rows = {r[0]: r[1:] for r in about if len(r) == 3 and isinstance(r[1], int)}
    assert sum(n for n, _ in strata_rows.values()) == len(truth) and sum(k for _, k in strata_rows.values()) == SIZE
    assert wb[book.META].sheet_state == "hidden"


def test_a_block_holds_exactly_the_customers_records_and_opportunities(demo):
    _, run_dir, path = demo
    header, rows = sheet_rows(path)
    members = pl.read_parquet(run_dir / "golden_members.parquet")
    opps = pl.read_parquet(run_dir / "loaded" / "crm_opportunity.parquet")
    accounts = pl.read_parquet(run_dir / "loaded" / "crm_account.parquet")
    ledger = pl.read_parquet(run_dir / "ledger.parquet").filter(pl.col("entity") == "opportunity", pl.col("disposition").is_in([LOADED, MERGED]))
    by_id: dict[str, list[tuple]] = {}
    for r in rows:
        by_id.setdefault(r[col(header, "target_id")], []).append(r)
    with_opps = 0
    for tid, block in by_id.items():
        kinds = [r[col(header, "kind")] for r in block]
        assert kinds[0] == book.TARGET_ROW and kinds.count(book.TARGET_ROW) == 1  # the target row first, once
        sources = sorted((r[col(header, "origin")], r[col(header, "key")], r[col(header, "row")]) for r in block if r[col(header, "kind")] == book.SOURCE_ROW)
        assert sources == sorted(members.filter(pl.col("target_id") == tid).select("_source", "_source_key", "_row").rows())
        shown = sorted(r[col(header, "key")] for r in block if r[col(header, "kind")] == book.OPPORTUNITY_ROW)
        assert shown == sorted(opps.filter(pl.col("account_external_id") == tid)["external_id"].to_list())
        assert shown == sorted(ledger.filter(pl.col("customer_target_id") == tid)["target_id"].unique().to_list())
        with_opps += bool(shown)
        account = accounts.filter(pl.col("external_id") == tid).row(0, named=True)
        assert block[0][col(header, "name")] == account["account_name"] and block[0][col(header, "key")] == account["account_number"]
        assert sum(r[col(header, "note")] == "主记录 survivor" for r in block) == 1
    assert with_opps > 0


def test_the_same_seed_draws_the_same_customers_and_another_seed_others(demo):
    cfg, run_dir, path = demo
    loaded = load_config(cfg)
    specs, url = loaded.target_specs(), loaded.config.target.url
    header, rows = sheet_rows(path)
    in_workbook = [r[col(header, "target_id")] for r in rows if r[col(header, "kind")] == book.TARGET_ROW]
    again = book.prepare(run_dir, specs, url, SIZE, SEED).drawn["target_id"].to_list()
    other = book.prepare(run_dir, specs, url, SIZE, SEED + 1).drawn["target_id"].to_list()
    assert again == in_workbook and set(other) != set(in_workbook) and len(other) == SIZE
    everyone = book.prepare(run_dir, specs, url, 10_000, SEED)
    assert everyone.drawn.height == len(expected_strata(run_dir)) and everyone.strata["sampled"].to_list() == everyone.strata["customers"].to_list()


# ---- reading it back -----------------------------------------------------------------------------

def test_answers_read_back_give_the_rate_the_interval_the_rejected_cases_and_one_report_section(demo, tmp_path):
    cfg, run_dir, path = demo
    answers = {i: ("yes", None) for i in range(1, SIZE + 1)}
    answers[4], answers[9] = ("是", None), ("Y ", None)  # Chinese and short answers count as yes
    answers[3] = ("no", "名称错了 <b>分公司</b> 电话13812345678")
    answers[11] = ("否", "联系人不对")
    blocks = fill(path, tmp_path / "filled.xlsx", answers)
    names = pl.read_parquet(run_dir / "loaded" / "crm_account.parquet").filter(pl.col("external_id").is_in([b[0] for b in blocks]))
    result = runner.invoke(app, ["sample-check", str(cfg), "--read", str(tmp_path / "filled.xlsx")], env={"COLUMNS": "200"})
    assert result.exit_code == 4, result.output
    out = result.output
    assert "18 yes, 2 no" in out and "90.0%" in out
    assert f"{blocks[2][0]}" in out and "名称错了 <b>分公司</b>" in out and blocks[10][0] in out and "联系人不对" in out
    assert not any(n in out for n in names["account_name"].to_list())  # ids and comments only: no customer names

    res = json.loads((run_dir / book.RESULT).read_text(encoding="utf-8"))
    assert (res["sampled"], res["answered"], res["yes"], res["no"], res["unanswered"]) == (20, 20, 18, 2, 0)
    assert res["acceptance_rate"] == pytest.approx(0.9)
    assert res["wilson_95"] == pytest.approx(independent_wilson(18, 20), abs=1e-9)
    assert [(r["target_id"], r["comment"]) for r in res["rejected"]] == [(blocks[2][0], answers[3][1]), (blocks[10][0], "联系人不对")]
    assert res["rejected"][0]["account_number"].startswith("KH") and res["rejected"][0]["row"] == blocks[2][1]
    assert res["signed_off"] is False
    # weighted by the run's customers per stratum, computed here from the run folder
    sizes: dict[str, int] = {}
    for stratum in expected_strata(run_dir).values():
        sizes[stratum] = sizes.get(stratum, 0) + 1
    drawn_strata = dict(book.read_workbook(tmp_path / "filled.xlsx", run_dir.name).answers.select("target_id", "stratum").rows())
    no_ids = {blocks[2][0], blocks[10][0]}
    rates = {}
    for tid, stratum in drawn_strata.items():
        rates.setdefault(stratum, []).append(tid not in no_ids)
    total = sum(sizes[s] for s in rates)
    assert res["weighted_acceptance_rate"] == pytest.approx(sum(sizes[s] / total * sum(v) / len(v) for s, v in rates.items()))
    assert {s: v["customers"] for s, v in res["strata"].items()} == {s: sizes[s] for s in rates}

    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert page.count(book.MARK_START) == 1 and page.index(book.MARK_END) < page.index("</main>")
    section = page[page.index(book.MARK_START):page.index(book.MARK_END)]
    assert "Sign-off sample" in section and blocks[2][0] in section and "90.0%" in section
    assert "&lt;b&gt;分公司&lt;/b&gt;" in section and "<b>分公司" not in section  # escaped
    assert "138****5678" in section and "13812345678" not in section  # masked as the report is

    # read again after the last answers are given: one section, replaced; exit 0 when every answer is yes
    fill(path, tmp_path / "all_yes.xlsx", {i: ("yes", None) for i in range(1, SIZE + 1)})
    result = runner.invoke(app, ["sample-check", str(cfg), "--read", str(tmp_path / "all_yes.xlsx"), "--run", run_dir.name])
    assert result.exit_code == 0, result.output
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert page.count(book.MARK_START) == 1 and page.count(book.MARK_END) == 1 and "signed off: every sampled customer" in page
    assert "联系人不对" not in page


def test_unanswered_customers_keep_the_exit_code_at_4(demo, tmp_path):
    cfg, run_dir, path = demo
    blocks = fill(path, tmp_path / "half.xlsx", {i: ("yes", None) for i in range(1, 11)})
    result = runner.invoke(app, ["sample-check", str(cfg), "--read", str(tmp_path / "half.xlsx")])
    assert result.exit_code == 4 and "10 unanswered" in result.output and blocks[15][0] in result.output
    res = json.loads((run_dir / book.RESULT).read_text(encoding="utf-8"))
    assert res["acceptance_rate"] == 1.0 and res["unanswered_ids"] == [b[0] for b in blocks[10:]]


def test_an_invalid_answer_is_an_error_naming_sheet_row_and_column(demo, tmp_path):
    cfg, _, path = demo
    blocks = fill(path, tmp_path / "bad.xlsx", {1: ("yes", None), 5: ("maybe", "不确定")})
    result = runner.invoke(app, ["sample-check", str(cfg), "--read", str(tmp_path / "bad.xlsx")], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert f"sheet '{book.SHEET}', row {blocks[4][1]}, column '{book.ANSWER}'" in result.output and "'maybe' is not an answer" in result.output
    assert "hint:" in result.output


def test_a_workbook_of_another_run_and_a_dry_run_are_refused(demo, tmp_path):
    cfg, run_dir, path = demo
    wb = load_workbook(path)
    wb[book.META]["B2"] = "20250101T000000000Z-000000"
    wb.save(tmp_path / "other.xlsx")
    result = runner.invoke(app, ["sample-check", str(cfg), "--read", str(tmp_path / "other.xlsx")], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and f"sign-off sample of run 20250101T000000000Z-000000, not of run {run_dir.name}" in result.output

    dry = run_dir.parent / f"{run_dir.name}-dry"
    dry.mkdir()
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    (dry / "manifest.json").write_text(json.dumps({**manifest, "dry_run": True, "committed": False}), encoding="utf-8")
    try:
        result = runner.invoke(app, ["sample-check", str(cfg), "--size", "5", "--run", dry.name], env={"COLUMNS": "200"})
    finally:
        shutil.rmtree(dry)
    assert result.exit_code == 1 and "is a dry run" in result.output


# ---- the pure parts ------------------------------------------------------------------------------

def test_wilson_interval_against_known_values():
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson(9, 10) == pytest.approx((0.5958, 0.9821), abs=1e-4)
    low, high = wilson(18, 20)
    p, n, z = 0.9, 20, 1.959963984540054  # the interval's ends solve (p - x)^2 = z^2 x (1 - x) / n
    for x in (low, high):
        assert (p - x) ** 2 == pytest.approx(z * z * x * (1 - x) / n)


def test_allocation_is_proportional_with_one_per_stratum_and_never_more_than_a_stratum_has():
    sizes = pl.DataFrame({"stratum": ["a", "b", "c", "d"], "customers": [900, 60, 30, 10]})
    got = dict(allocate(sizes, 20).select("stratum", "sampled").iter_rows())
    assert got == {"a": 17, "b": 1, "c": 1, "d": 1}
    assert dict(allocate(sizes, 100).select("stratum", "sampled").iter_rows()) == {"a": 90, "b": 6, "c": 3, "d": 1}
    assert dict(allocate(sizes, 2).select("stratum", "sampled").iter_rows()) == {"a": 1, "b": 1, "c": 0, "d": 0}
    assert allocate(sizes, 5000)["sampled"].to_list() == [900, 60, 30, 10]
    tiny = pl.DataFrame({"stratum": ["a", "b"], "customers": [3, 1]})
    assert dict(allocate(tiny, 3).select("stratum", "sampled").iter_rows()) == {"a": 2, "b": 1}


def test_draw_is_deterministic_per_seed_and_keeps_to_the_allocation():
    frame = pl.DataFrame({"target_id": [f"CUS-{i:04d}" for i in range(300)], "stratum": ["x" if i % 10 else "y" for i in range(300)]})
    first, table = draw(frame, 12, seed=3)
    again, _ = draw(frame, 12, seed=3)
    other, _ = draw(frame, 12, seed=4)
    assert first.equals(again) and set(other["target_id"]) != set(first["target_id"])
    assert dict(first.group_by("stratum").len().iter_rows()) == dict(table.select("stratum", "sampled").iter_rows()) == {"x": 11, "y": 1}
    assert math.isclose(draw(frame, 1000, seed=1)[0].height, 300)


def test_answers_are_read_in_english_and_chinese_and_nothing_else():
    for text in ("yes", " YES ", "y", "Y", "是", "对", "正确", "True", "✓", True):
        assert normalize_answer(text) == "yes"
    for text in ("no", "No", "n", "否", "错", "不对", "FALSE", "✗", False):
        assert normalize_answer(text) == "no"
    assert normalize_answer(None) is None and normalize_answer("  ") is None
    for bad in ("maybe", "yes!", 1, 0, "对吧"):
        with pytest.raises(ValueError):
            normalize_answer(bad)


def test_the_workbook_shows_the_target_row_as_each_database_holds_it_now(any_db_url, tmp_path):
    """On SQLite, PostgreSQL and MariaDB: the sample's target rows are read from the target when the
    sample is drawn (a value changed in the CRM since the run shows), by key in bound parameters."""
    import sqlalchemy as sa

    from tests.helpers import csv_file, project

    header = ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"]
    rows = [[f"C{i}", f"深圳市第{i}测试科技有限公司", None, f"1380013{i:04d}", f"南山区{i}号"] for i in range(1, 13)]
    csv_file(tmp_path / "customers.csv", header, rows)
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}], target_url=any_db_url)
    run_pipeline(cfg)
    engine = sa.create_engine(any_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE crm_account SET account_name = '改名后的客户有限公司' WHERE account_name = '深圳市第3测试科技有限公司'"))
    engine.dispose()
    out = tmp_path / "sample.xlsx"
    result = runner.invoke(app, ["sample-check", str(cfg), "--size", "12", "-o", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "as the target holds them now" in result.output
    header_row, body = sheet_rows(out)
    kind, name = col(header_row, "kind"), col(header_row, "name")
    targets = sorted(r[name] for r in body if r[kind] == book.TARGET_ROW)
    sources = sorted(r[name] for r in body if r[kind] == book.SOURCE_ROW)
    assert len(targets) == 12 and "改名后的客户有限公司" in targets and "深圳市第3测试科技有限公司" not in targets
    assert "深圳市第3测试科技有限公司" in sources  # the source record as the run read it, beside the changed target row
