#!/usr/bin/env python3
"""Standardize generated customer rows with every rule on: wall time per rule and peak RSS.

    python bench/standardize.py                  # 1,000,000 customer rows
    python bench/standardize.py --rows 200000

Rows come from the data generator's legacy CRM table (realistic variants, errors and repeats),
repeated with fresh keys until the row count is reached.
"""
from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def source_rows(rows: int):
    """`rows` generated legacy CRM customer rows as a polars frame of text."""
    import polars as pl

    from data_samples.generate import generate

    entities = max(2000, rows // 2)
    work = Path(tempfile.mkdtemp(prefix="crm-bench-std-"))
    generate(entities, 11, work)
    con = sqlite3.connect(work / "legacy_crm.sqlite")
    cur = con.execute("SELECT * FROM t_customer")
    names = [d[0] for d in cur.description]
    base = pl.DataFrame(cur.fetchall(), schema=names, orient="row").with_columns(pl.all().cast(pl.String))
    repeats = -(-rows // base.height)
    frame = pl.concat([base] * repeats).head(rows)
    return frame.with_columns(
        pl.lit("legacy_crm").alias("_source"), pl.int_range(1, rows + 1).cast(pl.String).alias("_source_key"),
        pl.int_range(1, rows + 1).alias("_row"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    raw = source_rows(args.rows)
    print(f"generated {raw.height:,} rows in {time.perf_counter() - t0:.1f} s")

    from pipelines.config import load_config
    from transforms.standardize import SourceMappingSpec, standardize

    loaded = load_config(ROOT / "data_samples" / "demo.yaml")
    m = loaded.source_mappings["legacy_crm"]
    spec = SourceMappingSpec(m.columns, m.constants, m.day_first, {f: vm.lookup() for f, vm in loaded.value_maps["legacy_crm"].items()})
    t = time.perf_counter()
    out, stats = standardize(raw, "customer", "legacy_crm", spec)
    wall = time.perf_counter() - t
    print(f"\n{'rule':<22}{'values':>12}{'changed':>12}{'flagged':>10}{'seconds':>10}")
    for s in stats:
        print(f"{s.rule:<22}{s.values:>12,}{s.changed:>12,}{s.flagged:>10,}{s.seconds:>10.2f}")
    print(f"\nstandardized {out.height:,} rows in {wall:.1f} s ({out.height / wall:,.0f} rows/s); goal < 60 s")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB; goal < 3,000 MB")


if __name__ == "__main__":
    main()
