"""Customer resolution: cluster duplicate records, pick survivors, build golden records.

Exact matching, precision first (a false merge destroys data):
- a registry identifier anchors a cluster: a valid credit code, or a legacy organization code
  (joined to the credit code that embeds it); two different identifiers never merge;
- a name joins records only when it carries a region (two 腾飞科技有限公司 of different cities are
  different companies) and its name group holds at most one identifier; a name group with several
  identifiers leaves its code-less records alone, flagged `ambiguous_name_match`;
- branches (分公司, 办事处) keep their branch suffix in the key, so never join their head office by name;
- a record with none of these stands alone, keyed by its source and key (with its row when the key
  repeats in the source: a repeated key is no evidence), except that records of one source identical
  in every field are one customer typed or pasted twice.
"""
from __future__ import annotations

import polars as pl

from crm_migrate.contracts import CANONICAL, CUSTOMER, RID, ROW, SOURCE, SOURCE_KEY
from crm_migrate.flags import add_flag
from transforms.ids import stable_id

GOLDEN_FIELDS = [f for f in CANONICAL[CUSTOMER]]
DUPLICATE_EVIDENCE = ("credit_code", "phone", "email", "address", "contact_name")
PRIORITY = "_priority"


def identifiers(customers: pl.DataFrame) -> pl.Expr:
    """Each record's registry identifier, as a cluster anchor: `C:<credit code>` for a valid code;
    for a legacy organization code (GB 11714, positions 9-17 of a credit code) the one credit code
    that embeds it, else `O:<org code>`; `G:<number>` for a 15-digit registration number."""
    valid = customers.filter(pl.col("credit_code_status").is_in(["valid", "repaired"]))
    by_org = (
        valid.group_by(pl.col("credit_code").str.slice(8, 9).alias("__org"))
        .agg(pl.col("credit_code").n_unique().alias("__n"), pl.col("credit_code").min().alias("__c"))
        .filter(pl.col("__n") == 1)
    )
    org_to_code = dict(zip(by_org["__org"].to_list(), by_org["__c"].to_list()))
    flags = pl.col("_flags")
    return (
        pl.when(pl.col("credit_code_status").is_in(["valid", "repaired"])).then(pl.lit("C:") + pl.col("credit_code"))
        .when(flags.list.contains("legacy_organization_code")).then(
            pl.coalesce(pl.lit("C:") + pl.col("credit_code").replace_strict(org_to_code, default=None, return_dtype=pl.String),
                        pl.lit("O:") + pl.col("credit_code")))
        .when(flags.list.contains("legacy_registration_number")).then(pl.lit("G:") + pl.col("credit_code"))
    )


def record_anchors(df: pl.DataFrame) -> pl.DataFrame:
    """Add `__own` and `__shared` anchors for records with no identifier and no region-bearing name.
    Own: `R:<source>:<key>`, with `#<row>` when the key repeats in the source (two companies behind one
    reused key must not merge). Shared: records of one source equal in every canonical field are one
    customer typed or pasted twice, and take the own anchor of the first of them, provided they hold
    something that identifies a company besides its name (two 腾飞科技有限公司 of different cities)."""
    own = pl.lit("R:") + pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY)
    df = df.with_columns(pl.when(pl.struct(SOURCE, SOURCE_KEY).is_duplicated()).then(own + "#" + pl.col(ROW).cast(pl.String))
                         .otherwise(own).alias("__own"))
    content = pl.struct([pl.col(f) for f in GOLDEN_FIELDS if f in df.columns])
    evidence = pl.any_horizontal([pl.col(f).is_not_null() for f in DUPLICATE_EVIDENCE if f in df.columns])
    return df.with_columns(pl.when(evidence).then(pl.col("__own").sort_by(ROW).first().over(SOURCE, content))
                           .otherwise(pl.col("__own")).alias("__shared"))


def cluster_customers(customers: pl.DataFrame) -> pl.DataFrame:
    """Add `target_id` (golden id) and `_match` (identifier | name | none)."""
    name_ok = pl.col("name_has_region").fill_null(False) & pl.col("name_key").is_not_null()
    df = customers.with_columns(identifiers(customers).alias("__ident"), name_ok.alias("__name_ok"))
    groups = (
        df.filter(pl.col("__name_ok"))
        .group_by("name_key")
        .agg(pl.col("__ident").drop_nulls().n_unique().alias("__n_ids"), pl.col("__ident").drop_nulls().min().alias("__group_id"))
    )
    df = record_anchors(df.join(groups, on="name_key", how="left", maintain_order="left", validate="m:1"))
    anchor = (
        pl.when(pl.col("__ident").is_not_null()).then(pl.col("__ident"))
        .when(pl.col("__name_ok") & (pl.col("__n_ids") == 1)).then(pl.col("__group_id"))
        .when(pl.col("__name_ok") & (pl.col("__n_ids") == 0)).then(pl.lit("N:") + pl.col("name_key"))
        .otherwise(pl.col("__shared"))
    )
    match = (
        pl.when(pl.col("__ident").is_not_null()).then(pl.lit("identifier"))
        .when(pl.col("__name_ok") & (pl.col("__n_ids") <= 1)).then(pl.lit("name"))
        .when(pl.col("__shared") != pl.col("__own")).then(pl.lit("duplicate"))
        .otherwise(pl.lit("none"))
    )
    df = df.with_columns(anchor.alias("__anchor"), match.alias("_match"))
    df = add_flag(df, pl.col("__name_ok") & (pl.col("__n_ids") >= 2) & pl.col("__ident").is_null(), "ambiguous_name_match")
    df = add_flag(df, pl.col("__ident").is_null() & ~pl.col("__name_ok"), "no_match_key")
    df = df.with_columns(stable_id("CUS-", pl.col("__anchor")).alias("target_id"))
    return df.drop("__ident", "__name_ok", "__n_ids", "__group_id", "__anchor", "__own", "__shared")


def survivorship_order(df: pl.DataFrame) -> pl.DataFrame:
    """Most trusted first: source priority, most recently updated, most complete, then lineage (for determinism)."""
    filled = pl.sum_horizontal([pl.col(f).is_not_null().cast(pl.Int32) for f in GOLDEN_FIELDS])
    return df.with_columns(filled.alias("__filled")).sort(
        [PRIORITY, "updated_at", "__filled", SOURCE, SOURCE_KEY],
        descending=[False, True, True, False, False],
        nulls_last=True,
    ).drop("__filled")


CARRIED = "_carried"


def carry_over(current: pl.DataFrame, previous: pl.DataFrame, sources: set[str]) -> pl.DataFrame:
    """Add the earlier runs' records of incrementally read sources that this run did not re-read, so
    golden records are built from every member. They are marked `_carried` and get fresh row ids."""
    current = current.with_columns(pl.lit(False).alias(CARRIED))
    if previous.is_empty() or not sources:
        return current
    keep = previous.filter(pl.col(SOURCE).is_in(sorted(sources))).join(current.select(SOURCE, SOURCE_KEY), on=[SOURCE, SOURCE_KEY], how="anti")
    if keep.is_empty():
        return current
    start = (current.get_column(RID).max() or 0) + 1 if current.height else 0
    keep = keep.drop(RID, strict=False).with_columns(pl.int_range(start, start + keep.height, dtype=pl.Int64).alias(RID), pl.lit(True).alias(CARRIED))
    return pl.concat([current, keep.select([c for c in current.columns if c in keep.columns])], how="diagonal_relaxed")


def golden_records(clustered: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(golden, members). Golden: one row per target_id, each field the first non-null value in
    survivorship order over all members (carried ones too), with `provenance` (JSON: field -> source:key
    it came from) and `current_members` (records read in this run). Members: `_survivor` is true for
    the best record read in this run (it is `loaded`), false for the others (`merged`)."""
    if CARRIED not in clustered.columns:
        clustered = clustered.with_columns(pl.lit(False).alias(CARRIED))
    ordered = survivorship_order(clustered)
    origin = pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY)
    aggs = []
    usable = pl.col("credit_code_status").is_in(["valid", "repaired"])
    for f in GOLDEN_FIELDS:
        if f in ("credit_code", "credit_code_status"):  # a valid code wins over an invalid one, whatever the source rank
            aggs.append(pl.coalesce(pl.col(f).filter(usable).first(), pl.col(f).drop_nulls().first()).alias(f))
            aggs.append(pl.coalesce(origin.filter(usable).first(), origin.filter(pl.col(f).is_not_null()).first()).alias(f"__from_{f}"))
            continue
        aggs.append(pl.col(f).drop_nulls().first().alias(f))
        aggs.append(origin.filter(pl.col(f).is_not_null()).first().alias(f"__from_{f}"))
    current = ~pl.col(CARRIED)
    aggs += [pl.len().alias("member_count"), current.sum().alias("current_members"), origin.filter(current).first().alias("survivor"),
             pl.col(RID).filter(current).first().alias("__survivor_rid")]
    golden = ordered.group_by("target_id", maintain_order=True).agg(aggs)
    provenance = pl.struct([pl.col(f"__from_{f}").alias(f) for f in GOLDEN_FIELDS]).struct.json_encode()
    golden = golden.with_columns(provenance.alias("provenance")).drop([f"__from_{f}" for f in GOLDEN_FIELDS])
    survivors = golden.filter(pl.col("__survivor_rid").is_not_null()).select(pl.col("__survivor_rid").alias(RID), pl.lit(True).alias("_survivor"))
    members = clustered.join(survivors, on=RID, how="left").with_columns(pl.col("_survivor").fill_null(False))
    members = members.join(golden.select("target_id", pl.col("survivor").alias("_survivor_ref")), on="target_id", how="left")
    return golden.drop("__survivor_rid").sort("target_id"), members
