"""Opportunities: attach each to its golden customer, then find duplicate opportunities."""
from __future__ import annotations

import polars as pl

from crm_migrate.contracts import CANONICAL, FLAGS, OPPORTUNITY, REJECT, RID, ROW, SOURCE, SOURCE_KEY
from crm_migrate.flags import add_flag
from transforms.ids import stable_id

LINK_REASON = "__link_reason"


def customer_name_index(members: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """name_key -> golden id, and the region-less core of the key -> golden id; only unambiguous entries."""
    names = members.filter(pl.col("name_key").is_not_null()).select("name_key", "target_id").unique()
    full = names.group_by("name_key").agg(pl.col("target_id").n_unique().alias("__n"), pl.col("target_id").first().alias("__by_name"))
    core = (
        names.with_columns(pl.col("name_key").str.split("|").list.last().alias("__core"))
        .group_by("__core").agg(pl.col("target_id").n_unique().alias("__n_core"), pl.col("target_id").first().alias("__by_core"))
    )
    return full, core


def key_index(customer_keys: pl.DataFrame) -> pl.DataFrame:
    """One row per (customer source, key): the golden customer all its kept records belong to (null
    when none or several), how many there are, the candidates, and a reject reason when every record
    with that key was rejected. A key repeated in a customer source must not fan opportunities out."""
    kept = pl.col("target_id").drop_nulls()
    return (
        customer_keys.group_by(pl.col(SOURCE).alias("__cust_source"), pl.col(SOURCE_KEY).alias("customer_source_key"))
        .agg(kept.n_unique().alias("__n_keyed"), kept.unique().sort().head(5).str.join(", ").alias("__candidates"),
             kept.unique().first().alias("__by_key"), pl.col(REJECT).drop_nulls().first().alias("__cust_reject"))
        .with_columns(pl.when(pl.col("__n_keyed") == 1).then(pl.col("__by_key")).alias("__by_key"))
    )


def link_opportunities(
    opps: pl.DataFrame,
    customer_keys: pl.DataFrame,
    members: pl.DataFrame,
    customer_source_of: dict[str, str | None],
) -> pl.DataFrame:
    """Add `customer_target_id` and `__link_reason` (null when linked).

    customer_keys: every customer record (source, source_key, target_id or null, reject reason).
    By key when the opportunity source names its customer source; otherwise by name.
    """
    opps = opps.with_columns(pl.col(SOURCE).replace_strict(customer_source_of, default=None, return_dtype=pl.String).alias("__cust_source"))
    opps = opps.join(key_index(customer_keys), on=["__cust_source", "customer_source_key"], how="left", maintain_order="left", validate="m:1")
    full, core = customer_name_index(members)
    opps = opps.join(full, left_on="customer_name_key", right_on="name_key", how="left", maintain_order="left", validate="m:1")
    opps = opps.with_columns(pl.col("customer_name_key").str.split("|").list.last().alias("__core"))
    opps = opps.join(core, on="__core", how="left", maintain_order="left", validate="m:1")
    by_key = pl.col("__cust_source").is_not_null() & pl.col("customer_source_key").is_not_null()
    unique_full = pl.col("__n") == 1
    unique_core = pl.col("__n_core") == 1
    linked = (
        pl.when(by_key).then(pl.when(pl.col("__n_keyed") == 1).then(pl.col("__by_key")))
        .when(unique_full).then(pl.col("__by_name"))
        .when(pl.col("__n").is_null() & unique_core).then(pl.col("__by_core"))
    )
    reason = (
        pl.when(by_key & (pl.col("__n_keyed") > 1))
        .then(pl.format("customer key {} of source {} belongs to {} different customers ({}): the opportunity cannot tell which",
                        pl.col("customer_source_key"), pl.col("__cust_source"), pl.col("__n_keyed"), pl.col("__candidates")))
        .when(by_key & pl.col("__by_key").is_null() & pl.col("__cust_reject").is_not_null())
        .then(pl.format("customer {}:{} was rejected ({})", pl.col("__cust_source"), pl.col("customer_source_key"), pl.col("__cust_reject")))
        .when(by_key & pl.col("__by_key").is_null())
        .then(pl.format("customer key {} not found in source {}", pl.col("customer_source_key"), pl.col("__cust_source")))
        .when(by_key).then(None)
        .when(pl.col("customer_name").is_null()).then(pl.lit("no customer key or customer name"))
        .when(pl.col("__n") > 1).then(pl.format("customer name '{}' matches {} customers", pl.col("customer_name"), pl.col("__n")))
        .when(pl.col("__n").is_null() & (pl.col("__n_core") > 1)).then(pl.format("customer name '{}' (no region) matches {} customers", pl.col("customer_name"), pl.col("__n_core")))
        .when(linked.is_null()).then(pl.format("customer '{}' not found among migrated customers", pl.col("customer_name")))
    )
    opps = opps.with_columns(linked.alias("customer_target_id"), reason.alias(LINK_REASON))
    opps = add_flag(opps, ~by_key & pl.col("__n").is_null() & unique_core, "customer_matched_without_region")
    return opps.drop("__cust_source", "__by_key", "__cust_reject", "__n_keyed", "__candidates", "__n", "__by_name", "__core",
                     "__n_core", "__by_core")


COLLISION = "__collision_reason"


def key_collisions(opps: pl.DataFrame) -> pl.DataFrame:
    """Add `__collision_reason`: records of one source that share a key, so would share one target id,
    but differ in content. Nobody can tell which is right, so each is rejected naming the others
    (identical ones are one record pasted twice: de-duplication merges them)."""
    content = pl.struct([c for c in [*CANONICAL[OPPORTUNITY], "customer_target_id"] if c in opps.columns])
    groups = (
        opps.group_by(SOURCE, SOURCE_KEY)
        .agg(content.n_unique().alias("__variants"), pl.len().alias("__n"), pl.col(ROW).sort().head(10).cast(pl.String).str.join(", ").alias("__rows"))
        .filter(pl.col("__variants") > 1)
    )
    if groups.is_empty():
        return opps.with_columns(pl.lit(None, dtype=pl.String).alias(COLLISION))
    reason = pl.format("key {} of {} is used by {} records that differ (rows {}): they would share one target id; keep one "
                       "in the source or give each its own key", pl.col(SOURCE_KEY), pl.col(SOURCE), pl.col("__n"), pl.col("__rows"))
    groups = groups.select(SOURCE, SOURCE_KEY, reason.alias(COLLISION))
    return add_flag(opps.join(groups, on=[SOURCE, SOURCE_KEY], how="left", maintain_order="left", validate="m:1"),
                    pl.col(COLLISION).is_not_null(), "target_key_collision")


def dedupe_opportunities(linked: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Add `target_id` and `_survivor`. Opportunities equal on `keys` are one deal: the most trusted
    record survives, the others are merged into its id."""
    own_id = stable_id("OPP-", pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY))
    df = linked.with_columns(own_id.alias("__own_id"))
    ordered = df.sort(["_priority", SOURCE, SOURCE_KEY])
    first = ordered.group_by(keys, maintain_order=True).agg(pl.col("__own_id").first().alias("target_id"), pl.col(RID).first().alias("__first"))
    df = df.join(first, on=keys, how="left", nulls_equal=True, maintain_order="left", validate="m:1")
    return df.with_columns((pl.col(RID) == pl.col("__first")).alias("_survivor")).drop("__own_id", "__first")


def resolve_opportunities(opps: pl.DataFrame, customer_keys: pl.DataFrame, members: pl.DataFrame,
                          customer_source_of: dict[str, str | None], duplicate_keys: list[str]) -> pl.DataFrame:
    """Every opportunity, once: linked to its golden customer (or `__link_reason`), records sharing a
    key with different content marked (`__collision_reason`), and the rest de-duplicated (`target_id`,
    `_survivor`; both null for the opportunities that will be rejected)."""
    linked = link_opportunities(opps, customer_keys, members, customer_source_of)
    ok = key_collisions(linked.filter(pl.col(REJECT).is_null() & pl.col(LINK_REASON).is_null()))
    linked = linked.join(ok.select(RID, COLLISION, pl.col(FLAGS).alias("__flags_ok")), on=RID, how="left", validate="1:1")
    linked = linked.with_columns(pl.coalesce("__flags_ok", FLAGS).alias(FLAGS)).drop("__flags_ok")
    deduped = dedupe_opportunities(ok.filter(pl.col(COLLISION).is_null()), duplicate_keys)
    return linked.join(deduped.select(RID, "target_id", "_survivor"), on=RID, how="left", validate="1:1")
