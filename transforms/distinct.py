"""Apply a Python function once per distinct value and join the results back.

Real CRM data repeats (the same city, stage, phone format thousands of times), so normalizers that
need Python logic run over the distinct values only; everything else stays columnar.
"""
from __future__ import annotations

from typing import Any, Callable

import polars as pl

from transforms.parallel import fan_out, pieces

# Below this many distinct values a column is normalized here: shipping them costs more than it saves.
SPREAD_FROM = 20_000


def map_distinct(
    frame: pl.DataFrame,
    column: str,
    fn: Callable[[Any], tuple],
    outputs: dict[str, pl.DataType],
) -> pl.DataFrame:
    """Add `outputs` columns computed by `fn(value) -> tuple` for each distinct value of `column`."""
    distinct = frame.get_column(column).unique().to_list()
    results = apply_distinct(fn, distinct)
    lookup = pl.DataFrame(
        {"__key": pl.Series(distinct, dtype=frame.schema[column])}
        | {f"__out{i}": pl.Series([r[i] for r in results], dtype=dtype) for i, dtype in enumerate(outputs.values())}
    )
    added = joined_on(frame, column, lookup, "__key").rename({f"__out{i}": name for i, name in enumerate(outputs)})
    return frame.drop([c for c in outputs if c in frame.columns and c != column]).with_columns(added.get_columns())


def _apply(values: list, fn: Callable[[Any], tuple]) -> list[tuple]:
    return [fn(v) for v in values]


def apply_distinct(fn: Callable[[Any], tuple], distinct: list) -> list[tuple]:
    """fn of each distinct value, in order. With `run --cluster`, a long list is cut into a few
    chunks per worker (transforms/parallel.py): each value is still normalized once, wherever it goes."""
    chunks = [distinct[a:b] for a, b in pieces(len(distinct), SPREAD_FROM)]
    return [r for part in fan_out(_apply, chunks, fn) for r in part]


def joined_on(frame: pl.DataFrame, column: str, lookup: pl.DataFrame, key: str) -> pl.DataFrame:
    """The columns of `lookup` (keyed by `key`) for each row of `frame`, by its `column`, in row order.

    Only the key column goes through the join: joining the whole frame would copy every one of its
    columns (hundreds of MB at a million records) to add one."""
    joined = frame.select(column).join(lookup, left_on=column, right_on=key, how="left", nulls_equal=True, maintain_order="left")
    return joined.drop([column, key], strict=False)
