#!/usr/bin/env python3
"""A whole migration of generated data, locally and on a Dask LocalCluster: wall time, time per
stage and peak memory of every process, and whether both give the same ledger and golden records.

    python bench/scale.py                                  # 1,000,000 records, local and local:2
    python bench/scale.py --records 100000,1000000 --workers 2
    python bench/scale.py --records 1000000 --modes local  # one mode only

Each run is a child process (so its peak memory is its own); a thread samples the resident memory
of the child and of every process it starts (the cluster's nanny and worker processes) every 0.2 s.
The last line is JSON: {"runs": [{"records", "mode", "workers", "status", "wall_seconds",
"stages_seconds", "peak_rss_mb": {"driver", "workers": [...], "all_at_once", "driver_by_stage"},
"same_as_local"}]}.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

RECORDS_PER_COMPANY = 2.43  # data_samples/generate.py: 100,000 companies give 243,228 records


class PeakMemory:
    """The highest RSS seen of this process and of each of its descendants, sampled in a thread."""

    def __init__(self, every: float = 0.2) -> None:
        import psutil

        self.me = psutil.Process()
        self.every = every
        self.peaks: dict[int, tuple[str, int]] = {}
        self.together = 0
        self.stage = "start"  # set by the run's progress callback
        self.by_stage: dict[str, int] = {}  # the run's own process, its highest RSS during each stage
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        import psutil

        while not self._stop.wait(self.every):
            total = 0
            for p in [self.me, *self.me.children(recursive=True)]:
                try:
                    rss, cmd = p.memory_info().rss, " ".join(p.cmdline()[-2:])
                except psutil.Error:
                    continue
                total += rss
                if p.pid == self.me.pid:
                    self.by_stage[self.stage] = max(self.by_stage.get(self.stage, 0), rss)
                if p.pid != self.me.pid and rss > self.peaks.get(p.pid, ("", 0))[1]:
                    self.peaks[p.pid] = (cmd, rss)
            self.together = max(self.together, total)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def workers_mb(self) -> list[int]:
        """Peak per worker process (the nannies, which only watch their worker, are left out)."""
        return sorted((rss // 2**20 for cmd, rss in self.peaks.values() if "nanny" not in cmd.lower() and rss > 100 * 2**20), reverse=True)


def child(config: str, out: str, cluster: str | None) -> None:
    """One run, in this process; prints its figures as JSON."""
    from pipelines.run import run_pipeline

    with PeakMemory() as memory:
        def progress(stage: str, message: str) -> None:
            if message == "started":
                memory.stage = stage

        t = time.perf_counter()
        m = run_pipeline(config, out=out, target_url=f"sqlite:///{Path(out) / 'target.sqlite'}", cluster=cluster, progress=progress)
        wall = time.perf_counter() - t
    print(json.dumps({"status": m["status"], "run_dir": m["run_dir"], "records": sum(i["records"] for i in m["inputs"]),
                      "wall_seconds": round(wall, 1), "stages_seconds": {k: round(v, 1) for k, v in m["timings_seconds"].items()},
                      "peak_rss_mb": {"driver": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                                      "workers": memory.workers_mb(), "all_at_once": memory.together // 2**20,
                                      "driver_by_stage": {k: v // 2**20 for k, v in memory.by_stage.items()}}}))


def same(run_a: str, run_b: str) -> bool:
    import polars as pl

    ledger = lambda d: pl.read_parquet(Path(d) / "ledger.parquet").drop("run_id")  # noqa: E731
    golden = lambda d: pl.read_parquet(Path(d) / "golden_customers.parquet")  # noqa: E731
    return ledger(run_a).equals(ledger(run_b)) and golden(run_a).equals(golden(run_b))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", default="1000000", help="comma-separated sizes in source records (default 1000000)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    ap.add_argument("--modes", default="local,cluster", help="local, cluster or both (default)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--child", nargs=3, metavar=("CONFIG", "OUT", "CLUSTER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        config, out, cluster = args.child
        child(config, out, None if cluster == "-" else cluster)
        return
    from pipeline import generated_config

    runs = []
    for records in (int(r) for r in args.records.split(",")):
        work = Path(tempfile.mkdtemp(prefix=f"crm-scale-{records}-"))
        config = generated_config(work, max(1, round(records / RECORDS_PER_COMPANY)), args.seed)
        local_dir = None
        for mode in args.modes.split(","):
            cluster = f"local:{args.workers}" if mode == "cluster" else "-"
            print(f"{records:,} records, {mode}{'' if mode == 'local' else f' ({cluster})'} ...", flush=True)
            done = subprocess.run([sys.executable, __file__, "--child", str(config), str(work / f"out-{mode}"), cluster],
                                  capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                runs.append({"records": records, "mode": mode, "workers": args.workers if mode == "cluster" else 1, "status": "crashed",
                             "exit_code": done.returncode})
                continue
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            run_dir = figures.pop("run_dir")
            if mode == "local":
                local_dir = run_dir
            row = {"records": figures.pop("records"), "mode": mode, "workers": args.workers if mode == "cluster" else 1, **figures,
                   "same_as_local": same(local_dir, run_dir) if local_dir and mode != "local" else None}
            print(f"  {row['wall_seconds']:,.1f} s, driver {row['peak_rss_mb']['driver']:,} MB, workers {row['peak_rss_mb']['workers']} MB, "
                  f"all at once {row['peak_rss_mb']['all_at_once']:,} MB" + ("" if row["same_as_local"] is None else f", same as local: {row['same_as_local']}"),
                  flush=True)
            runs.append(row)
    print(json.dumps({"runs": runs}, ensure_ascii=False))


if __name__ == "__main__":
    main()
