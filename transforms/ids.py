"""Deterministic ids: the same input gives the same golden and target ids on every run and every
library version (upserts of later delta runs are keyed on them), so they use SHA-1, not polars' hash."""
from __future__ import annotations

import hashlib

import polars as pl


def _digest(values: pl.Series, prefix: str) -> pl.Series:
    return pl.Series(
        [None if v is None else prefix + hashlib.sha1(v.encode("utf-8")).hexdigest()[:16].upper() for v in values.to_list()],
        dtype=pl.String,
    )


def stable_id(prefix: str, anchor: pl.Expr) -> pl.Expr:
    """`prefix` + 16 hex digits of SHA-1 of the anchor text."""
    return anchor.cast(pl.String).map_batches(lambda s: _digest(s, prefix), return_dtype=pl.String)
