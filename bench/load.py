#!/usr/bin/env python3
"""Load speed: N accounts and 3N opportunities (the default target mapping's tables) into SQLite,
PostgreSQL and MariaDB through crm-migrate's load (plan, inserts, updates, before-images, one
transaction), next to a bare bulk insert of the same rows in the same run (PostgreSQL COPY, MariaDB
multi-row INSERT, SQLite executemany), and a second, unchanged load (every row unchanged).

    python bench/load.py --accounts 1000000 --json
    python bench/load.py --accounts 100000 --engines sqlite,postgresql
    python bench/load.py --accounts 1000000 --commit batch --json   # committed batches of 50,000 rows

PostgreSQL and MariaDB come from CRM_TEST_PG_URL / CRM_TEST_MYSQL_URL (the scratch databases the
tests use; the bench's tables are dropped before and after). The rows are synthetic target rows
(external ids, names, codes, amounts, dates), built with polars, not timed. The last line (with
--json) is one JSON object per engine: rows, first_load_rows_per_s, bare_rows_per_s,
ratio_to_bare, unchanged_rerun_s, first_load_s, speedup_unchanged.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rows(accounts: int) -> dict:
    import polars as pl

    from pipelines.config import load_config

    specs = load_config(ROOT / "data_samples" / "demo.yaml").target_specs()
    n, m = accounts, accounts * 3
    acc = pl.DataFrame({"i": range(n)}).select(
        (pl.lit("CUS-") + pl.col("i").cast(pl.String).str.zfill(16)).alias("external_id"),
        (pl.lit("KH2020") + (pl.col("i") + 1).cast(pl.String).str.zfill(6)).alias("account_number"),
        (pl.lit("深圳市测试") + pl.col("i").cast(pl.String) + pl.lit("科技有限公司")).alias("account_name"),
        (pl.lit("91440300MA5") + pl.col("i").cast(pl.String).str.zfill(7)).alias("uscc"),
        (pl.lit("+86138") + (pl.col("i") % 100000000).cast(pl.String).str.zfill(8)).alias("phone"),
        pl.lit(None, dtype=pl.String).alias("other_phones"),
        (pl.lit("info") + pl.col("i").cast(pl.String) + pl.lit("@example.com")).alias("email"),
        (pl.lit("广东省深圳市南山区科技园") + pl.col("i").cast(pl.String) + pl.lit("号")).alias("address"),
        pl.lit("广东省").alias("province"), pl.lit("深圳市").alias("city"), pl.lit("南山区").alias("district"),
        pl.lit("广东省 / 深圳市").alias("region"), pl.lit("I").alias("industry"), pl.lit("U9001").alias("owner_id"),
        pl.when(pl.col("i") % 10 == 0).then(pl.lit("Inactive")).otherwise(pl.lit("Active")).alias("status"),
        pl.lit(datetime(2020, 1, 1, 9)).alias("created_at"), pl.lit(datetime(2024, 6, 1, 18)).alias("updated_at"),
    )
    opp = pl.DataFrame({"i": range(m)}).select(
        (pl.lit("OPP-") + pl.col("i").cast(pl.String).str.zfill(16)).alias("external_id"),
        (pl.lit("CUS-") + (pl.col("i") // 3).cast(pl.String).str.zfill(16)).alias("account_external_id"),
        (pl.lit("年度采购项目") + pl.col("i").cast(pl.String)).alias("opportunity_name"),
        pl.lit("Proposal").alias("stage"),
        ((pl.col("i") % 5000 + 1) * 100).cast(pl.Decimal(18, 2)).alias("amount"),
        pl.lit("CNY").alias("currency"), pl.lit(date(2025, 3, 31)).alias("close_date"),
        pl.lit("U9002").alias("owner_id"), pl.lit(datetime(2024, 1, 2, 10)).alias("created_at"),
    )
    for (_, _, cols), frame in ((specs["customer"], acc), (specs["opportunity"], opp)):
        assert frame.columns == [c.name for c in cols], "bench rows out of step with mappings/target_crm.yaml"
    return {"customer": (specs["customer"], acc), "opportunity": (specs["opportunity"], opp)}


def drop(url: str, names: list[str]) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for view in sa.inspect(conn).get_view_names():
            conn.exec_driver_sql(f"DROP VIEW {view}")
    md = sa.MetaData()
    md.reflect(engine)
    for t in [t for t in md.sorted_tables if t.name in names]:
        t.drop(engine)
    engine.dispose()


def crm_load(url: str, data: dict, run_id: str, commit: str = "run") -> float:
    """crm-migrate's load of every table in one transaction (commit run), or in committed batches of
    50,000 rows with their before-images and progress (commit batch), with the run's history; seconds."""
    import polars as pl
    import sqlalchemy as sa

    from loaders.history import before_images, history_tables
    from loaders.schema import target_table
    from loaders.target import target_session
    from loaders.upsert import append, upsert_all

    md = sa.MetaData()
    tables = {e: target_table(md, name, key, cols) for e, ((name, key, cols), _) in data.items()}
    history = history_tables(md)
    t = time.perf_counter()
    with target_session(url, [*tables.values(), *history], dry_run=False) as conn:
        items = [(tables[e], frame, key) for e, ((_, key, _), frame) in data.items()]
        if commit == "batch":
            from loaders.batched import begin_run, load_in_batches

            done = begin_run(conn, history[0], run_id, datetime.now(), "bench", False, {})
            load_in_batches(conn, history[0], history[1], run_id, items, 5000, 50_000, done)
            return time.perf_counter() - t
        written = upsert_all(conn, items, 5000)
        images = [before_images(run_id, name, key, changes.new, changes.before)
                  for ((name, key, _), _), (_, changes) in zip(data.values(), written)]
        append(conn, history[1], pl.concat(images), 5000)
    return time.perf_counter() - t


def bare_load(url: str, data: dict) -> float:
    """The same rows into fresh copies of the tables by the engine's plainest bulk path; seconds."""
    import polars as pl
    import sqlalchemy as sa

    from loaders.schema import target_table

    md = sa.MetaData()
    engine = sa.create_engine(url)
    tables = {e: target_table(md, f"bare_{name}", key, cols) for e, ((name, key, cols), _) in data.items()}
    md.create_all(engine)
    t = time.perf_counter()
    with engine.begin() as conn:
        for e, (_, frame) in data.items():
            table = tables[e]
            if engine.dialect.name == "postgresql":
                raw = conn.connection.driver_connection
                with raw.cursor().copy(f"COPY {table.name} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
                    copy.write(frame.write_csv(include_header=False, null_value="\\N"))
            else:
                if engine.dialect.name == "sqlite":  # sqlite3 binds no Decimal: text, as SQLAlchemy's Numeric stores it
                    frame = frame.with_columns([pl.col(c).cast(pl.String) for c, t in frame.schema.items() if isinstance(t, pl.Decimal)])
                cols = ", ".join(frame.columns)
                marks = ", ".join(["?" if engine.dialect.name == "sqlite" else "%s"] * frame.width)
                cur = conn.connection.driver_connection.cursor()
                for off in range(0, frame.height, 5000):
                    cur.executemany(f"INSERT INTO {table.name} ({cols}) VALUES ({marks})", frame.slice(off, 5000).rows())
    seconds = time.perf_counter() - t
    engine.dispose()
    return seconds


def engine_urls(name: str, engines: str) -> dict[str, str]:
    """Engine -> URL for the engines asked for: a scratch SQLite file, and the servers the tests use
    (CRM_TEST_PG_URL / CRM_TEST_MYSQL_URL); an engine without its server is skipped, saying so."""
    urls = {"sqlite": f"sqlite:////tmp/crm-bench-{name}-{os.getpid()}.sqlite", "postgresql": os.environ.get("CRM_TEST_PG_URL"),
            "mariadb": os.environ.get("CRM_TEST_MYSQL_URL")}
    out = {}
    for engine in engines.split(","):
        if urls[engine]:
            out[engine] = urls[engine]
        else:
            print(f"{engine}: skipped (set CRM_TEST_PG_URL / CRM_TEST_MYSQL_URL)", file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--engines", default="sqlite,postgresql,mariadb")
    ap.add_argument("--commit", choices=["run", "batch"], default="run", help="target.commit of crm-migrate's load (default run)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = rows(args.accounts)
    total = sum(f.height for _, f in data.values())
    urls = engine_urls("load", args.engines)
    names = [n for ((n, _, _), _) in data.values()]
    names = [*names, *(f"bare_{n}" for n in names), "crm_migrate_run", "crm_migrate_before_image"]
    out = {}
    for engine, url in urls.items():
        drop(url, names)
        first = crm_load(url, data, "bench-1", args.commit)
        again = crm_load(url, data, "bench-2", args.commit)
        bare = bare_load(url, data)
        drop(url, names)
        out[engine] = {"rows": total, "first_load_rows_per_s": round(total / first), "bare_rows_per_s": round(total / bare),
                       "ratio_to_bare": round(bare / first, 3), "unchanged_rerun_s": round(again, 1), "first_load_s": round(first, 1),
                       "speedup_unchanged": round(first / again, 2)}
        print(f"{engine}: {out[engine]}", file=sys.stderr)
    finish(out, urls, args.json)


def finish(out: dict, urls: dict[str, str], as_json: bool) -> None:
    """Remove the scratch SQLite file; print the figures, the JSON object as the last line."""
    if "sqlite" in urls:
        Path(urls["sqlite"].removeprefix("sqlite:///")).unlink(missing_ok=True)
    print(json.dumps(out) if as_json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
