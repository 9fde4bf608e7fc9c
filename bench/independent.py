#!/usr/bin/env python3
"""A migration written independently of this project, run as a new user runs one, scored on its truth.

    python bench/independent.py [--trial trial3] [--seed 1] [--companies 15000] [--json]

`bench/independent/<trial>/` holds what a helper wrote from the README and docs/ alone, without
reading the generator or the matching code: its own data generator (make_data.py: three legacy
sources with the variations it thought realistic, and the truth), its config and mappings, and its
evaluator. This script generates the data in a scratch folder, runs `crm-migrate check` and
`crm-migrate run` on it there, and scores the run's ledger. The last line (with --json) is one
JSON object: customer pairwise precision, recall and F1, false-merge clusters, opportunities on
the right customer, duplicate deals F1, seconds.

Once the project has been changed after looking at a trial's misses, its figures are no longer a
holdout: they guard against regressions. A fresh trial, written the same way, is the honest test.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trial", default="trial3")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--companies", type=int, default=15000)
    ap.add_argument("--json", action="store_true", help="end with one JSON line of the headline figures")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder and say where it is")
    args = ap.parse_args()
    trial = ROOT / "bench" / "independent" / args.trial
    work = Path(tempfile.mkdtemp(prefix=f"crm-{args.trial}-"))
    shutil.copytree(trial / "mappings", work / "mappings")
    shutil.copy(trial / "migration.yaml", work / "migration.yaml")
    (work / "out").mkdir()
    run = lambda *cmd: subprocess.run([str(c) for c in cmd], cwd=work, capture_output=True, text=True)  # noqa: E731
    made = run(sys.executable, trial / "make_data.py", "--out", "data", "--seed", args.seed, "--companies", args.companies)
    if made.returncode:
        raise SystemExit(f"make_data.py failed:\n{made.stderr[-2000:]}")
    started = time.perf_counter()
    done = run(BIN / "crm-migrate", "run", "migration.yaml", "--no-prefect")
    seconds = round(time.perf_counter() - started, 1)
    if done.returncode not in (0, 3):
        raise SystemExit(f"crm-migrate run exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    run_dir = max((p for p in (work / "out").iterdir() if (p / "manifest.json").exists()), key=lambda p: p.stat().st_mtime)
    scores = work / "scores.json"
    scored = run(sys.executable, trial / "evaluate.py", "--run-dir", run_dir, "--truth", "data", "--json", scores)
    if scored.returncode:
        raise SystemExit(f"evaluate.py failed:\n{scored.stderr[-2000:]}")
    s = json.loads(scores.read_text(encoding="utf-8"))
    figures = {
        "customer_precision": round(s["customer"]["precision"], 4), "customer_recall": round(s["customer"]["recall"], 4),
        "customer_f1": round(s["customer"]["f1"], 4), "false_merge_clusters": s["false_merges"]["clusters"],
        "opportunities_right_customer": round(s["opportunities"]["right_main"], 4), "duplicate_deals_f1": round(s["deals"]["f1"], 4),
        "run_exit_code": done.returncode, "seconds": seconds,
    }
    if not args.json or sys.stdout.isatty():
        print(scored.stdout)
    if args.keep:
        print(f"scratch folder: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
