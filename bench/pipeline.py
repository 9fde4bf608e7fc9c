#!/usr/bin/env python3
"""Time a whole migration on generated data: wall time per stage and peak RSS.

    python bench/pipeline.py                    # the bundled demo data
    python bench/pipeline.py --entities 50000   # generated data of that many companies
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def generated_config(work: Path, entities: int, seed: int) -> Path:
    """Generate `entities` companies (about 2.4 records each, in three sources) under `work` and
    write the demo config reading them (a looser reject-rate gate: the generator's error rate is high)."""
    from data_samples.generate import generate

    t = time.perf_counter()
    stats = generate(entities, seed, work / "demo")
    print(f"generated {stats} in {time.perf_counter() - t:.1f} s", flush=True)
    text = (ROOT / "data_samples" / "demo.yaml").read_text(encoding="utf-8").replace("../", f"{ROOT}/").replace("demo/", f"{work}/demo/")
    text = text.replace("max_reject_rate: 0.05", "max_reject_rate: 0.5")
    config = work / "bench.yaml"
    config.write_text(text, encoding="utf-8")
    return config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=0, help="generate this many companies (0: the bundled demo data)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    config = generated_config(work, args.entities, args.seed) if args.entities else ROOT / "data_samples" / "demo.yaml"
    from pipelines.run import run_pipeline

    t = time.perf_counter()
    manifest = run_pipeline(config, out=work / "out", target_url=f"sqlite:///{work / 'target.sqlite'}")
    wall = time.perf_counter() - t
    records = sum(i["records"] for i in manifest["inputs"])
    print(f"records: {records:,}  status: {manifest['status']}")
    for stage, seconds in manifest["timings_seconds"].items():
        print(f"  {stage:<16} {seconds:8.2f} s")
    print(f"wall time: {wall:.2f} s  ({records / wall:,.0f} records/s)")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
