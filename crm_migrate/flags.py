"""Row flags: machine-readable issue codes carried in the `_flags` list column to the ledger.
Part of the shared contract: every stage, the extractors included, adds flags this way."""
from __future__ import annotations

import polars as pl

from crm_migrate.contracts import FLAGS


def init_flags(frame: pl.DataFrame) -> pl.DataFrame:
    if FLAGS in frame.columns:
        return frame
    return frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(FLAGS))


def add_flag(frame: pl.DataFrame, condition: pl.Expr, code: str | pl.Expr) -> pl.DataFrame:
    """Append `code` to `_flags` where `condition` is true; a code may hold several, `;`-separated."""
    code_expr = code if isinstance(code, pl.Expr) else pl.lit(code)
    return frame.with_columns(
        pl.when(condition.fill_null(False))
        .then(pl.concat_list(pl.col(FLAGS), code_expr.cast(pl.String).str.split(";")))
        .otherwise(pl.col(FLAGS))
        .alias(FLAGS)
    )


def flags_text(expr: pl.Expr = pl.col(FLAGS)) -> pl.Expr:
    """`;`-joined, sorted, de-duplicated flags as in the ledger."""
    return expr.list.unique().list.sort().list.join(";")
