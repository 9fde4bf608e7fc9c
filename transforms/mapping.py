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


def map_table(frame: pl.DataFrame, columns: list[ColumnSpec]) -> tuple[pl.DataFrame, list[dict]]:
    """Return the target rows and the problems found (values over length, required values missing,
    values outside a picklist), each with a count and examples."""
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
            hits = out.filter(bad)
            if hits.height:
                problems.append({"column": col.name, "problem": label, "count": hits.height,
                                 "examples": hits.get_column(col.name).cast(pl.String).head(3).to_list()})
    return out, problems
