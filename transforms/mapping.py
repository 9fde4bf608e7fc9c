"""Canonical frames -> target CRM tables, from the target mapping (types, picklists, defaults,
lookups, computed fields, numbering, truncation).

A target column takes its value from one of: a canonical field (`from`), an expression over canonical
fields (`compute`, polars SQL: `concat_ws(' ', province, city, address)`, `coalesce(phone, phone_other)`),
or a number the target assigns (`number`: customer numbers like KH2024000123). A `lookup` then
translates the value (legacy sales reps by name or employee id -> target user ids), falling back to a
default that is flagged on the record. Everything here is pure: the caller reads the numbers the
target already holds and passes them in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from crm_migrate.contracts import LOOKUP_DEFAULT, TRUNCATED

_NUMBER_FORMAT = re.compile(r"^(?P<pre>[^{}]*)(?P<year>\{year\})?(?P<mid>[^{}]*)\{seq(?::0(?P<width>[1-9]\d?)d)?\}(?P<suf>[^{}]*)$")
OVERFLOW = ("stop", "truncate")  # a value longer than the column: stop the load (default) or cut it, reported


@dataclass(frozen=True)
class Numbering:
    """`format`: literal text with `{year}` (optional) and `{seq}` / `{seq:06d}`; the year is taken from
    the canonical date field `year_from` (the run's year where it is empty or not given)."""
    format: str
    year_from: str | None = None

    def parts(self) -> tuple[str, bool, str, int, str]:
        """(text before the year, has a year, text between year and sequence, sequence width, text after)."""
        m = _NUMBER_FORMAT.match(self.format)
        if m is None:
            raise ValueError(f"number format {self.format!r} must hold one {{seq}} (or {{seq:06d}}) and at most one {{year}}, "
                             "with no other braces")
        return m["pre"], bool(m["year"]), m["mid"], int(m["width"] or 1), m["suf"]

    def shortest(self) -> int:
        """Characters of the shortest number the format gives (the sequence at its width)."""
        pre, has_year, mid, width, suf = self.parts()
        return len(pre) + 4 * has_year + len(mid) + width + len(suf)


@dataclass(frozen=True)
class Lookup:
    """A translation table (folded legacy value -> target value) with the value used for anything it
    does not know, or knows under several target values (`ambiguous`: two users of one name); a
    defaulted record is flagged `lookup_default:<column>`."""
    table: dict[str, str]
    ambiguous: frozenset[str] = frozenset()
    default: str | None = None


@dataclass
class ColumnSpec:
    name: str
    source: str | None = None  # a canonical field, target_id or customer_target_id
    type: str = "string"
    length: int | None = None
    precision: int = 18
    scale: int = 2
    required: bool = False
    default: Any = None
    picklist: dict[str, str] | None = None
    compute: str | None = None  # polars SQL expression over canonical fields
    number: Numbering | None = None
    lookup: str | None = None  # name of a lookup of the target mapping
    overflow: str = "stop"

    def reads(self) -> list[str]:
        """The canonical fields this column reads."""
        if self.compute:
            return pl.sql_expr(self.compute).meta.root_names()
        if self.number:
            return [self.number.year_from] if self.number.year_from else []
        return [self.source] if self.source else []


@dataclass
class MappedTable:
    rows: pl.DataFrame
    problems: list[dict]  # values the target cannot take: the load stops (positions: the rows behind them)
    notes: list[dict] = field(default_factory=list)  # what the mapping changed: truncated, defaulted (with positions)
    flags: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"position": pl.UInt32, "flag": pl.String}))


def polars_type(col: ColumnSpec) -> pl.DataType:
    return {
        "string": pl.String(),
        "integer": pl.Int64(),
        "decimal": pl.Decimal(col.precision, col.scale),
        "float": pl.Float64(),
        "date": pl.Date(),
        "datetime": pl.Datetime("us"),
        "boolean": pl.Boolean(),
    }[col.type]


def typed_default(col: ColumnSpec) -> Any:
    """The column's default as a value of its type (a YAML `2024-01-31` may arrive as text); raises
    ValueError when it is not one."""
    v = col.default
    if v is None or col.type == "string":
        return v if v is None else str(v)
    if col.type in ("date", "datetime"):
        parsed = v if isinstance(v, (date, datetime)) else datetime.fromisoformat(str(v))
        return parsed.date() if col.type == "date" and isinstance(parsed, datetime) else parsed
    if col.type == "decimal":
        return Decimal(str(v))
    if col.type == "boolean":
        if str(v).lower() not in ("true", "false"):
            raise ValueError(v)
        return str(v).lower() == "true"
    return {"integer": int, "float": float}[col.type](v)


def picklist_references(specs: dict[str, tuple[str, str, list[ColumnSpec]]]) -> dict[str, frozenset]:
    """`picklist:<canonical field>` -> the canonical values the target mapping's picklist of that field
    knows, for the suites' expect_column_values_to_be_in_target_picklist."""
    return {f"picklist:{col.source}": frozenset(col.picklist) for _, _, cols in specs.values() for col in cols if col.picklist and col.source}


def lookup_key(expr: pl.Expr) -> pl.Expr:
    """How a legacy value meets a lookup entry: full-width folded, spaces removed, case ignored
    (张 伟, 张伟 and ＺＨＡＮＧ Wei's employee id E023 / e023 find the same user)."""
    return expr.cast(pl.String).str.normalize("NFKC").str.replace_all(r"\s+", "").str.to_lowercase()


def _value(col: ColumnSpec) -> pl.Expr:
    if col.compute:
        return pl.sql_expr(col.compute)
    if col.number:
        return pl.lit(None, dtype=pl.String)  # assigned after the rows are mapped (assign_numbers)
    return pl.col(col.source)


def map_table(frame: pl.DataFrame, columns: list[ColumnSpec], lookups: dict[str, Lookup] | None = None,
              numbers: dict[str, pl.Series] | None = None) -> MappedTable:
    """Return the target rows, the problems found (required values missing, values over length where
    the column stops on overflow, values outside a picklist, lookups without a default that do not
    know a value) and the notes (values truncated, lookups defaulted), each with a count, examples and
    the positions of the first rows (the caller names the source records behind them).
    `numbers`: column -> the values assign_numbers gave each row."""
    lookups, numbers = lookups or {}, numbers or {}
    exprs, marks = [], []  # marks: (column, what, condition over the input frame) -> notes and flags
    for col in columns:
        expr = _value(col)
        if col.number:
            expr = pl.lit(numbers[col.name]) if col.name in numbers else expr
        if col.lookup:
            lk = lookups[col.lookup]
            found = lookup_key(expr).replace_strict(lk.table, default=None, return_dtype=pl.String) if lk.table else pl.lit(None, dtype=pl.String)
            several = lookup_key(expr).is_in(list(lk.ambiguous)) if lk.ambiguous else pl.lit(False)
            if lk.default is not None:
                marks.append((col.name, f"names several values in lookup {col.lookup}: set to its default", several, expr.cast(pl.String)))
                marks.append((col.name, f"not in lookup {col.lookup}: set to its default", found.is_null() & ~several, expr.cast(pl.String)))
                found = found.fill_null(pl.lit(lk.default))
            else:
                marks.append((col.name, f"names several values in lookup {col.lookup}", several, expr.cast(pl.String)))
                marks.append((col.name, f"not in lookup {col.lookup}", found.is_null() & expr.is_not_null() & ~several, expr.cast(pl.String)))
            expr = found
        if col.picklist:
            expr = expr.cast(pl.String).replace(col.picklist)
        if col.default is not None:
            expr = expr.fill_null(pl.lit(typed_default(col)))
        expr = expr.cast(polars_type(col), strict=False)
        if col.length and col.type == "string" and col.overflow == "truncate":
            marks.append((col.name, f"truncated to {col.length} characters", expr.str.len_chars() > col.length, expr))
            expr = expr.str.slice(0, col.length)
        exprs.append(expr.alias(col.name))
    out = frame.select(exprs)
    problems, notes, flags = [], [], []
    fields = {c.name: c.source or c.name for c in columns}  # whose values the examples are (the report masks by field)
    if marks:
        hit = frame.select([cond.fill_null(False).alias(f"__m{i}") for i, (_, _, cond, _) in enumerate(marks)]
                           + [value.alias(f"__v{i}") for i, (_, _, _, value) in enumerate(marks)]).with_row_index("__position")
        for i, (column, what, _, _) in enumerate(marks):
            rows = hit.filter(pl.col(f"__m{i}"))
            if not rows.height:
                continue
            item = {"column": column, "field": fields[column], "problem": what, "count": rows.height,
                    "examples": rows.get_column(f"__v{i}").drop_nulls().unique(maintain_order=True).head(3).to_list(),
                    "positions": rows.get_column("__position").head(5).to_list()}
            if "lookup" in what and "default" not in what:
                problems.append(item)  # no default: the value would be lost
                continue
            notes.append(item)
            code = f"{TRUNCATED if what.startswith('truncated') else LOOKUP_DEFAULT}:{column}"
            flags.append(rows.select(pl.col("__position").alias("position"), pl.lit(code).alias("flag")))
    for col in columns:
        c = pl.col(col.name)
        checks = []
        if col.required:
            checks.append(("required value missing", c.is_null()))
        if col.length and col.type == "string" and col.overflow == "stop":
            checks.append((f"longer than {col.length} characters", c.str.len_chars() > col.length))
        if col.picklist:
            checks.append(("not in picklist", c.is_not_null() & ~c.is_in(list(col.picklist.values()))))
        for label, bad in checks:
            hits = out.with_row_index("__position").filter(bad)
            if hits.height:
                problems.append({"column": col.name, "problem": label, "count": hits.height,
                                 "examples": hits.get_column(col.name).cast(pl.String).head(3).to_list(),
                                 "positions": hits.get_column("__position").head(5).to_list()})
    flag_frame = pl.concat(flags) if flags else MappedTable(out, []).flags
    return MappedTable(out, problems, notes, flag_frame)


def assign_numbers(keys: pl.Series, dates: pl.Series | None, existing: pl.DataFrame, numbering: Numbering, run_year: int) -> pl.Series:
    """Target-side numbers (KH2024000123) for rows with these keys: a key the target already numbered
    keeps its number (re-runs, delta runs, a number a user changed); new keys continue each prefix's
    highest sequence, in order of date then key, so the same input numbers the same way every time
    and numbers are never reused. `existing`: (key, number) rows the target holds; `dates`: per row,
    the date whose year its number carries (null: the run's year; numbered after the dated rows)."""
    pre, has_year, mid, width, suf = numbering.parts()
    when = dates.cast(pl.Datetime("us")) if dates is not None else pl.Series([None] * len(keys), dtype=pl.Datetime("us"))
    year = when.dt.year().cast(pl.Int64).fill_null(run_year) if has_year else pl.Series([run_year] * len(keys), dtype=pl.Int64)
    rows = pl.DataFrame({"key": keys.cast(pl.String), "year": year, "when": when}).with_row_index("__position")
    prefix = pl.lit(pre) + (pl.col("year").cast(pl.String).str.zfill(4) if has_year else pl.lit("")) + pl.lit(mid)
    rows = rows.with_columns(prefix.alias("prefix"))
    held = existing.select(pl.col(existing.columns[0]).cast(pl.String).alias("key"), pl.col(existing.columns[1]).cast(pl.String).alias("number"))
    held = held.filter(pl.col("key").is_not_null() & pl.col("number").is_not_null()).unique("key", keep="first")
    pattern = "^(" + re.escape(pre) + (r"\d{4}" if has_year else "") + re.escape(mid) + r")(\d+)" + re.escape(suf) + "$"
    top = (held.select(pl.col("number").str.extract_groups(pattern).alias("g")).unnest("g")
           .rename({"1": "prefix", "2": "seq"}).drop_nulls()
           .group_by("prefix").agg(pl.col("seq").cast(pl.Int64).max().alias("top")))
    rows = rows.join(held, on="key", how="left")
    new = (rows.filter(pl.col("number").is_null()).join(top, on="prefix", how="left")
           .sort("prefix", "when", "key", nulls_last=True)
           .with_columns((pl.col("top").fill_null(0) + pl.int_range(1, pl.len() + 1).over("prefix")).alias("seq"))
           .select("__position", (pl.col("prefix") + pl.col("seq").cast(pl.String).str.zfill(width) + pl.lit(suf)).alias("assigned")))
    out = rows.join(new, on="__position", how="left").sort("__position")
    return out.select(pl.coalesce("number", "assigned")).to_series()


def numbers_for(frame: pl.DataFrame, columns: list[ColumnSpec], key: str, existing: dict[str, pl.DataFrame], run_year: int) -> dict[str, pl.Series]:
    """The numbers of each `number` column for these rows (assign_numbers); `existing`: column ->
    (key, number) rows the target holds."""
    key_spec = next(c for c in columns if c.name == key)
    keys = frame.select(_value(key_spec).cast(pl.String)).to_series()
    out = {}
    for col in columns:
        if col.number:
            dates = frame.get_column(col.number.year_from) if col.number.year_from else None
            held = existing.get(col.name, pl.DataFrame(schema={"key": pl.String, "number": pl.String}))
            out[col.name] = assign_numbers(keys, dates, held, col.number, run_year)
    return out


def key_problems(rows: pl.DataFrame, key: str, origin: pl.Series) -> list[dict]:
    """Target keys that are empty or shared by several rows, with the source records behind them: such
    rows must never reach the database (an upsert keyed on them would collide or overwrite).
    `origin`: per row of `rows`, the record it came from (`source:key`)."""
    frame = rows.select(pl.col(key).cast(pl.String).alias("__key")).with_columns(origin.alias("__origin"))
    problems = []
    empty = frame.filter(pl.col("__key").is_null())
    if empty.height:
        problems.append({"column": key, "problem": "target keys empty", "count": empty.height, "examples": [],
                         "records": empty.get_column("__origin").head(5).to_list()})
    shared = frame.filter(pl.col("__key").is_not_null() & pl.col("__key").is_duplicated())
    if shared.height:
        groups = shared.group_by("__key").agg(pl.col("__origin").sort().str.join(" + ")).sort("__origin")
        problems.append({"column": key, "problem": f"rows share a target key ({groups.height} keys)", "count": shared.height,
                         "examples": [], "records": groups.get_column("__origin").head(5).to_list()})
    return problems
