#!/usr/bin/env python3
"""Resolution speed: N generated customer records through crm-migrate's resolution and, on the same
records, through Splink 5 with an equivalent model (bench/splink_resolve.py), each in a fresh process.

    python bench/resolve_speed.py --records 1000000 --json
    python bench/resolve_speed.py --records 200000 --no-splink

The records are generated (data_samples/generate.py), extracted and standardized once and cached
under /tmp (not timed). Timed: crm-migrate's resolve_customers (features, blocking, scoring, EM,
clustering, golden ids) from canonical records to clusters; Splink from its feature columns to
clusters. Peak RSS is each child process's maximum resident set. The last line (with --json) is one
JSON object: records, seconds, peak_rss_mb, splink_seconds, splink_peak_rss_mb.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RECORDS_PER_COMPANY = 1.38  # what the generator makes on average


def prepare(records: int, seed: int) -> Path:
    """Canonical customer records (about `records` of them) as parquet, and their Splink features."""
    work = Path(f"/tmp/crm-speed-{records}-{seed}")
    out = work / "customers.parquet"
    if out.exists():
        return work
    import polars as pl

    from bench.resolve_accuracy import generated_config
    from pipelines import stages
    from pipelines.context import start_run
    from transforms.match_features import FEATURES, match_features

    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    config = generated_config(int(records / RECORDS_PER_COMPANY), seed, work)
    ctx = start_run(config, dry_run=True, out=work / "out", target_url=f"sqlite:///{work / 't.sqlite'}")
    canonical = stages.standardize(ctx, stages.extract(ctx))
    customers = canonical.frames["customer"].filter(pl.col("_quarantine").is_null())
    customers.write_parquet(out)
    features = match_features(customers).with_row_index("unique_id").select(
        "unique_id", (pl.col("_source") + ":" + pl.col("_row").cast(pl.String)).alias("record"), *FEATURES)
    features.write_parquet(work / "features.parquet")
    print(f"prepared {customers.height:,} records in {time.perf_counter() - t:.0f} s -> {work}", file=sys.stderr)
    return work


def ours(path: Path) -> dict:
    """Run in the child: resolve the records, report time and peak memory."""
    import resource

    import polars as pl

    from transforms.resolve import resolve_customers

    customers = pl.read_parquet(path).rechunk()  # as the pipeline hands them over: one chunk per column
    t = time.perf_counter()
    result = resolve_customers(customers)
    seconds = time.perf_counter() - t
    return {"records": customers.height, "seconds": round(seconds, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "pairs": result.pairs.height, "clusters": result.clustered["target_id"].n_unique()}


def child(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-splink", action="store_true", help="time crm-migrate only")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(ours(args.child)))
        return
    if args.prepare_only:
        print(json.dumps({"work": str(prepare(args.records, args.seed))}))
        return
    # Preparing runs in a child too: Linux carries a process's peak RSS across exec, so a parent that
    # had prepared a million records would hand its own peak to the timed children.
    work = Path(child([__file__, "--prepare-only", "--records", str(args.records), "--seed", str(args.seed)])["work"])
    mine = child([__file__, "--child", str(work / "customers.parquet")])
    result = {"records": mine["records"], "seconds": mine["seconds"], "peak_rss_mb": mine["peak_rss_mb"],
              "splink_seconds": None, "splink_peak_rss_mb": None}
    if not args.no_splink:
        theirs = child([str(ROOT / "bench" / "splink_resolve.py"), str(work / "features.parquet")])
        result |= {"splink_seconds": theirs["seconds"], "splink_peak_rss_mb": theirs["peak_rss_mb"]}
        print(f"splink: {theirs}", file=sys.stderr)
    print(f"crm-migrate: {mine}", file=sys.stderr)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
