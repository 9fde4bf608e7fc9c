"""Opportunities: attach each to its golden customer, then find duplicate opportunities."""
from __future__ import annotations

import polars as pl

from crm_migrate.contracts import RID, SOURCE, SOURCE_KEY
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
    keyed = customer_keys.select(
        pl.col(SOURCE).alias("__cust_source"), pl.col(SOURCE_KEY).alias("customer_source_key"),
        pl.col("target_id").alias("__by_key"), pl.col("reject_reason").alias("__cust_reject"),
    )
    opps = opps.join(keyed, on=["__cust_source", "customer_source_key"], how="left", maintain_order="left")
    full, core = customer_name_index(members)
    opps = opps.join(full, left_on="customer_name_key", right_on="name_key", how="left", maintain_order="left")
    opps = opps.with_columns(pl.col("customer_name_key").str.split("|").list.last().alias("__core"))
    opps = opps.join(core, on="__core", how="left", maintain_order="left")
    by_key = pl.col("__cust_source").is_not_null() & pl.col("customer_source_key").is_not_null()
    unique_full = pl.col("__n") == 1
    unique_core = pl.col("__n_core") == 1
    linked = (
        pl.when(by_key).then(pl.col("__by_key"))
        .when(unique_full).then(pl.col("__by_name"))
        .when(pl.col("__n").is_null() & unique_core).then(pl.col("__by_core"))
    )
    reason = (
        pl.when(by_key & pl.col("__cust_reject").is_not_null())
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
    return opps.drop("__cust_source", "__by_key", "__cust_reject", "__n", "__by_name", "__core", "__n_core", "__by_core")


def dedupe_opportunities(linked: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Add `target_id` and `_survivor`. Opportunities equal on `keys` are one deal: the most trusted
    record survives, the others are merged into its id."""
    own_id = stable_id("OPP-", pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY))
    df = linked.with_columns(own_id.alias("__own_id"))
    ordered = df.sort(["_priority", SOURCE, SOURCE_KEY])
    first = ordered.group_by(keys, maintain_order=True).agg(pl.col("__own_id").first().alias("target_id"), pl.col(RID).first().alias("__first"))
    df = df.join(first, on=keys, how="left", nulls_equal=True, maintain_order="left")
    return df.with_columns((pl.col(RID) == pl.col("__first")).alias("_survivor")).drop("__own_id", "__first")
