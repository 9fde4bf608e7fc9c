"""A batch-committed load (target.commit: batch) killed with SIGKILL at several points, then finished
with `run --resume RUN_ID`, leaves the target exactly as one clean run does (data, ledger,
before-images, the run's counts), on SQLite, PostgreSQL and MariaDB; and it rolls back like one."""
import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
import yaml

from crm_migrate.errors import MigrationError
from loaders.batched import FAULT_VARIABLE
from loaders.history import expand_images
from loaders.rollback import rollback
from pipelines.run import run_pipeline
from tests.helpers import ROOT, csv_file, project, run_dirs

CITIES = ["深圳市", "广州市", "佛山市", "东莞市", "珠海市", "中山市"]
WORDS = ["腾飞", "华鑫", "新城", "长安", "宏达", "瑞丰", "金桥", "恒通", "博远", "中科"]


def company(i: int) -> str:
    return f"{CITIES[i % 6]}{WORDS[i % 10]}{WORDS[(i // 10) % 10]}{['电子', '贸易', '物流', '机械'][i // 100 % 4]}有限公司"


def write_inputs(root, version: int):
    """Version 1: 240 customers with 400 deals. Version 2: 60 more customers, 40 with a new phone,
    100 more deals and 30 with a new amount (inserts and updates in both tables)."""
    n, m = (240, 400) if version == 1 else (300, 500)
    customers = [[f"C{i:04d}", company(i), None, f"1380013{(i + (7 if version == 2 and i < 40 else 0)) % 10000:04d}", f"南山区{i}号"]
                 for i in range(n)]
    deals = [[f"O{j:04d}", f"C{j % 240:04d}", f"年度采购{j}", 1000 + j + (0.5 if version == 2 and j < 30 else 0), "报价"] for j in range(m)]
    csv_file(root / "customers.csv", ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"], customers)
    csv_file(root / "deals.csv", ["商机编号", "客户编号", "商机名称", "金额", "阶段"], deals)


def make_project(root, url):
    cfg = project(root, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"},
                         {"name": "deals", "kind": "csv", "entity": "opportunity", "path": "deals.csv", "key": "商机编号", "customer_source": "crm"}],
                  target_url=url)
    doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    doc["target"].update({"commit": "batch", "commit_rows": 25, "batch_size": 10})
    cfg.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return cfg


def state(url):
    """The target without run ids and times: every data row, the ledger, and of the runs not rolled
    back their statuses, counts and before-images (inserted keys unpacked)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            out = {t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")).all()), key=repr) for t in ("crm_account", "crm_opportunity")}
            out["ledger"] = sorted(map(tuple, conn.execute(sa.text(
                "SELECT entity, source, source_key, source_row, disposition, target_id, reason, flags FROM crm_migrate_ledger")).all()), key=repr)
            runs = conn.execute(sa.text("SELECT run_id, status, counts FROM crm_migrate_run WHERE status <> 'rolled_back' ORDER BY run_id")).all()
            out["runs"] = [(status, json.loads(counts)) for _, status, counts in runs]
            rank = {r[0]: i for i, r in enumerate(runs)}
            images = conn.execute(sa.text("SELECT run_id, target_table, target_key, action, " + ('"before"' if url.startswith("postgresql") else "`before`"
                                          if url.startswith("mysql") else '"before"') + " FROM crm_migrate_before_image")).all()
            out["images"] = sorted((rank[r[0]], *x) for r in images if r[0] in rank for x in expand_images([tuple(r[1:])]))
            return out
    finally:
        engine.dispose()


def cli_run(cfg, *args, env=None):
    return subprocess.run([str(ROOT / ".venv" / "bin" / "crm-migrate") if (ROOT / ".venv" / "bin" / "crm-migrate").exists()
                           else sys.executable, *([] if (ROOT / ".venv" / "bin" / "crm-migrate").exists() else ["-m", "pipelines.cli"]),
                           "run", str(cfg), "--no-prefect", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, cwd=cfg.parent)


def test_a_killed_batch_load_resumes_to_the_target_of_one_clean_run(any_db_url, tmp_path):
    cfg = make_project(tmp_path, any_db_url)
    write_inputs(tmp_path, 1)
    run_pipeline(cfg)
    base = state(any_db_url)
    write_inputs(tmp_path, 2)
    clean = run_pipeline(cfg)
    assert [(r["inserted"], r["updated"], r["unchanged"]) for r in clean["load"]] == [(60, 40, 200), (100, 30, 370)]
    expected = state(any_db_url)
    assert rollback(any_db_url, "crm_migrate_ledger", clean["run_id"]).verified and state(any_db_url) == base
    # 11 batch commits: accounts 3 insert + 2 update, deals 4 insert + 2 update. Kill after the 2nd
    # (in the accounts), the 6th (the first of the deals) and the 11th (all data, no ledger yet), and
    # with the 8th written but not committed (it must leave nothing of itself). Each resumed run is
    # then rolled back, which must give the target before it exactly.
    faults = ["kill_after_commits:2", "kill_after_commits:6", "kill_after_commits:11", "kill_before_commit:8"]
    for fault in faults if any_db_url.startswith("sqlite") else faults[1::2]:  # the servers: one kill after, one before a commit
        before = {d.name for d in run_dirs(tmp_path)}
        killed = cli_run(cfg, env={FAULT_VARIABLE: fault})
        assert killed.returncode == -9, killed.stderr[-2000:]
        run_id = next(d.name for d in run_dirs(tmp_path) if d.name not in before)
        half = state(any_db_url)
        assert half["runs"][-1][0] == "loading" and half["ledger"] == base["ledger"]
        progress = half["runs"][-1][1]  # rows committed so far, per table: the target holds exactly those
        assert len(half["crm_account"]) - len(base["crm_account"]) == progress["crm_account"]["inserted"]
        assert len(half["crm_opportunity"]) - len(base["crm_opportunity"]) == progress.get("crm_opportunity", {"inserted": 0})["inserted"]
        # batches of 25: accounts 25 25 10 inserted, 25 15 updated; deals 25 25 25 25 inserted, 25 5 updated
        assert sum(c["inserted"] + c["updated"] for c in progress.values()) == {
            "kill_after_commits:2": 50, "kill_after_commits:6": 125, "kill_after_commits:11": 230, "kill_before_commit:8": 150}[fault]
        with pytest.raises(MigrationError, match=f"run {run_id} stopped during its load and is still loading"):
            run_pipeline(cfg)  # a new run over the half-written one is refused before it reads anything
        with pytest.raises(MigrationError, match="resumed with other options"):
            run_pipeline(cfg, resume=run_id, force=True)
        resumed = run_pipeline(cfg, resume=run_id)
        assert resumed["run_id"] == run_id and resumed["status"] == "succeeded"
        assert [(r["inserted"], r["updated"], r["unchanged"]) for r in resumed["load"]] == [(60, 40, 200), (100, 30, 370)]
        assert state(any_db_url) == expected, fault
        with pytest.raises(MigrationError, match="cannot be resumed: it is committed"):
            run_pipeline(cfg, resume=run_id)
        assert rollback(any_db_url, "crm_migrate_ledger", run_id).verified
        assert state(any_db_url) == base, fault


def test_resume_of_an_unknown_run_is_refused(tmp_path):
    cfg = make_project(tmp_path, f"sqlite:///{tmp_path / 'target.sqlite'}")
    write_inputs(tmp_path, 1)
    run_pipeline(cfg)
    with pytest.raises(MigrationError, match="no run folder 20000101T000000000Z-abcdef"):
        run_pipeline(cfg, resume="20000101T000000000Z-abcdef")
    assert not (tmp_path / "out" / "20000101T000000000Z-abcdef").exists()
    (tmp_path / "out" / "20000101T000000000Z-abcdef").mkdir()  # a folder, but no such run in the target
    with pytest.raises(MigrationError, match="records no run 20000101T000000000Z-abcdef to resume"):
        run_pipeline(cfg, resume="20000101T000000000Z-abcdef")  # older than the run there: found by its id, not by order


def test_a_run_resumes_only_with_its_config_and_options_and_reports_its_batches(tmp_path):
    from datetime import datetime

    import polars as pl

    from crm_migrate import progress
    from loaders.batched import begin_run, load_in_batches, run_row
    from loaders.history import history_tables

    engine = sa.create_engine(f"sqlite:///{tmp_path / 't.sqlite'}")
    md = sa.MetaData()
    runs, images = history_tables(md)
    target = sa.Table("acc", md, sa.Column("k", sa.String(10), primary_key=True), sa.Column("v", sa.String(10)))
    md.create_all(engine)
    options = {"sample": None, "force": False}
    with engine.connect() as conn:
        assert begin_run(conn, runs, "r1", datetime(2026, 1, 1), "sha-a", False, options) == {}
        assert begin_run(conn, runs, "r2", datetime(2026, 1, 2), "sha-a", False, options) == {}
        with pytest.raises(MigrationError, match="already records a run r1"):
            begin_run(conn, runs, "r1", datetime(2026, 1, 1), "sha-a", False, options)
        with pytest.raises(MigrationError, match="the config or a mapping changed"):
            begin_run(conn, runs, "r1", datetime(2026, 1, 1), "sha-0", True, options)
        with pytest.raises(MigrationError, match="other options"):
            begin_run(conn, runs, "r1", datetime(2026, 1, 1), "sha-a", True, {"sample": {"size": 5}, "force": False})
        seen = []
        frame = pl.DataFrame({"k": [f"K{i}" for i in range(7)], "v": ["x"] * 7})
        with progress.reporting(lambda label, done, total, unit: seen.append((label, done, total))):
            (result, _), = load_in_batches(conn, runs, images, "r1", [(target, frame, "k")], 2, 3, {})
        assert [x for x in seen if x[0] == "acc committed"] == [("acc committed", 3, 7), ("acc committed", 6, 7), ("acc committed", 7, 7)]
        assert (result.inserted, result.updated, result.unchanged) == (7, 0, 0)
        assert begin_run(conn, runs, "r1", datetime(2026, 1, 1), "sha-a", True, options) == {"acc": {"inserted": 7, "updated": 0}}
        assert json.loads(run_row(conn, runs, "r2")["counts"]) == {}  # progress goes to its own run only
    engine.dispose()
