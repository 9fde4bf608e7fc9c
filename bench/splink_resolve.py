#!/usr/bin/env python3
"""Deduplicate customer match features with Splink 5 (DuckDB), as a yardstick for our resolver.

    python bench/splink_resolve.py FEATURES.parquet [--clusters OUT.parquet] [--threshold 0.99]

FEATURES.parquet has one row per customer record: unique_id plus the m_* match features that
transforms/match_features.py builds. The model mirrors transforms/match_model.py and
transforms/blocking.py:

- comparisons (null -> no evidence, like our level -1): identifier (the first of credit code,
  organization code, registration number that both records carry decides), brand (exact, same
  pinyin, same characters or Jaro-Winkler >= 0.9, Jaro-Winkler >= 0.8), trade (same, one contains
  the other), form, city, phone, email (exact, then same company mail domain), address (exact,
  Jaro-Winkler >= 0.9 / 0.8), contact. Exact levels of brand, phone, email and address get
  term-frequency adjustments, as TERM_FREQUENCY does in our model;
- our blocking rules (Splink has no block size cap, so big blocks are compared in full);
- training without labels: lambda from same credit code (recall 0.7), u from random pairs, m by EM
  on two blockings (brand+city, phone). Our hard rules (vetoes) have no Splink counterpart and are
  left out.

Pairs scoring >= 0.5 are kept, then clustered by connected components at --threshold. The last line
printed is one JSON object: records, seconds (Splink work from building the linker through
clustering, not reading the parquet), peak_rss_mb, pairs (scored pairs), clusters.
"""
from __future__ import annotations

import argparse
import json
import logging
import resource
import time

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

BLOCKING = [["m_code"], ["m_org"], ["m_reg"], ["m_phone"], ["m_email"], ["m_address"], ["m_street"], ["m_brand", "m_city"],
            ["m_pinyin", "m_city"], ["m_chars", "m_city"], ["m_brand", "m_trade"], ["m_brand"]]


def both(c: str) -> str:
    return f"({c}_l IS NOT NULL AND {c}_r IS NOT NULL)"


def comparisons() -> list:
    identifier = cl.CustomComparison(output_column_name="identifier", comparison_levels=[
        cll.CustomLevel(f"NOT ({both('m_code')} OR {both('m_org')} OR {both('m_reg')})", "no shared identifier kind")
        .configure(is_null_level=True),
        cll.CustomLevel(f"CASE WHEN {both('m_code')} THEN m_code_l = m_code_r WHEN {both('m_org')} THEN m_org_l = m_org_r "
                        "ELSE m_reg_l = m_reg_r END", "same identifier"),
        cll.ElseLevel(),
    ])
    brand = cl.CustomComparison(output_column_name="brand", comparison_levels=[
        cll.NullLevel("m_brand"),
        cll.ExactMatchLevel("m_brand", term_frequency_adjustments=True),
        cll.ExactMatchLevel("m_pinyin"),
        cll.Or(cll.ExactMatchLevel("m_chars"), cll.JaroWinklerLevel("m_brand", 0.9)),
        cll.JaroWinklerLevel("m_brand", 0.8),
        cll.ElseLevel(),
    ])
    trade = cl.CustomComparison(output_column_name="trade", comparison_levels=[
        cll.NullLevel("m_trade"),
        cll.ExactMatchLevel("m_trade"),
        cll.CustomLevel("contains(m_trade_l, m_trade_r) OR contains(m_trade_r, m_trade_l)", "one contains the other"),
        cll.ElseLevel(),
    ])
    email = cl.CustomComparison(output_column_name="email", comparison_levels=[
        cll.NullLevel("m_email"),
        cll.ExactMatchLevel("m_email", term_frequency_adjustments=True),
        cll.ExactMatchLevel("m_mail_domain"),
        cll.ElseLevel(),
    ])
    return [identifier, brand, trade, cl.ExactMatch("m_form"), cl.ExactMatch("m_city"),
            cl.ExactMatch("m_phone").configure(term_frequency_adjustments=True), email,
            cl.CustomComparison(output_column_name="address", comparison_levels=[
                cll.NullLevel("m_address"),
                cll.ExactMatchLevel("m_address", term_frequency_adjustments=True),
                cll.ExactMatchLevel("m_street"),
                cll.JaroWinklerLevel("m_address", 0.9),
                cll.JaroWinklerLevel("m_address", 0.8),
                cll.ElseLevel(),
            ]),
            cl.ExactMatch("m_contact")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("features")
    ap.add_argument("--clusters", help="write (unique_id, cluster_id) to this parquet")
    ap.add_argument("--threshold", type=float, default=0.99)
    args = ap.parse_args()

    con = duckdb.connect()
    con.sql("SET threads TO 2")
    con.sql("CREATE TABLE features AS SELECT * EXCLUDE (record) FROM read_parquet($p)", params={"p": args.features})
    records = con.sql("SELECT count(*) FROM features").fetchall()[0][0]

    start = time.perf_counter()
    db_api = DuckDBAPI(connection=con)
    settings = SettingsCreator(link_type="dedupe_only", comparisons=comparisons(),
                               blocking_rules_to_generate_predictions=[block_on(*r) for r in BLOCKING],
                               retain_matching_columns=False)
    linker = Linker(db_api.register("features"), settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match([block_on("m_code")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("m_brand", "m_city"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("m_phone"))
    pairs = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs, threshold_match_probability=args.threshold)
    n_pairs = con.sql(f"SELECT count(*) FROM {pairs.physical_name}").fetchall()[0][0]
    n_clusters = con.sql(f"SELECT count(DISTINCT cluster_id) FROM {clusters.physical_name}").fetchall()[0][0]
    seconds = time.perf_counter() - start

    if args.clusters:
        con.sql(f"COPY (SELECT unique_id, cluster_id FROM {clusters.physical_name} ORDER BY unique_id) "
                f"TO '{args.clusters}' (FORMAT parquet)")
    print(json.dumps({"records": records, "seconds": round(seconds, 2),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "pairs": n_pairs, "clusters": n_clusters}))


if __name__ == "__main__":
    main()
