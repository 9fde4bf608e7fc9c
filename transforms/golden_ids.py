"""Golden ids that outlive their clusters: a customer keeps its id from run to run.

A golden id is first derived from the cluster (transforms/resolve.golden_id: its credit code,
else the smallest member), so the same input gives the same ids. But the target's rows, the
opportunities pointing at them and the users' bookmarks are keyed on the id, and clusters change
between runs: a delta run brings a record with a smaller key, a reviewer joins two clusters, a code
arrives for a company that had none. Each would change a derived id and leave the old row behind.

So the ids of earlier runs (the crosswalk: source, key -> golden id, from the target's ledger) win:
a cluster takes the earlier id most of its members had (an id goes to one cluster only: the one
holding most of its members; ties by the smaller id, so the result does not depend on row order).
A cluster none of whose members had an id, or whose earlier ids all went to other clusters, keeps
its derived id, unless an earlier run gave that id to another company: then it gets a fresh one
(ids are never reused for another company). An earlier id no cluster took was merged into another
customer: `superseded` lists it with the id its members now have.
"""
from __future__ import annotations

import polars as pl

from crm_migrate.contracts import ROW, SOURCE, SOURCE_KEY
from transforms.ids import stable_id

TARGET_ID = "target_id"
PREVIOUS_ID = "previous_id"


def _earlier_id(members: pl.DataFrame, earlier: pl.DataFrame) -> pl.Series:
    """Each member's earlier golden id: by (source, key); where a source reused a key for two companies
    (the earlier run gave the key two ids), by (source, key, row), and none when the row moved."""
    keys = [SOURCE, SOURCE_KEY]
    prev = earlier.select(*keys, *([ROW] if ROW in earlier.columns else []), pl.col(TARGET_ID).alias(PREVIOUS_ID)).unique()
    reused = prev.group_by(keys).agg(pl.col(PREVIOUS_ID).n_unique().alias("__ids")).filter(pl.col("__ids") > 1).select(keys)
    by_key = prev.join(reused, on=keys, how="anti").unique(keys, keep="last").select(*keys, PREVIOUS_ID)
    out = members.select(keys).join(by_key, on=keys, how="left", maintain_order="left").get_column(PREVIOUS_ID)
    if reused.height and ROW in prev.columns and ROW in members.columns:
        by_row = prev.join(reused, on=keys, how="semi").unique([*keys, ROW]).select(*keys, ROW, pl.col(PREVIOUS_ID).alias("__by_row"))
        rows = members.select(*keys, ROW).join(by_row, on=[*keys, ROW], how="left", maintain_order="left").get_column("__by_row")
        out = pl.select(pl.coalesce(out, rows)).to_series().alias(PREVIOUS_ID)
    return out


def keep_earlier_ids(members: pl.DataFrame, earlier: pl.DataFrame | None) -> tuple[pl.Series, pl.DataFrame]:
    """(the golden id of each member, superseded ids). `members`: SOURCE, SOURCE_KEY and the derived
    `target_id` (and ROW); `earlier`: SOURCE, SOURCE_KEY, ROW, `target_id` of earlier runs (empty on a first run)."""
    superseded = pl.DataFrame(schema={PREVIOUS_ID: pl.String, TARGET_ID: pl.String, "records": pl.UInt32})
    derived = members.get_column(TARGET_ID)
    if earlier is None or earlier.is_empty():
        return derived, superseded
    was = members.select(SOURCE, SOURCE_KEY, TARGET_ID, *([ROW] if ROW in members.columns else [])).with_columns(
        _earlier_id(members, earlier).alias(PREVIOUS_ID))
    votes = was.filter(pl.col(PREVIOUS_ID).is_not_null()).group_by(TARGET_ID, PREVIOUS_ID).agg(pl.len().alias("records"))
    # Most clusters hold the members of one earlier id and no other cluster does: they keep it at once.
    plain = (pl.len().over(TARGET_ID) == 1) & (pl.len().over(PREVIOUS_ID) == 1)
    taken = dict(votes.filter(plain).select(TARGET_ID, PREVIOUS_ID).iter_rows())  # cluster (derived id) -> earlier id
    used = set(taken.values())
    # The rest (splits and joins) by greedy matching, strongest first: a cluster takes the earlier id
    # most of its members had, unless a cluster holding more of that id's members took it already.
    contested = votes.filter(~plain).sort(["records", PREVIOUS_ID, TARGET_ID], descending=[True, False, False])
    for cluster, previous, _ in contested.iter_rows():
        if cluster not in taken and previous not in used:
            taken[cluster] = previous
            used.add(previous)
    # Derived ids an earlier run gave to another company are not reused: a fresh one from the derived id.
    retired = set(earlier.get_column(TARGET_ID).unique().to_list()) - used
    clusters = pl.DataFrame({TARGET_ID: derived.unique()})
    fresh = clusters.filter(~pl.col(TARGET_ID).is_in(list(taken)) & pl.col(TARGET_ID).is_in(list(retired | used)))
    renamed = dict(taken)
    if fresh.height:
        new = fresh.select(TARGET_ID, stable_id("CUS-", pl.lit("renewed:") + pl.col(TARGET_ID)).alias("__new"))
        renamed |= dict(new.iter_rows())
    final = derived.replace(renamed) if renamed else derived
    if retired:
        gone = (was.with_columns(final.alias("__final")).filter(pl.col(PREVIOUS_ID).is_in(list(retired)))
                .group_by(PREVIOUS_ID, "__final").agg(pl.len().alias("records"))
                .sort(["records", "__final"], descending=[True, False]).unique(PREVIOUS_ID, keep="first", maintain_order=True)
                .select(PREVIOUS_ID, pl.col("__final").alias(TARGET_ID), pl.col("records").cast(pl.UInt32)).sort(PREVIOUS_ID))
        superseded = gone
    return final, superseded
