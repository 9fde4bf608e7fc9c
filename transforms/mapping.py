"""Canonical frames -> target CRM tables, from the target mapping (types, picklists, defaults)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl


@dataclass
class ColumnSpec:
    name: str
    source: str
    type: str = "string"
    length: int | None = None
    precision: int = 18
    scale: int = 2
    required: bool = False
    default: Any = None
    picklist: dict[str, str] | None = None


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


def picklist_references(specs: dict[str, tuple[str, str, list[ColumnSpec]]]) -> dict[str, frozenset]:
    """`picklist:<canonical field>` -> the canonical values the target mapping's picklist of that field
    knows, for the suites' expect_column_values_to_be_in_target_picklist."""
    return {f"picklist:{col.source}": frozenset(col.picklist) for _, _, cols in specs.values() for col in cols if col.picklist}


def map_table(frame: pl.DataFrame, columns: list[ColumnSpec]) -> tuple[pl.DataFrame, list[dict]]:
    """Return the target rows and the problems found (values over length, required values missing,
    values outside a picklist), each with a count, example values and the positions of the first rows
    (the caller names the source records behind them)."""
    exprs, problems = [], []
    for col in columns:
        expr = pl.col(col.source)
        if col.picklist:
            expr = expr.cast(pl.String).replace(col.picklist)
        if col.default is not None:
            expr = expr.fill_null(pl.lit(col.default))
        exprs.append(expr.cast(polars_type(col), strict=False).alias(col.name))
    out = frame.select(exprs)
    for col in columns:
        c = pl.col(col.name)
        checks = []
        if col.required:
            checks.append(("required value missing", c.is_null()))
        if col.length and col.type == "string":
            checks.append((f"longer than {col.length} characters", c.str.len_chars() > col.length))
        if col.picklist:
            checks.append(("not in picklist", c.is_not_null() & ~c.is_in(list(col.picklist.values()))))
        for label, bad in checks:
            hits = out.with_row_index("__position").filter(bad)
            if hits.height:
                problems.append({"column": col.name, "problem": label, "count": hits.height,
                                 "examples": hits.get_column(col.name).cast(pl.String).head(3).to_list(),
                                 "positions": hits.get_column("__position").head(5).to_list()})
    return out, problems


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
