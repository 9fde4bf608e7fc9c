"""Score a resolution against ground truth: pairwise and cluster metrics, and the merges that must
never happen. Used by bench/resolve_accuracy.py and by the end-to-end tests, so both measure alike.

Inputs are plain frames: `predicted` (record, cluster) and `truth` (record, entity), joined on
`record`; records absent from `predicted` (rejected by validation) are left out of both sides.
"""
from __future__ import annotations

import polars as pl


def _pairs(sizes: pl.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise(predicted: pl.DataFrame, truth: pl.DataFrame) -> dict:
    """Pairwise precision / recall / F1 and cluster F1 (a cluster counts when it equals a true
    entity exactly) over the records in both frames."""
    df = predicted.join(truth, on="record", how="inner")
    tp = _pairs(df.group_by("cluster", "entity").len()["len"])
    pred = _pairs(df.group_by("cluster").len()["len"])
    true = _pairs(df.group_by("entity").len()["len"])
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    members = lambda key: df.group_by(key).agg(pl.col("record").sort().str.join(",").alias("m"))["m"]  # noqa: E731
    pred_sets, true_sets = set(members("cluster").to_list()), set(members("entity").to_list())
    exact = len(pred_sets & true_sets)
    cp, cr = exact / len(pred_sets) if pred_sets else 1.0, exact / len(true_sets) if true_sets else 1.0
    return {"pairwise_precision": round(precision, 5), "pairwise_recall": round(recall, 5), "pairwise_f1": round(f1, 5),
            "cluster_f1": round(2 * cp * cr / (cp + cr), 5) if cp + cr else 0.0, "records": df.height,
            "true_pairs": true, "predicted_pairs": pred, "true_positive_pairs": tp}


def false_merges(predicted: pl.DataFrame, truth: pl.DataFrame) -> dict:
    """Clusters holding records of different entities, by kind: different cities, a branch with its
    head office, sister companies. truth: record, entity, and optionally head_office, city, sister_of."""
    df = predicted.join(truth, on="record", how="inner")
    mixed = df.group_by("cluster").agg(pl.col("entity").unique().alias("entities")).filter(pl.col("entities").list.len() > 1)
    entities = df.unique("entity").select([c for c in ("entity", "head_office", "city", "sister_of") if c in df.columns])
    out = {"false_merge_clusters": mixed.height}
    pairs = (mixed.with_columns(pl.col("entities").alias("b")).explode("entities").explode("b")
             .filter(pl.col("entities") < pl.col("b")).rename({"entities": "a"}))
    pairs = pairs.join(entities.rename(lambda c: f"{c}_a"), left_on="a", right_on="entity_a").join(
        entities.rename(lambda c: f"{c}_b"), left_on="b", right_on="entity_b")
    if "head_office_a" in pairs.columns:
        out["branch_head_office_merges"] = pairs.filter((pl.col("head_office_a") == pl.col("b")) | (pl.col("head_office_b") == pl.col("a"))).height
    if "city_a" in pairs.columns:
        out["different_city_merges"] = pairs.filter(pl.col("city_a") != pl.col("city_b")).height
    if "sister_of_a" in pairs.columns:
        out["sister_company_merges"] = pairs.filter((pl.col("sister_of_a") == pl.col("b")) | (pl.col("sister_of_b") == pl.col("a"))).height
    return out


def recall_by(predicted: pl.DataFrame, truth: pl.DataFrame, column: str) -> dict:
    """Per value of `column` (the variation a record carries): the share of such records that share
    their cluster with the entity's primary record (the one with the largest group of its entity)."""
    df = predicted.join(truth, on="record", how="inner")
    home = df.group_by("entity", "cluster").len().sort(["len", "cluster"], descending=[True, False]).unique("entity", keep="first", maintain_order=True).select("entity", pl.col("cluster").alias("home"))
    sized = df.group_by("entity").len().filter(pl.col("len") > 1).select("entity")
    df = df.join(sized, on="entity").join(home, on="entity")
    return {k: round(v, 3) for k, v in df.group_by(column).agg((pl.col("cluster") == pl.col("home")).mean()).sort(column).rows()}
