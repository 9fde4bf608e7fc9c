"""Rollback of a committed run on SQLite, PostgreSQL and MariaDB: the target as before the run, row
for row; refused when later runs wrote the same rows, unless cascaded; the run history recorded."""
import json

import pytest
import sqlalchemy as sa

from crm_migrate.errors import MigrationError
from loaders.rollback import rollback
from pipelines.run import run_pipeline
from tests.helpers import csv_file, project

HEADER = ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"]
ROWS = [["C1", "深圳市腾飞电子科技有限公司", None, "13800138001", "南山区科技园1号"],
        ["C2", "广州市华鑫贸易有限公司", None, "13800138002", "天河区体育西路2号"],
        ["C3", "佛山市新城物流有限公司", None, "13800138003", "禅城区汾江路3号"]]


def snapshot(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            rows = {t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")).all()), key=repr) for t in ("crm_account",) if t in names}
            rows["ledger"] = conn.execute(sa.text("SELECT COUNT(*) FROM crm_migrate_ledger")).scalar_one()
            rows["runs"] = [tuple(r) for r in conn.execute(sa.text("SELECT run_id, status FROM crm_migrate_run ORDER BY run_id")).all()]
            rows["xref"] = sorted(map(tuple, conn.execute(sa.text(
                "SELECT entity, source, source_key, source_row, target_table, target_id FROM crm_migrate_xref")).all()))
            return rows
    finally:
        engine.dispose()


def run(tmp_path, url, rows):
    csv_file(tmp_path / "customers.csv", HEADER, rows)
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}], target_url=url)
    return run_pipeline(cfg)


def test_rollback_restores_the_target_and_refuses_to_skip_later_runs(any_db_url, tmp_path):
    first = run(tmp_path, any_db_url, ROWS)
    after_first = snapshot(any_db_url)
    moved = [r[:] for r in ROWS]
    moved[0][4] = "南山区科技园9号"  # an update
    second = run(tmp_path, any_db_url, [*moved, ["C4", "东莞市长安五金制品厂", None, "13800138004", "长安镇4号"]])  # and an insert
    assert [(r["inserted"], r["updated"]) for r in second["load"]] == [(1, 1)]
    after_second = snapshot(any_db_url)
    moved[1][4] = "天河区体育西路8号"
    third = run(tmp_path, any_db_url, moved)
    assert [(r["inserted"], r["updated"]) for r in third["load"]] == [(0, 1)]

    assert len(after_first["xref"]) == 3 and {x[4] for x in after_first["xref"]} == {"crm_account"}
    assert len(after_second["xref"]) == 4  # C4 joined; each record once, from the latest run that loaded it
    done = rollback(any_db_url, "crm_migrate_ledger", third["run_id"])
    assert done.rolled_back == [third["run_id"]] and done.restored == {"crm_account": 1} and done.verified
    state = snapshot(any_db_url)
    assert state["crm_account"] == after_second["crm_account"] and state["ledger"] == after_second["ledger"]
    assert state["xref"] == after_second["xref"]
    assert state["runs"][-1] == (third["run_id"], "rolled_back")

    with pytest.raises(MigrationError, match="cannot be rolled back alone: later runs wrote or point at some of its rows") as refused:
        rollback(any_db_url, "crm_migrate_ledger", first["run_id"])
    assert second["run_id"] in refused.value.describe()
    assert snapshot(any_db_url)["crm_account"] == after_second["crm_account"]  # refused: nothing changed
    with pytest.raises(MigrationError, match="it is rolled_back"):
        rollback(any_db_url, "crm_migrate_ledger", third["run_id"])

    engine = sa.create_engine(any_db_url)
    with engine.begin() as conn:  # someone deletes a row the second run inserted: the rollback says so, it does not count it
        conn.execute(sa.text("DELETE FROM crm_account WHERE account_name = '东莞市长安五金制品厂'"))
    engine.dispose()
    both = rollback(any_db_url, "crm_migrate_ledger", first["run_id"], cascade=True)
    assert both.rolled_back == [second["run_id"], first["run_id"]] and both.deleted == {"crm_account": 3}
    assert both.already_gone == {"crm_account": 1}
    state = snapshot(any_db_url)
    assert state["crm_account"] == [] and state["ledger"] == 0 and state["xref"] == []
    assert {s for _, s in state["runs"]} == {"rolled_back"}
    assert after_first["runs"] == [(first["run_id"], "committed")]

    again = run(tmp_path, any_db_url, ROWS)  # the same input after the rollback: the same golden ids again
    assert snapshot(any_db_url)["crm_account"] == after_first["crm_account"] and again["status"] == "succeeded"


def test_the_run_history_holds_the_plan_and_each_written_row(tmp_path, sqlite_url):
    first = run(tmp_path, sqlite_url, ROWS)
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        run_row = conn.execute(sa.text("SELECT status, counts, manifest FROM crm_migrate_run")).one()
        images = conn.execute(sa.text("SELECT target_table, action, before FROM crm_migrate_before_image")).all()
    engine.dispose()
    assert run_row[0] == "committed" and json.loads(run_row[1])["crm_account"]["inserted"] == 3
    assert json.loads(run_row[2])["plan"][0]["insert"] == 3
    (table, action, keys), = images  # the inserted keys share a row
    accounts = [r[0] for r in snapshot(sqlite_url)["crm_account"]]
    assert (table, action) == ("crm_account", "insert") and sorted(json.loads(keys)) == sorted(accounts) and len(accounts) == 3
    assert first["plan"][0] == {**first["plan"][0], "table": "crm_account", "insert": 3, "update": 0, "unchanged": 0, "delete": 0}


def test_a_dry_run_leaves_no_history(tmp_path, sqlite_url):
    run(tmp_path, sqlite_url, ROWS)
    csv_file(tmp_path / "customers.csv", HEADER, ROWS[:2])
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}], target_url=sqlite_url)
    run_pipeline(cfg, dry_run=True)
    assert len(snapshot(sqlite_url)["runs"]) == 1


def test_plan_says_what_a_run_would_change_and_writes_nothing(any_db_url, tmp_path):
    run(tmp_path, any_db_url, ROWS)
    before = snapshot(any_db_url)
    moved = [r[:] for r in ROWS]
    moved[0][4] = "南山区科技园9号"
    csv_file(tmp_path / "customers.csv", HEADER, [*moved[:2], ["C4", "东莞市长安五金制品厂", None, "13800138004", "长安镇4号"]])
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}], target_url=any_db_url)
    planned = run_pipeline(cfg, plan_only=True)
    (table,) = planned["plan"]
    assert planned["status"] == "planned" and planned["run_id"].endswith("-plan")
    assert {k: table[k] for k in ("insert", "update", "unchanged", "delete", "not_in_run")} == {
        "insert": 1, "update": 1, "unchanged": 1, "delete": 0, "not_in_run": 1}
    assert table["changed_columns"] == {"address": 1}
    assert snapshot(any_db_url) == before  # not a row, not a run recorded
    done = run_pipeline(cfg)  # the load then does exactly what the plan said
    (load,) = done["load"]
    assert (load["inserted"], load["updated"], load["unchanged"]) == (table["insert"], table["update"], table["unchanged"])


def test_plan_table_counts_changes_per_column():
    import polars as pl

    from transforms.plan import plan_table

    current = pl.DataFrame({"id": ["a", "b", "c", "z"], "name": ["A", "B", "C", "Z"], "amount": [1.0, 2.0, None, 9.0]})
    wanted = pl.DataFrame({"id": ["a", "b", "c", "d"], "name": ["A", "B2", "C2", "D"], "amount": [1.0, 3.0, 5.0, 4.0]})
    changes = plan_table("t", wanted, current, "id")
    s = changes.summary()
    assert (s["insert"], s["update"], s["unchanged"], s["not_in_run"]) == (1, 2, 1, 1)
    assert s["changed_columns"] == {"name": 2, "amount": 2}  # a missing value that gets one is a change
    assert s["examples"] == {"insert": ["d"], "update": ["b", "c"]}
    assert changes.before.sort("id").rows() == [("b", "B", 2.0), ("c", "C", None)]  # the before-images


def test_inserted_keys_are_packed_and_unpacked_in_order():
    import polars as pl

    from loaders.history import before_images, expand_images

    inserted = pl.DataFrame({"id": [f"K{i:05d}" for i in range(12_000)]})
    before = pl.DataFrame({"id": ["OLD1"], "name": ["甲"]})
    images = before_images("r1", "t", "id", inserted, before)
    assert images["action"].to_list() == ["insert"] * 3 + ["update"] and images["target_key"].to_list()[:3] == ["K00000", "K05000", "K10000"]
    rows = expand_images(images.select("target_table", "target_key", "action", "before").rows())
    assert [k for _, k, a, _ in rows if a == "insert"] == inserted["id"].to_list()
    assert rows[-1] == ("t", "OLD1", "update", '{"id": "OLD1", "name": "甲"}')


def test_plan_examples_stop_at_five_and_a_key_only_table_never_changes():
    import polars as pl

    from transforms.plan import plan_table

    wanted = pl.DataFrame({"id": [f"k{i}" for i in range(8)]})
    s = plan_table("t", wanted, wanted.head(2), "id").summary()
    assert (s["insert"], s["update"], s["unchanged"]) == (6, 0, 2) and s["examples"]["insert"] == ["k2", "k3", "k4", "k5", "k6"]
    assert s["changed_columns"] == {}


def test_a_later_run_on_other_rows_does_not_block_and_large_runs_roll_back_in_chunks(tmp_path, sqlite_url):
    many = [[f"C{i}", f"深圳市测试{i}科技有限公司", None, f"1380013{i:04d}", f"南山区科技园{i}号"] for i in range(1, 1201)]
    first = run(tmp_path, sqlite_url, many)
    after_first = snapshot(sqlite_url)
    moved = [[*r[:4], r[4] + "A座"] if i % 2 == 0 else r for i, r in enumerate(many)]  # 600 updates, more than one chunk
    second = run(tmp_path, sqlite_url, [*moved, *[[f"N{i}", f"广州市新{i}贸易有限公司", None, None, None] for i in range(1, 11)]])
    assert [(r["inserted"], r["updated"]) for r in second["load"]] == [(10, 600)]
    done = rollback(sqlite_url, "crm_migrate_ledger", second["run_id"])
    assert done.restored == {"crm_account": 600} and done.deleted == {"crm_account": 10}
    assert snapshot(sqlite_url)["crm_account"] == after_first["crm_account"]
    (tmp_path / "other").mkdir()
    other = run(tmp_path / "other", sqlite_url, [["X1", "佛山市另一家物流有限公司", None, None, None]])  # only rows of its own
    alone = rollback(sqlite_url, "crm_migrate_ledger", first["run_id"])  # not blocked by a later run on other rows
    assert alone.rolled_back == [first["run_id"]] and alone.deleted == {"crm_account": 1200}
    state = snapshot(sqlite_url)
    assert len(state["crm_account"]) == 1 and state["runs"][-1] == (other["run_id"], "committed")


def test_a_run_whose_rows_a_later_run_points_at_rolls_back_only_with_it(any_db_url, tmp_path):
    """The second run only adds opportunities on the first run's accounts (which it leaves unchanged):
    rolling the first back alone would leave them pointing at nothing."""
    csv_file(tmp_path / "customers.csv", HEADER, ROWS)
    sources = [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}]
    first = run_pipeline(project(tmp_path, sources, target_url=any_db_url))
    csv_file(tmp_path / "deals.csv", ["商机编号", "客户编号", "商机名称", "金额", "阶段"], [["O1", "C1", "年度采购", 100, "报价"]])
    cfg = project(tmp_path, [*sources, {"name": "deals", "kind": "csv", "entity": "opportunity", "path": "deals.csv", "key": "商机编号",
                                        "customer_source": "crm"}], target_url=any_db_url)
    second = run_pipeline(cfg)
    assert [(r["table"], r["inserted"]) for r in second["load"]] == [("crm_account", 0), ("crm_opportunity", 1)]
    with pytest.raises(MigrationError, match=f"later runs wrote or point at some of its rows \\({second['run_id']}\\)"):
        rollback(any_db_url, "crm_migrate_ledger", first["run_id"])
    with pytest.raises(MigrationError, match="belongs to another project: its ledger is crm_migrate_ledger, this config's is other_ledger"):
        rollback(any_db_url, "other_ledger", second["run_id"])
    done = rollback(any_db_url, "crm_migrate_ledger", first["run_id"], cascade=True)
    assert done.rolled_back == [second["run_id"], first["run_id"]] and done.verified
    state = snapshot(any_db_url)
    assert state.get("crm_account") == [] and state["ledger"] == 0 and state["xref"] == []
    from typer.testing import CliRunner

    from loaders.history import recorded_runs
    from pipelines.cli import app

    runs = recorded_runs(any_db_url, "crm_migrate_ledger")
    assert [(r["run_id"], r["status"]) for r in runs] == [(first["run_id"], "rolled_back"), (second["run_id"], "rolled_back")]
    assert runs[1]["counts"]["crm_opportunity"]["inserted"] == 1 and recorded_runs(any_db_url, "other_ledger") == []
    listed = CliRunner().invoke(app, ["runs", str(cfg)], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and first["run_id"] in listed.output and "rolled_back" in listed.output and "run folders in" in listed.output
