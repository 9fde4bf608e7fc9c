"""What resolution did, in numbers a steering committee reads: clusters by size, what evidence merged
records, how many pairs wait for a person, and how the scored pairs spread over the match probability.
Pure functions over the run's frames; the manifest keeps the result and report.html draws it."""
from __future__ import annotations

import polars as pl

from crm_migrate.contracts import CUSTOMER, MERGED, ROW, SOURCE, SOURCE_KEY

# `_match` of a clustered record (transforms/resolve.py) -> words for the report.
MATCH_KINDS = {"identifier": "same credit code / registration no.", "probabilistic": "match model (name, phone, address)",
               "duplicate": "identical record, one source", "reviewer": "reviewer's decision", "none": "other"}
SIZE_BUCKETS = ("1", "2", "3", "4", "5-9", "10+")


def size_bucket(size: pl.Expr) -> pl.Expr:
    return (pl.when(size >= 10).then(pl.lit("10+")).when(size >= 5).then(pl.lit("5-9")).otherwise(size.cast(pl.String)))


def clusters_by_size(golden: pl.DataFrame) -> dict[str, int]:
    """Golden customers per number of source records merged into them (1: a record nobody duplicated)."""
    if not golden.height:
        return {}
    counts = dict(golden.group_by(size_bucket(pl.col("member_count")).alias("size")).len().rows())
    return {b: counts.get(b, 0) for b in SIZE_BUCKETS if counts.get(b, 0)}


def merged_by_evidence(ledger: pl.DataFrame, members: pl.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    """The ledger's merged customer records by the kind of evidence that joined them, and for the
    model's merges by their strongest comparison (`identifier`, `phone` ...). Counted from the ledger,
    so the figures are the ledger's `merged` (a repeated source key is told apart by its row)."""
    if not members.height or "_match" not in members.columns or not ledger.height:
        return {}, {}
    merged = (ledger.filter((pl.col("entity") == CUSTOMER) & (pl.col("disposition") == MERGED))
              .join(members.select(pl.col(SOURCE).alias("source"), pl.col(SOURCE_KEY).alias("source_key"), pl.col(ROW).alias("source_row"),
                                   "_match", "_match_evidence"), on=["source", "source_key", "source_row"], how="left"))
    kinds = dict(merged.group_by(pl.col("_match").fill_null("none")).len().sort(["len", "_match"], descending=[True, False]).rows())
    strongest = (merged.filter(pl.col("_match") == "probabilistic")
                 .select(pl.col("_match_evidence").str.extract(r":\s*([^\s+,]+)", 1).fill_null("?").alias("comparison"))
                 .group_by("comparison").len().sort(["len", "comparison"], descending=[True, False]))
    return {MATCH_KINDS.get(k, k): n for k, n in kinds.items()}, dict(strongest.rows())


def probability_histogram(pairs: pl.DataFrame, bins: int = 20) -> dict:
    """Scored candidate pairs per match-probability bin (bins of equal width over 0..1; 1.0 falls in the last)."""
    edges = [i / bins for i in range(bins + 1)]
    if not pairs.height or "match_probability" not in pairs.columns:
        return {"edges": edges, "counts": [0] * bins}
    index = (pl.col("match_probability").clip(0, 1) * bins).floor().cast(pl.Int64).clip(0, bins - 1)
    found = dict(pairs.select(index.alias("bin")).group_by("bin").len().rows())
    return {"edges": edges, "counts": [found.get(i, 0) for i in range(bins)]}


def summarize(golden: pl.DataFrame, members: pl.DataFrame, ledger: pl.DataFrame, pairs: pl.DataFrame, review_pairs: int,
              auto_merge: float | None, review: float | None) -> dict:
    """The resolution summary of a run (manifest `resolution`, report.html)."""
    kinds, strongest = merged_by_evidence(ledger, members)
    refused = (dict(pairs.filter(pl.col("hard_rule").is_not_null()).group_by("hard_rule").len().sort("len", descending=True).rows())
               if pairs.height and "hard_rule" in pairs.columns else {})
    return {"golden_customers": golden.height, "records_clustered": members.height,
            "records_merged": sum(kinds.values()), "clusters_by_size": clusters_by_size(golden),
            "merged_by_evidence": kinds, "model_merges_by_strongest_comparison": strongest,
            "review_pairs": review_pairs, "pairs_scored": pairs.height, "pairs_refused_by_rule": refused,
            "probability_histogram": probability_histogram(pairs),
            "thresholds": {"auto_merge": auto_merge, "review": review}}
