#!/usr/bin/env python3
"""Validation speed: N canonical customer records against the bundled customer suite
(expectations/suites/customer_canonical.json: 14 expectations, 6 of them crm-migrate's own), through
the same path a run takes: GX on the suite file, every failing row by id, quarantine.

    python bench/validate.py --records 1000000 --json

The records are generated, extracted and standardized once and cached under /tmp by
bench/resolve_speed.py (not timed). Timed, in a fresh process: importing Great Expectations (once),
run_suite, violations and quarantine. Peak RSS is that process's maximum resident set. The last line
(with --json) is one JSON object: records, expectations, seconds, validate_seconds, peak_rss_mb,
rejected, flagged, gx_contexts.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SUITE = ROOT / "expectations" / "suites" / "customer_canonical.json"


def measure(path: Path) -> dict:
    import resource

    import polars as pl

    from crm_migrate.contracts import FLAGS, QUARANTINE, REJECT, RID

    frame = pl.read_parquet(path).rechunk()
    frame = frame.drop(RID, strict=False).with_row_index(RID).with_columns(pl.col(RID).cast(pl.Int64), pl.col(QUARANTINE).alias(REJECT))
    t0 = time.perf_counter()
    from expectations.runner import _context, run_suite, suite_rules
    from pipelines.config import load_config
    from transforms.mapping import picklist_references
    from transforms.quarantine import quarantine, violations

    references = picklist_references(load_config(ROOT / "data_samples" / "demo.yaml").target_specs())
    t1 = time.perf_counter()
    outcome = run_suite(frame, SUITE, RID, {}, references)
    out = quarantine(frame, violations(frame, outcome.outcomes))
    t2 = time.perf_counter()
    return {"records": frame.height, "expectations": len(suite_rules(SUITE)[1]), "seconds": round(t2 - t0, 2),
            "validate_seconds": round(t2 - t1, 2), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "rejected": out.filter(pl.col(REJECT).is_not_null()).height, "flagged": out.filter(pl.col(FLAGS).list.len() > 0).height,
            "gx_contexts": _context.cache_info().misses}


def main() -> None:
    from bench.resolve_speed import child

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    work = Path(child([str(ROOT / "bench" / "resolve_speed.py"), "--prepare-only", "--records", str(args.records), "--seed", str(args.seed)])["work"])
    result = child([__file__, "--child", str(work / "customers.parquet")])
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
