"""Picklist values (stage, industry, status) through value maps from mappings/."""
from __future__ import annotations

import polars as pl

from crm_migrate.flags import add_flag


def apply_value_map(frame: pl.DataFrame, column: str, lookup: dict[str, str]) -> pl.DataFrame:
    """Map spellings to canonical values. An unknown value is kept as it is and flagged
    `unknown_<column>:<value>`, never nulled."""
    keys = pl.col(column).cast(pl.String).str.strip_chars().str.to_lowercase()
    mapped = keys.replace_strict(lookup, default=None, return_dtype=pl.String)
    frame = frame.with_columns(mapped.alias("__mapped"))
    unknown = pl.col(column).is_not_null() & pl.col("__mapped").is_null()
    frame = add_flag(frame, unknown, pl.lit(f"unknown_{column}:") + pl.col(column).cast(pl.String).str.strip_chars())
    return frame.with_columns(pl.coalesce("__mapped", pl.col(column).cast(pl.String).str.strip_chars()).alias(column)).drop("__mapped")
