#!/usr/bin/env python3
"""Extraction throughput and memory: the product's extractors against the bare readers.

    python bench/extract.py                 # workbook 200,000 x 15; SQLite and PostgreSQL 2,000,000 x 15
    python bench/extract.py --rows 500000   # smaller tables
    python bench/extract.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Each measurement runs in a fresh process (so peak RSS is its own), three times; the median is shown.
Test data is generated once into bench/out/ and reused.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
COLUMNS = ["id", "name", "credit_code", "phone", "email", "address", "city", "industry", "status", "owner",
           "amount", "created_at", "updated_at", "birthday", "note"]


# ---- data -------------------------------------------------------------------------------------

def make_workbook(path: Path, rows: int) -> None:
    import random
    from datetime import datetime, timedelta

    import xlsxwriter

    rng = random.Random(3)
    wb = xlsxwriter.Workbook(path, {"constant_memory": True})
    ws = wb.add_worksheet("客户")
    date_fmt, dt_fmt = wb.add_format({"num_format": "yyyy-mm-dd"}), wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    ws.write_row(0, 0, COLUMNS)
    base = datetime(2015, 1, 1)
    for r in range(1, rows + 1):
        ws.write_number(r, 0, r)
        ws.write_string(r, 1, f"深圳市腾飞{r % 9973}电子科技有限公司")
        ws.write_string(r, 2, f"91440300{r:09d}X")
        ws.write_string(r, 3, f"138{r % 100000000:08d}")
        ws.write_string(r, 4, f"user{r}@example.com")
        ws.write_string(r, 5, f"广东省深圳市南山区科技园路{r % 997}号")
        ws.write_string(r, 6, "深圳市")
        ws.write_string(r, 7, ("IT", "制造", "零售")[r % 3])
        ws.write_string(r, 8, ("正常", "停用")[r % 7 == 0])
        ws.write_string(r, 9, ("王伟", "李娜", "张敏")[r % 3])
        if r % 4:
            ws.write_number(r, 10, rng.randrange(100, 10**7) / 100)
        else:
            ws.write_string(r, 10, f"{rng.randrange(1, 500)}万")  # mixed column, as sales sheets are
        ws.write_datetime(r, 11, base + timedelta(seconds=rng.randrange(10**8)), dt_fmt)
        ws.write_datetime(r, 12, base + timedelta(seconds=rng.randrange(10**8)), dt_fmt)
        ws.write_datetime(r, 13, base + timedelta(days=rng.randrange(3000)), date_fmt)
        if r % 5 == 0:
            ws.write_string(r, 14, "老客户")
    wb.close()


SQL_FILL = """
INSERT INTO bench_customer
SELECT n, '深圳市腾飞' || (n % 9973) || '电子科技有限公司', '91440300' || n || 'X', '138' || (n % 100000000),
       'user' || n || '@example.com', '广东省深圳市南山区科技园路' || (n % 997) || '号', '深圳市',
       CASE n % 3 WHEN 0 THEN 'IT' WHEN 1 THEN '制造' ELSE '零售' END, CASE WHEN n % 7 = 0 THEN '停用' ELSE '正常' END,
       '王伟', {amount}, {created}, {updated}, {birthday}, CASE WHEN n % 5 = 0 THEN '老客户' END
FROM {series}
"""
DDL = """CREATE TABLE bench_customer (id BIGINT PRIMARY KEY, name VARCHAR(100), credit_code VARCHAR(30), phone VARCHAR(20),
 email VARCHAR(60), address VARCHAR(100), city VARCHAR(20), industry VARCHAR(10), status VARCHAR(10), owner VARCHAR(20),
 amount NUMERIC(18,2), created_at TIMESTAMP, updated_at TIMESTAMP, birthday DATE, note VARCHAR(20))"""


def make_sqlite(path: Path, rows: int) -> None:
    import sqlite3

    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute(DDL)
    con.execute(SQL_FILL.format(
        amount="(n * 37 % 1000000) / 100.0", created="datetime(1420070400 + n * 37, 'unixepoch')",
        updated="datetime(1420070400 + n * 41, 'unixepoch')", birthday="date(1420070400 + n * 3600, 'unixepoch')",
        series=f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows}) SELECT n FROM s)"))
    con.commit()
    con.close()


def make_pg(url: str, rows: int) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_customer")
        conn.exec_driver_sql(DDL)
        conn.exec_driver_sql(SQL_FILL.format(
            amount="(n * 37 % 1000000) / 100.0", created="to_timestamp(1420070400 + n * 37)::timestamp",
            updated="to_timestamp(1420070400 + n * 41)::timestamp", birthday="(date '2015-01-01' + (n % 3000))",
            series=f"generate_series(1, {rows}) AS n").replace("%", "%%"))  # psycopg: % starts a placeholder
        conn.exec_driver_sql("ANALYZE bench_customer")
    engine.dispose()


# ---- measurements (each in its own process) ---------------------------------------------------

def child(mode: str, target: str) -> dict:
    """One measurement; imports happen before the clock starts, on both sides."""
    import python_calamine as pc
    import sqlite3

    import psycopg

    from extractors import extract_source
    from pipelines.config import SourceConfig

    t0 = time.perf_counter()
    if mode == "excel_bare":
        rows = len(pc.CalamineWorkbook.from_path(target).get_sheet_by_name("客户").to_python()) - 1
    elif mode == "excel_extractor":
        src = SourceConfig.model_validate({"name": "b", "kind": "excel", "entity": "customer", "mapping": "m.yaml", "path": target, "sheet": "客户", "key": "id"})
        rows = extract_source(src, ["name"]).frame.height
    elif mode == "sql_bare":
        rows = 0
        if target.startswith("sqlite"):
            cur = sqlite3.connect(target.removeprefix("sqlite:///")).cursor()
            cur.execute("SELECT * FROM bench_customer")
        else:
            conn = psycopg.connect(target.replace("postgresql+psycopg://", "postgresql://"))
            cur = conn.cursor(name="bench")  # server-side, as the extractor streams
            cur.execute("SELECT * FROM bench_customer")
        while batch := cur.fetchmany(50_000):
            rows += len(batch)
    else:
        src = SourceConfig.model_validate({"name": "b", "kind": "sql", "entity": "customer", "mapping": "m.yaml", "url": target,
                                           "table": "bench_customer", "key": "id"})
        rows = extract_source(src, ["name"]).frame.height
    seconds = time.perf_counter() - t0
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(mode: str, target: str, repeat: int = 3) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--child", mode, target], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    seconds = statistics.median(r["seconds"] for r in runs)
    return {"rows": runs[0]["rows"], "seconds": seconds, "rows_per_s": runs[0]["rows"] / seconds,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def report(title: str, product: dict, bare: dict, goal: float) -> None:
    ratio = product["rows_per_s"] / bare["rows_per_s"]
    print(f"\n{title}  ({product['rows']:,} rows)")
    print(f"  {'':<22}{'seconds':>9}{'rows/s':>12}{'peak RSS MB':>13}")
    for name, r in (("crm-migrate extractor", product), ("bare reader", bare)):
        print(f"  {name:<22}{r['seconds']:>9.2f}{r['rows_per_s']:>12,.0f}{r['peak_rss_mb']:>13,.0f}")
    print(f"  extractor / bare throughput: {ratio:.0%} (goal >= {goal:.0%}) {'OK' if ratio >= goal else 'BELOW GOAL'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--excel-rows", type=int, default=200_000)
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows of the SQL tables")
    ap.add_argument("--pg-url", default=os.environ.get("CRM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--skip-pg", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    book = OUT / f"customers_{args.excel_rows}.xlsx"
    if not book.exists():
        print(f"writing {book.name} ...", flush=True)
        make_workbook(book, args.excel_rows)
    report("Excel .xlsx, 15 columns", measure("excel_extractor", str(book)), measure("excel_bare", str(book)), 0.80)
    db = OUT / f"customers_{args.rows}.sqlite"
    if not db.exists():
        print(f"\nwriting {db.name} ...", flush=True)
        make_sqlite(db, args.rows)
    url = f"sqlite:///{db}"
    report("SQLite table, 15 columns", measure("sql_extractor", url), measure("sql_bare", url), 0.70)
    if not args.skip_pg:
        print("\nfilling PostgreSQL bench_customer ...", flush=True)
        make_pg(args.pg_url, args.rows)
        report("PostgreSQL table, 15 columns (server-side cursor)", measure("sql_extractor", args.pg_url), measure("sql_bare", args.pg_url), 0.70)


if __name__ == "__main__":
    main()
