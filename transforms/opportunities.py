"""Opportunities: attach each to its golden customer, then find duplicate opportunities.

A sales sheet names the customer the way its author says it (深圳品创, 品创电子科技, the name without
its region): after the exact lookups, the name is parsed like a customer name and matched on its
brand (字号, or its pinyin), with the city, trade and branch it states, against the golden
customers' records; it links only when one golden customer fits, else it is rejected naming the
candidates. Duplicate deals (the same deal in the CRM and the sheet, or typed twice) are the same
customer and amount with similar names and close dates within a window; a renewal a year later is
another deal.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from crm_migrate.contracts import (CANONICAL, FLAGS, MATCHED_BY_BRAND, MATCHED_WITHOUT_REGION, OPPORTUNITY, OTHER_CUSTOMERS_FIT, REJECT, RID, ROW,
                                   SOURCE, SOURCE_KEY)
from crm_migrate.flags import add_flag
from transforms.clustering import components
from transforms.distinct import map_distinct
from transforms.ids import stable_id
from transforms.match_features import pinyin_of, region_levels
from transforms.names import parse_company, to_simplified

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


def _parsed_customer_name(raw: str | None) -> tuple:
    p = parse_company(raw)
    if p is None:
        return None, None, None, None
    return p.brand, region_levels(p.region)[0], p.trade_key, p.branch or ""


def _said(records: pl.DataFrame, column: str, asked: str, name: str) -> pl.DataFrame:
    """(target_id, value, True) for each value some record of the customer holds in `column`."""
    return records.select("target_id", pl.col(column).alias(asked)).drop_nulls().unique().with_columns(pl.lit(True).alias(name))


def match_by_brand(opps: pl.DataFrame, members: pl.DataFrame, neighbours: dict[str, list[str]] | None = None) -> pl.DataFrame:
    """For opportunities named by a customer name: (RID, __by_brand, __n_brand, __brand_candidates).

    Candidates are golden customers with a record of the same brand (or the same pinyin). A golden
    customer is judged on all its records: it fits when the city, trade and branch the name states
    agree with what its records say (a customer whose records name no city fits any city). Among
    those that fit, the best is chosen only when it is the only best: the same brand beats the same
    pinyin (和智集团 is 和智集团有限公司, not 合智信息技术), and each stated detail a customer
    confirms (its city, its trade) counts. When several are equally good and exactly one has a
    record in a customer source read from the same file as the opportunity (the customer sheet next
    to the deals sheet), that one is meant. Otherwise none: the deal is rejected naming them."""
    named = opps.filter(pl.col("customer_name").is_not_null()).select(RID, "customer_name")
    if named.is_empty() or members.is_empty():
        return pl.DataFrame(schema={RID: pl.Int64, "__by_brand": pl.String, "__n_brand": pl.UInt32, "__brand_candidates": pl.String})
    named = map_distinct(named, "customer_name", _parsed_customer_name,
                         {"q_brand": pl.String(), "q_city": pl.String(), "q_trade": pl.String(), "q_branch": pl.String()})
    named = pinyin_of(named, "q_brand", "q_pinyin")
    named = named.join(opps.select(RID, pl.col(SOURCE).alias("q_source")), on=RID, how="left")
    # members come from resolve_customers, which keeps the features a customer is looked up by.
    records = members.select("target_id", "m_brand", "m_pinyin", "m_city", "m_trade", "m_branch", pl.col(SOURCE).alias("m_source"))
    keys = records.select("target_id", "m_brand", "m_pinyin").unique()
    by_brand = named.join(keys, left_on="q_brand", right_on="m_brand", how="inner").select(RID, "target_id", pl.lit(True).alias("__exact"))
    by_pinyin = named.join(keys, left_on="q_pinyin", right_on="m_pinyin", how="inner").select(RID, "target_id", pl.lit(False).alias("__exact"))
    pairs = pl.concat([by_brand, by_pinyin]).group_by(RID, "target_id").agg(pl.col("__exact").any())
    # What each candidate customer's records say, all of them (not only the record that matched), as
    # (customer, value) tables joined on the pair: a brand shared by hundreds of customers makes
    # millions of pairs, and a list of cities, trades and sources on each would take gigabytes.
    pairs = pairs.join(named.select(RID, "q_city", "q_trade", "q_branch", "q_source"), on=RID)
    known = records.group_by("target_id").agg(pl.col("m_city").is_not_null().any().alias("__city_known"),
                                              pl.col("m_trade").is_not_null().any().alias("__trade_known"))
    pairs = pairs.join(known, on="target_id")
    pairs = pairs.join(_said(records, "m_city", "q_city", "__city_said"), on=["target_id", "q_city"], how="left")
    pairs = pairs.join(_said(records, "m_branch", "q_branch", "__branch_said"), on=["target_id", "q_branch"], how="left")
    trades = records.select("target_id", pl.col("m_trade").alias("__t")).drop_nulls().unique()
    exploded = pairs.select(RID, "target_id", "q_trade").filter(pl.col("q_trade").is_not_null()).join(trades, on="target_id")
    compatible = exploded.filter(pl.col("q_trade").str.contains(pl.col("__t"), literal=True) | pl.col("__t").str.contains(pl.col("q_trade"), literal=True))
    compatible = compatible.select(RID, "target_id").unique().with_columns(pl.lit(True).alias("__trade_ok"))
    pairs = pairs.join(compatible, on=[RID, "target_id"], how="left")
    pairs = pairs.with_columns(pl.col("__trade_ok", "__city_said", "__branch_said").fill_null(False))
    city_said = pl.col("__city_said")
    fits = ((pl.col("q_city").is_null() | ~pl.col("__city_known") | city_said)
            & (pl.col("q_trade").is_null() | ~pl.col("__trade_known") | pl.col("__trade_ok"))
            & pl.col("__branch_said"))
    score = (pl.col("__exact").cast(pl.Int32) * 2 + city_said.cast(pl.Int32) + (pl.col("q_trade").is_not_null() & pl.col("__trade_ok")).cast(pl.Int32))
    fitting = pairs.filter(fits).with_columns(score.alias("__score"))
    near_of = [(o, c) for o, cs in (neighbours or {}).items() for c in cs]
    if near_of:  # a customer with a record in a source read from the opportunity's file
        near = pl.DataFrame(near_of, schema={"q_source": pl.String, "m_source": pl.String}, orient="row")
        near = records.select("target_id", "m_source").unique().join(near, on="m_source").select("target_id", "q_source").unique()
        fitting = fitting.join(near.with_columns(pl.lit(True).alias("__near")), on=["target_id", "q_source"], how="left")
        is_near = pl.col("__near").fill_null(False)
    else:
        is_near = pl.lit(False)
    fitting = fitting.with_columns(is_near.alias("__near"), (pl.col("__score") == pl.col("__score").max().over(RID)).alias("__top"))
    top = pl.col("target_id").filter(pl.col("__top"))
    near_top = pl.col("target_id").filter(pl.col("__top") & pl.col("__near"))
    out = fitting.group_by(RID).agg(top.n_unique().alias("__n_top"), top.min().alias("__by_top"), near_top.n_unique().alias("__n_near"),
                                    near_top.min().alias("__by_near"), pl.col("target_id").n_unique().alias("__n_brand"),
                                    pl.col("target_id").unique().sort().head(5).str.join(", ").alias("__brand_candidates"))
    return out.select(
        RID,
        pl.when(pl.col("__n_top") == 1).then(pl.col("__by_top")).when(pl.col("__n_near") == 1).then(pl.col("__by_near")).alias("__by_brand"),
        pl.when((pl.col("__n_top") == 1) | (pl.col("__n_near") == 1)).then(pl.lit(1, dtype=pl.UInt32)).otherwise(pl.col("__n_top").cast(pl.UInt32)).alias("__n_brand"),
        "__brand_candidates",
    )


def link_opportunities(
    opps: pl.DataFrame,
    customer_keys: pl.DataFrame,
    members: pl.DataFrame,
    customer_source_of: dict[str, str | None],
    neighbours: dict[str, list[str]] | None = None,
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
    opps = opps.join(match_by_brand(opps, members, neighbours), on=RID, how="left", maintain_order="left", validate="1:1")
    by_key = pl.col("__cust_source").is_not_null() & pl.col("customer_source_key").is_not_null()
    region_less = pl.col("customer_name_key").str.starts_with("|")
    unique_full = pl.col("__n") == 1
    # The region-less core is for names that state no region: 成都新汇 must not find 重庆新汇 by 新汇.
    unique_core = (pl.col("__n_core") == 1) & region_less
    # A name that states no region (宇创医药有限公司, 新荣物流) equal to one customer's record, while its
    # brand fits other customers too (宇创医药 of 南京 and of 杭州): that record is most often the
    # customer meant, but it may be the other company's name written short. Linked, and flagged for a look.
    others_fit = region_less & (pl.col("__n_brand") > 1).fill_null(False)
    exact = (unique_full | (pl.col("__n").is_null() & unique_core)).fill_null(False)
    by_brand = (~by_key & ~exact & (pl.col("__n_brand") == 1)).fill_null(False)
    linked = (
        pl.when(by_key).then(pl.when(pl.col("__n_keyed") == 1).then(pl.col("__by_key")))
        .when(unique_full).then(pl.col("__by_name"))
        .when(pl.col("__n").is_null() & unique_core).then(pl.col("__by_core"))
        .when(by_brand).then(pl.col("__by_brand"))
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
        .when(linked.is_not_null()).then(None)
        .when(pl.col("__n_brand") > 1).then(pl.format("customer name '{}' fits {} customers ({}): the opportunity cannot tell which",
                                                      pl.col("customer_name"), pl.col("__n_brand"), pl.col("__brand_candidates")))
        .when(pl.col("__n") > 1).then(pl.format("customer name '{}' matches {} customers", pl.col("customer_name"), pl.col("__n")))
        .when(pl.col("__n").is_null() & (pl.col("__n_core") > 1)).then(pl.format("customer name '{}' (no region) matches {} customers", pl.col("customer_name"), pl.col("__n_core")))
        .when(linked.is_null()).then(pl.format("customer '{}' not found among migrated customers", pl.col("customer_name")))
    )
    opps = opps.with_columns(linked.alias("customer_target_id"), reason.alias(LINK_REASON))
    opps = add_flag(opps, ~by_key & pl.col("__n").is_null() & unique_core, MATCHED_WITHOUT_REGION)
    opps = add_flag(opps, by_brand, MATCHED_BY_BRAND)
    opps = add_flag(opps, ~by_key & (unique_full | (pl.col("__n").is_null() & unique_core)) & others_fit, OTHER_CUSTOMERS_FIT)
    return opps.drop("__cust_source", "__by_key", "__cust_reject", "__n_keyed", "__candidates", "__n", "__by_name", "__core",
                     "__n_core", "__by_core", "__by_brand", "__n_brand", "__brand_candidates")


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


@dataclass
class DealMatching:
    """When two opportunity records are one deal: same golden customer and amount, names at least
    `name_similarity` alike (0-100, rapidfuzz; the numbers in them equal: 1期 is not 2期), expected
    close dates at most `close_date_window_days` apart (a renewal a year later is another deal)."""
    name_similarity: float = 85.0
    close_date_window_days: int = 45


DUP_REASON = "__duplicate_reason"
CHINESE_DIGITS = {"一": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}


def _name_similarity(a: list[str], b: list[str]) -> np.ndarray:
    whole = process.cpdist(a, b, scorer=fuzz.ratio, workers=-1, dtype=np.float32)
    part = process.cpdist(a, b, scorer=fuzz.partial_ratio, workers=-1, dtype=np.float32)
    return np.maximum(whole, part)


def dedupe_opportunities(linked: pl.DataFrame, settings: DealMatching | None = None) -> pl.DataFrame:
    """Add `target_id`, `_survivor` and `__duplicate_reason`. Deals found to be one (see DealMatching)
    take the id of the most trusted record (source priority, then source and key), which survives;
    the others are merged into it."""
    settings = settings or DealMatching()
    df = linked.with_columns(stable_id("OPP-", pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY)).alias("__own_id"),
                             pl.int_range(pl.len(), dtype=pl.Int64).alias("__p"))
    # Width folded (（二期） = (二期)), spaces out; the numbers a name holds, Chinese numerals too
    # (第二批 is not the first batch, 3期 not 2期).
    df = df.with_columns(pl.col("name").fill_null("").str.normalize("NFKC").str.replace_all(r"\s+", "").alias("__name"))
    df = map_distinct(df, "__name", lambda v: (to_simplified(v),), {"__name": pl.String()})  # 環保設備 = 环保设备
    df = df.with_columns(pl.col("__name").str.replace_many(list(CHINESE_DIGITS), list(CHINESE_DIGITS.values()))
                         .str.extract_all(r"\d+").list.join(",").alias("__numbers"))
    block = df.filter(pl.col("customer_target_id").is_not_null() & pl.col("amount").is_not_null()).select(
        "__p", "customer_target_id", "amount", "__name", "__numbers", "expected_close_date")
    pairs = block.join(block, on=["customer_target_id", "amount"], suffix="_b").filter(pl.col("__p") < pl.col("__p_b"))
    if pairs.height:
        sim = _name_similarity(pairs["__name"].to_list(), pairs["__name_b"].to_list())
        digits_a, digits_b = pairs["__numbers"], pairs["__numbers_b"]
        gap = (pairs["expected_close_date"] - pairs["expected_close_date_b"]).dt.total_days().abs()
        same_deal = (pl.Series(sim >= settings.name_similarity) & (digits_a == digits_b)
                     & (gap.fill_null(0) <= settings.close_date_window_days)
                     & (gap.is_not_null() | (pairs["__name"] == pairs["__name_b"])))
        pairs = pairs.filter(same_deal)
    labels = components(df.height, pairs["__p"].to_numpy().astype(np.int64), pairs["__p_b"].to_numpy().astype(np.int64)) if pairs.height else np.arange(df.height)
    df = df.with_columns(pl.Series("__deal", labels))
    ordered = df.sort(["_priority", SOURCE, SOURCE_KEY])
    first = ordered.group_by("__deal", maintain_order=True).agg(pl.col("__own_id").first().alias("target_id"), pl.col(RID).first().alias("__first"))
    df = df.join(first, on="__deal", how="left", maintain_order="left", validate="m:1")
    reason = pl.format("duplicate of {} (same customer and amount, similar name, close date within {} days)",
                       pl.col("target_id"), pl.lit(settings.close_date_window_days))
    df = df.with_columns((pl.col(RID) == pl.col("__first")).alias("_survivor"))
    df = df.with_columns(pl.when(~pl.col("_survivor")).then(reason).alias(DUP_REASON))
    return df.drop("__own_id", "__first", "__p", "__name", "__numbers", "__deal")


def resolve_opportunities(opps: pl.DataFrame, customer_keys: pl.DataFrame, members: pl.DataFrame,
                          customer_source_of: dict[str, str | None], deals: DealMatching | None = None,
                          neighbours: dict[str, list[str]] | None = None) -> pl.DataFrame:
    """Every opportunity, once: linked to its golden customer (or `__link_reason`), records sharing a
    key with different content marked (`__collision_reason`), and the rest de-duplicated (`target_id`,
    `_survivor`; both null for the opportunities that will be rejected)."""
    linked = link_opportunities(opps, customer_keys, members, customer_source_of, neighbours)
    ok = key_collisions(linked.filter(pl.col(REJECT).is_null() & pl.col(LINK_REASON).is_null()))
    linked = linked.join(ok.select(RID, COLLISION, pl.col(FLAGS).alias("__flags_ok")), on=RID, how="left", validate="1:1")
    linked = linked.with_columns(pl.coalesce("__flags_ok", FLAGS).alias(FLAGS)).drop("__flags_ok")
    deduped = dedupe_opportunities(ok.filter(pl.col(COLLISION).is_null()), deals)
    return linked.join(deduped.select(RID, "target_id", "_survivor", DUP_REASON), on=RID, how="left", validate="1:1")
