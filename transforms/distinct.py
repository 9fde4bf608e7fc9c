"""Apply a Python function once per distinct value and join the results back.

Real CRM data repeats (the same city, stage, phone format thousands of times), so normalizers that
need Python logic run over the distinct values only; everything else stays columnar.
"""
from __future__ import annotations

from typing import Any, Callable

import polars as pl


def map_distinct(
    frame: pl.DataFrame,
    column: str,
    fn: Callable[[Any], tuple],
    outputs: dict[str, pl.DataType],
) -> pl.DataFrame:
    """Add `outputs` columns computed by `fn(value) -> tuple` for each distinct value of `column`."""
    distinct = frame.get_column(column).unique().to_list()
    results = [fn(v) for v in distinct]
    lookup = pl.DataFrame(
        {"__key": pl.Series(distinct, dtype=frame.schema[column])}
        | {name: pl.Series(name, [r[i] for r in results], dtype=dtype) for i, (name, dtype) in enumerate(outputs.items())}
    )
    frame = frame.drop([c for c in outputs if c in frame.columns and c != column])
    joined = frame.join(lookup, left_on=column, right_on="__key", how="left", nulls_equal=True, maintain_order="left")
    return joined.drop("__key") if "__key" in joined.columns else joined
