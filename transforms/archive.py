"""Stale records: inactive and untouched for a long time go to the archive, not the new CRM."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

ARCHIVE_REASON = "__archive_reason"


def mark_stale(
    customers: pl.DataFrame,
    inactive_statuses: list[str],
    not_updated_for_days: int,
    as_of: date,
) -> pl.DataFrame:
    """Add `__archive_reason` (null for records that stay)."""
    cutoff = datetime.combine(as_of, datetime.min.time()) - timedelta(days=not_updated_for_days)
    last_touch = pl.coalesce("updated_at", "created_at")
    stale = pl.col("status").is_in(inactive_statuses) & (last_touch < cutoff)
    reason = pl.format(
        "stale: status {} and not updated since {} (rule: inactive and no update for {} days)",
        pl.col("status"), last_touch.dt.date().cast(pl.String), pl.lit(not_updated_for_days),
    )
    return customers.with_columns(pl.when(stale.fill_null(False)).then(reason).otherwise(None).alias(ARCHIVE_REASON))
