"""`crm-migrate reconcile`, any time after a run, on SQLite, PostgreSQL and MariaDB: clean on an
untouched target; a row deleted, an amount changed and a row inserted outside crm-migrate are each
found; rows a later run wrote are told apart; rows the target held before the run are not 'added'."""
import json
from pathlib import Path

import jsonschema
import sqlalchemy as sa
from typer.testing import CliRunner

from loaders.recheck import recheck
from pipelines.cli import app
from pipelines.config import load_config
from pipelines.run import run_pipeline
from tests.helpers import ROOT, csv_file, project

CUSTOMERS = [["C1", "深圳市腾飞电子科技有限公司", None, "13800138001", "南山区1号"], ["C2", "广州市华鑫贸易有限公司", None, "13800138002", "天河区2号"],
             ["C3", "佛山市新城物流有限公司", None, "13800138003", "禅城区3号"]]
DEALS = [["O1", "C1", "年度采购", "12.5万", "报价"], ["O2", "C2", "设备更新", "¥125,000.50", "谈判"]]


def make(tmp_path, url, customers=CUSTOMERS):
    csv_file(tmp_path / "c.csv", ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"], customers)
    csv_file(tmp_path / "d.csv", ["商机编号", "客户编号", "商机名称", "金额", "阶段"], DEALS)
    return project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "c.csv", "key": "客户编号"},
                              {"name": "deals", "kind": "csv", "entity": "opportunity", "path": "d.csv", "key": "商机编号",
                               "customer_source": "crm"}], target_url=url)


def check(cfg, run_id):
    loaded = load_config(cfg)
    found = recheck(loaded.config.target.url, loaded.config.output_dir / run_id, loaded.target_specs())
    return {t: (f["deleted"]["count"], f["changed"]["count"], sorted(f["changed"]["columns"]), f["added_outside"]["count"],
                f["rows_written_since_by_later_runs"], f["clean"]) for t, f in found.items()}


def test_reconcile_later_finds_what_changed_outside_and_tells_later_runs_apart(any_db_url, tmp_path):
    engine = sa.create_engine(any_db_url)
    first = run_pipeline(make(tmp_path, any_db_url))
    with engine.begin() as conn:  # a row the CRM held before the run: not "added" later
        conn.execute(sa.text("INSERT INTO crm_account (external_id, account_name) VALUES ('CRM-OLD-1', '老系统客户')"))
    second = run_pipeline(cfg := make(tmp_path, any_db_url, [[*CUSTOMERS[0][:3], "13900139001", CUSTOMERS[0][4]], *CUSTOMERS[1:]]))
    assert [(r["table"], r["updated"]) for r in second["load"]] == [("crm_account", 1), ("crm_opportunity", 0)]
    assert check(cfg, second["run_id"]) == {"crm_account": (0, 0, [], 0, 0, True), "crm_opportunity": (0, 0, [], 0, 0, True)}
    # against the first run: C1 was rewritten by the second run (told apart, not a difference), and
    # the old CRM row was inserted after it, outside crm-migrate
    assert check(cfg, first["run_id"])["crm_account"] == (0, 0, [], 1, 1, False)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM crm_account WHERE account_name = '佛山市新城物流有限公司'"))
        conn.execute(sa.text("UPDATE crm_opportunity SET amount = amount + 0.01 WHERE opportunity_name = '设备更新'"))
        conn.execute(sa.text("INSERT INTO crm_account (external_id, account_name) VALUES ('CUS-BY-HAND', '手工录入客户')"))
    engine.dispose()
    assert check(cfg, second["run_id"]) == {"crm_account": (1, 0, [], 1, 0, False), "crm_opportunity": (0, 1, ["amount"], 0, 0, False)}
    result = CliRunner().invoke(app, ["reconcile", str(cfg)], env={"COLUMNS": "200"})  # default: the last committed run
    assert result.exit_code == 4 and f"run {second['run_id']}" in result.output and "1 added outside crm-migrate" in result.output
    found = list((Path(second["run_dir"])).glob("reconcile-*.json"))
    assert len(found) == 1
    doc = json.loads(found[0].read_text(encoding="utf-8"))
    jsonschema.validate(doc, json.loads((ROOT / "docs" / "reconcile.schema.json").read_text(encoding="utf-8")))
    assert doc["clean"] is False and doc["tables"]["crm_opportunity"]["changed"]["columns"]["amount"]["count"] == 1
