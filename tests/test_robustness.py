"""Whole runs on inputs that broke earlier versions: each run either succeeds or stops clearly, never
loses a record, never lets a target-key collision reach the database, and always leaves a run folder
that explains itself. Real files, real SQLite / PostgreSQL / MariaDB targets."""
import json
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from crm_migrate.errors import AccountingError, LockTimeout, MigrationError
from pipelines.run import run_pipeline
from tests.helpers import ROOT, csv_file, make_read_only, project, run_dirs, sqlite_db, undo_read_only, xlsx_file

CUSTOMER_HEADER = ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"]
OPP_HEADER = ["商机编号", "客户编号", "商机名称", "金额", "阶段"]


def customers(n):
    return [[f"C{i:03d}", f"深圳市客户{i:03d}科技有限公司", None, f"1380000{i:04d}", f"南山区科技园路{i}号"] for i in range(1, n + 1)]


def two_sources(root, customer_rows, opp_rows, **top):
    csv_file(root / "customers.csv", CUSTOMER_HEADER, customer_rows)
    xlsx_file(root / "opps.xlsx", {"商机": [OPP_HEADER, *opp_rows]})
    return project(root, [
        {"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"},
        {"name": "opps", "kind": "excel", "entity": "opportunity", "path": "opps.xlsx", "key": "商机编号", "customer_source": "crm"},
    ], **top)


def ledger(manifest):
    run_dir = Path(manifest["run_dir"])
    name = "ledger.csv" if (run_dir / "ledger.csv").exists() else "planned_ledger.csv"
    return pl.read_csv(run_dir / name, schema_overrides={"source_key": pl.String, "reason": pl.String, "flags": pl.String})


def count(url, table):
    engine = sa.create_engine(url)
    try:
        if not sa.inspect(engine).has_table(table):
            return None
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


def test_an_opportunity_pasted_twice_loads_once_and_conflicting_keys_never_reach_the_database(tmp_path):
    opps = [["O1", "C001", "年度采购", 1000, "报价"], ["O1", "C001", "年度采购", 1000, "报价"],  # pasted twice
            ["O2", "C002", "扩容", 500, "谈判"], ["O2", "C002", "扩容", 800, "谈判"],  # one key, two different deals
            ["O3", "C003", "试点", 100, "赢单"]]
    cfg = two_sources(tmp_path, customers(3), opps)
    manifest = run_pipeline(cfg)
    assert manifest["status"] == "succeeded"
    led = ledger(manifest).filter(pl.col("entity") == "opportunity").sort("source_row")
    assert led["disposition"].to_list() == ["loaded", "merged", "rejected", "rejected", "loaded"]
    assert led["reason"][1].startswith("duplicate of OPP-")
    assert "key O2 of opps is used by 2 records that differ (rows 4, 5)" in led["reason"][2]
    assert count(f"sqlite:///{tmp_path / 'target.sqlite'}", "crm_opportunity") == 2


def test_repeated_customer_keys_never_fan_opportunities_out(tmp_path):
    rows = [["K1", f"客户{i}有限公司", None, f"1390000{i:04d}", None] for i in range(50)]  # every record has key K1
    opps = [[f"O{i}", "K1", f"单{i}", 100 + i, "报价"] for i in range(20)]
    manifest = run_pipeline(two_sources(tmp_path, rows, opps))
    led = ledger(manifest)
    opp = led.filter(pl.col("entity") == "opportunity")
    assert opp.height == 20 and opp["source_key"].n_unique() == 20  # each opportunity exactly once
    assert (opp["disposition"] == "rejected").all()
    assert opp["reason"][0].startswith("customer key K1 of source crm belongs to 50 different customers (CUS-")
    assert led.filter(pl.col("entity") == "customer").height == 50
    assert led.filter((pl.col("entity") == "customer") & (pl.col("disposition") == "loaded")).height == 50  # 50 companies


def test_an_unclosed_quote_loses_no_record_and_says_where(tmp_path):
    lines = ["客户编号,客户名称,统一社会信用代码,联系电话,地址"] + [f"C{i:03d},深圳市客户{i:03d}科技有限公司,,1380000{i:04d},南山区{i}号" for i in range(1, 201)]
    lines[10] = lines[10].replace("深圳市", '"深圳市')  # line 11 opens a quote nobody closes
    (tmp_path / "customers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    xlsx_file(tmp_path / "opps.xlsx", {"商机": [OPP_HEADER]})
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}])
    manifest = run_pipeline(cfg)
    led = ledger(manifest)
    assert led.height == 200 and sorted(led["source_row"].to_list()) == list(range(2, 202))
    bad = led.filter(pl.col("disposition") == "rejected")
    assert bad["source_row"].to_list() == list(range(11, 202))
    assert bad["reason"][0].startswith("line 11: a quote opened in lines 11-201 is never closed")
    acct = json.loads((Path(manifest["run_dir"]) / "reconciliation.json").read_text(encoding="utf-8"))["accounting"][0]
    assert acct["physical"] == {"unit": "lines", "total": 201, "records": 200, "continuation": 0, "header": 1, "blank": 0,
                                "non_records": 0, "hidden": 0, "balanced": True}


def test_footers_and_repeated_headers_are_not_ledgered_but_reported(tmp_path):
    rows = [*customers(3), CUSTOMER_HEADER, *customers(5)[3:], [None, "合计", None, None, None], ["共5条记录，导出时间：2024-07-01", None, None, None, None]]
    csv_file(tmp_path / "customers.csv", CUSTOMER_HEADER, rows)
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}])
    manifest = run_pipeline(cfg)
    assert ledger(manifest).height == 5
    run_dir = Path(manifest["run_dir"])
    non = pl.read_csv(run_dir / "non_records.csv")
    assert non.select("row", "rule").rows() == [(5, "repeated_header"), (8, "totals_row"), (9, "export_footer")]
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Rows that are not records" in html and "共5条记录，导出时间：2024-07-01" in html
    assert manifest["inputs"][0]["skipped"] == {"repeated_header": 1, "totals_row": 1, "export_footer": 1}


# ---- the target: checked before any data moves -------------------------------------------------------

def test_a_missing_target_folder_fails_before_reading_anything(tmp_path):
    cfg = two_sources(tmp_path, customers(2), [], target_url=f"sqlite:///{tmp_path / 'no' / 'such' / 'crm.sqlite'}")
    with pytest.raises(MigrationError, match="the folder of the SQLite target does not exist") as info:
        run_pipeline(cfg)
    manifest = json.loads((run_dirs(tmp_path)[0] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" and manifest["error"]["stage"] == "preflight"
    assert "extract" not in manifest["timings_seconds"]  # nothing was read
    assert info.value.run_dir == run_dirs(tmp_path)[0]


@pytest.fixture
def read_only():
    """make(path) makes a file read-only for this process; undone afterwards so the folder can go."""
    made = []

    def make(path: Path) -> Path:
        if not make_read_only(path):
            pytest.skip("running as root on a filesystem without chattr +i: cannot make a file read-only")
        made.append(path)
        return path

    yield make
    for path in made:
        undo_read_only(path)


def test_a_read_only_sqlite_target_is_found_by_check_and_run(tmp_path, read_only):
    target = tmp_path / "crm.sqlite"
    sqlite_db(target, "CREATE TABLE placeholder (x INTEGER)")
    read_only(target)
    cfg = two_sources(tmp_path, customers(2), [], target_url=f"sqlite:///{target}")
    for command in ("check", "run"):
        result = subprocess.run([str(ROOT / ".venv" / "bin" / "crm-migrate"), command, str(cfg)], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "read-only" in result.stderr and str(target) in result.stderr and "Traceback" not in result.stderr
    assert count(f"sqlite:///{target}", "crm_account") is None


def test_an_existing_table_that_cannot_take_the_mapping_is_named(any_db_url, tmp_path):
    engine = sa.create_engine(any_db_url)
    with engine.begin() as conn:  # an older CRM table: a short phone column, an integer status, a required column we never fill
        conn.exec_driver_sql("CREATE TABLE crm_account (external_id VARCHAR(40) PRIMARY KEY, account_name VARCHAR(200), uscc VARCHAR(18), "
                             "phone VARCHAR(20), other_phones VARCHAR(200), email VARCHAR(120), address VARCHAR(300), province VARCHAR(30), "
                             "city VARCHAR(30), district VARCHAR(30), industry VARCHAR(10), owner VARCHAR(60), status INTEGER, "
                             "created_at TIMESTAMP NULL, updated_at TIMESTAMP NULL, tenant_id INTEGER NOT NULL)")
    engine.dispose()
    cfg = two_sources(tmp_path, customers(2), [], target_url=any_db_url)
    with pytest.raises(MigrationError) as info:
        run_pipeline(cfg)
    text = info.value.describe()
    assert "column crm_account.phone is VARCHAR(20) in the target, shorter than the mapping's length 40" in text
    assert "column crm_account.status is INTEGER in the target; the mapping writes string" in text
    assert "column crm_account.tenant_id is NOT NULL without a default and the mapping does not fill it" in text
    assert count(any_db_url, "crm_account") == 0 and count(any_db_url, "crm_migrate_ledger") is None


def test_nul_and_bidi_characters_reach_postgresql_clean(pg_url, tmp_path):
    rows = [["C1", "深圳市腾飞\x00电子科技有限公司", None, "13800001111", "南山区\u202e1号"], ["C2\x00", "广州市华鑫贸易有限公司", None, None, None]]
    cfg = two_sources(tmp_path, rows, [["O1", "C1", "年度采购", 100, "报价"]], target_url=pg_url)
    manifest = run_pipeline(cfg)
    assert manifest["status"] == "succeeded"
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        names = sorted(conn.execute(sa.text("SELECT account_name FROM crm_account")).scalars())
        keys = sorted(conn.execute(sa.text("SELECT source_key FROM crm_migrate_ledger WHERE entity = 'customer'")).scalars())
        linked = conn.execute(sa.text("SELECT COUNT(*) FROM crm_opportunity")).scalar_one()
    engine.dispose()
    assert names == ["广州市华鑫贸易有限公司", "深圳市腾飞电子科技有限公司"] and keys == ["C1", "C2\ufffd"] and linked == 1


# ---- one run at a time --------------------------------------------------------------------------------

def test_a_second_run_waits_then_names_the_run_holding_the_target(any_db_url, tmp_path):
    from loaders.lock import acquire
    from loaders.target import make_engine

    engine = make_engine(any_db_url)
    held = acquire(engine, "20261201T000000000Z-holder", 5)
    try:
        cfg = two_sources(tmp_path, customers(2), [], target_url=any_db_url,
                          target={"url": any_db_url, "mapping": str(ROOT / "mappings" / "target_crm.yaml"), "lock_wait_seconds": 1})
        started = time.monotonic()
        with pytest.raises(LockTimeout) as info:
            run_pipeline(cfg)
        assert 1 <= time.monotonic() - started < 30
        text = info.value.describe()
        assert "the target is locked by" in text and "waited 1 s" in text
        if engine.dialect.name in ("sqlite", "postgresql"):
            assert "20261201T000000000Z-holder" in text  # the holder's run id
        else:
            assert "connection " in text and "holding it for" in text
    finally:
        held.release()
        engine.dispose()
    assert run_pipeline(cfg)["status"] == "succeeded"  # released: the next run goes ahead


# ---- failures leave a run folder that explains them ------------------------------------------------------

def test_an_unexpected_failure_leaves_manifest_planned_ledger_report_and_traceback(tmp_path, monkeypatch):
    from pipelines import stages

    def broken(ctx, resolution):
        raise RuntimeError("boom in the mapping with 深圳市客户001科技有限公司")

    monkeypatch.setattr(stages, "map_to_target", broken)
    cfg = two_sources(tmp_path, customers(3), [])
    with pytest.raises(RuntimeError):
        run_pipeline(cfg)
    run_dir = run_dirs(tmp_path)[0]
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" and manifest["error"]["stage"] == "map"
    assert manifest["error"]["type"] == "RuntimeError"
    assert pl.read_csv(run_dir / "planned_ledger.csv").height == 3
    assert "RuntimeError" in (run_dir / "traceback.txt").read_text(encoding="utf-8")
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "failed in stage" in html and "committed" not in html
    assert count(f"sqlite:///{tmp_path / 'target.sqlite'}", "crm_account") is None


def test_a_killed_run_leaves_a_manifest_that_says_where_it_was(tmp_path):
    from data_samples.generate import generate

    generate(20000, 3, tmp_path / "data")  # big enough to be killed in the middle
    text = (ROOT / "data_samples" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("${CRM_DEMO_TARGET_URL:-sqlite:///../out/demo_target.sqlite}", f"sqlite:///{tmp_path / 't.sqlite'}")
    text = text.replace("output_dir: ../out", f"output_dir: {tmp_path}/out").replace("../", f"{ROOT}/").replace("demo/", f"{tmp_path}/data/")
    assert f"sqlite:///{tmp_path / 't.sqlite'}" in text and f"output_dir: {tmp_path}/out" in text
    cfg = tmp_path / "big.yaml"
    cfg.write_text(text, encoding="utf-8")
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "crm-migrate"), "run", str(cfg), "--no-prefect"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    manifest = None
    while time.monotonic() < deadline:
        dirs = run_dirs(tmp_path)
        if dirs and (dirs[0] / "manifest.json").exists():
            try:
                manifest = json.loads((dirs[0] / "manifest.json").read_text(encoding="utf-8"))
            except ValueError:
                manifest = None
            if manifest and manifest.get("stage") in ("standardize", "validate", "resolve"):
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    manifest = json.loads((run_dirs(tmp_path)[0] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "running" and manifest["stage"] in ("standardize", "validate", "resolve")
    assert count(f"sqlite:///{tmp_path / 't.sqlite'}", "crm_account") is None


# ---- the proof: exit 4 when it does not hold, and the target rolled back -------------------------------------

def test_a_target_that_changes_what_was_written_fails_the_proof_and_is_rolled_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    cfg = two_sources(tmp_path, customers(3), [])
    assert run_pipeline(cfg)["status"] == "succeeded"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a trigger in the target rewrites what a later run updates
        conn.exec_driver_sql("CREATE TRIGGER mangle AFTER UPDATE ON crm_account BEGIN "
                             "UPDATE crm_account SET phone = 'x' WHERE external_id = NEW.external_id AND phone <> 'x'; END")
    engine.dispose()
    csv_file(tmp_path / "customers.csv", CUSTOMER_HEADER, [[*r[:3], "13900009999", r[4]] for r in customers(3)])
    with pytest.raises(AccountingError, match="the target read back does not match"):
        run_pipeline(cfg)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        phones = sorted(conn.execute(sa.text("SELECT phone FROM crm_account")).scalars())
    engine.dispose()
    assert phones == sorted(f"+861380000{i:04d}" for i in range(1, 4))  # rolled back: the first run's values
    rec = json.loads((run_dirs(tmp_path)[-1] / "reconciliation.json").read_text(encoding="utf-8"))
    assert rec["balanced"] is False and rec["tables"]["customer"]["diff"]["columns"]["phone"]["count"] == 3


def test_a_ledger_that_misses_a_record_is_never_loaded(tmp_path, monkeypatch):
    from pipelines import stages

    real = stages.build_ledger

    def drop_one(run_id, entity, dispositions):
        return real(run_id, entity, dispositions).slice(1)

    monkeypatch.setattr(stages, "build_ledger", drop_one)
    cfg = two_sources(tmp_path, customers(3), [])
    with pytest.raises(AccountingError, match="crm: extracted 3, ledgered 2"):
        run_pipeline(cfg)
    assert count(f"sqlite:///{tmp_path / 'target.sqlite'}", "crm_account") is None


def test_a_gate_stop_for_a_value_too_long_names_the_record(tmp_path):
    data = customers(3)
    data[1][4] = "长" * 400
    cfg = two_sources(tmp_path, data, [], validation={})
    with pytest.raises(Exception) as info:
        run_pipeline(cfg)
    assert type(info.value).__name__ == "GateFailed"
    assert "crm_account.address: 1 values longer than 300 characters (records crm:C002)" in info.value.describe()
    assert "长长长" not in info.value.describe()  # values stay in the report, not on the console
