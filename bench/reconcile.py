#!/usr/bin/env python3
"""Reconcile speed: `crm-migrate reconcile` (loaders/recheck.py: the whole target re-read and checked
against the rows a run loaded) on a target of N accounts and 3N opportunities, next to the time the
load itself took, on SQLite, PostgreSQL and MariaDB. The goal: reconciling takes less time than
loading.

    python bench/reconcile.py --accounts 1000000 --json
    python bench/reconcile.py --accounts 100000 --engines sqlite

The rows and the load are bench/load.py's (one transaction, the run's history). PostgreSQL and
MariaDB come from CRM_TEST_PG_URL / CRM_TEST_MYSQL_URL; the tables are dropped before and after. The
last line (with --json) is one JSON object per engine: rows, load_s, reconcile_s, ratio (reconcile
time over load time), clean.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    from load import crm_load, drop, engine_urls, finish, rows
    from loaders.recheck import recheck
    from reports.run_folder import write_loaded

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--engines", default="sqlite,postgresql,mariadb")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = rows(args.accounts)
    total = sum(f.height for _, f in data.values())
    urls = engine_urls("reconcile", args.engines)
    names = [n for ((n, _, _), _) in data.values()] + ["crm_migrate_run", "crm_migrate_before_image"]
    specs = {entity: spec for entity, (spec, _) in data.items()}
    out = {}
    for engine, url in urls.items():
        drop(url, names)
        load_s = crm_load(url, data, "bench-1")
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = Path(tmp) / "bench-1"
            run_dir.mkdir()
            for (name, _, _), frame in data.values():  # what the load's run folder keeps
                write_loaded(run_dir, name, frame, None)
            t = time.perf_counter()
            found = recheck(url, run_dir, specs)
            reconcile_s = time.perf_counter() - t
        drop(url, names)
        out[engine] = {"rows": total, "load_s": round(load_s, 1), "reconcile_s": round(reconcile_s, 1), "ratio": round(reconcile_s / load_s, 3),
                       "clean": all(f["clean"] for f in found.values())}
        print(f"{engine}: {out[engine]}", file=sys.stderr)
    finish(out, urls, args.json)


if __name__ == "__main__":
    main()
