"""Records a source no longer holds: a legacy system's user deleted a customer or a deal between two
runs. crm-migrate never deletes in the target (the new CRM may already have work on that customer);
it reports them, per source, so somebody decides. Only sources read whole can tell: a delta read
(watermark) returns changed rows only, so a record missing from it says nothing."""
from __future__ import annotations

import polars as pl

from crm_migrate.contracts import LOADED, MERGED


def gone_from_sources(earlier: pl.DataFrame, now: pl.DataFrame, read_whole: list[str]) -> pl.DataFrame:
    """Earlier runs' records (source, source_key, entity, disposition, target_id) of the sources read
    whole in this run that this run did not read (`now`: source, source_key)."""
    return (earlier.filter(pl.col("source").is_in(read_whole))
            .join(now.select("source", "source_key").unique(), on=["source", "source_key"], how="anti")
            .sort("source", "source_key"))


def summary(gone: pl.DataFrame, examples: int = 5) -> dict[str, dict]:
    """Per source: how many records are gone, how many of them the target still holds (they were
    loaded or merged: their golden record stays), and a few keys."""
    out = {}
    for (source,), part in gone.group_by("source", maintain_order=True):
        in_target = part.filter(pl.col("disposition").is_in([LOADED, MERGED]))
        out[source] = {"count": part.height, "in_target": in_target.height,
                       "examples": part.get_column("source_key").head(examples).to_list(),
                       "golden_ids": in_target.get_column("target_id").drop_nulls().unique(maintain_order=True).head(examples).to_list()}
    return out
