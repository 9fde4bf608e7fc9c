"""A phased migration (config `phases:`, `run --phase` / `--all-phases`): a trial city, then its
province, then the rest; each phase keeps the golden ids of the earlier ones, and the final target
equals one full run of the same data."""
from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from crm_migrate.errors import ConfigError, MigrationError
from pipelines.cli import app
from pipelines.config import load_config
from pipelines.run import run_pipeline
from tests.helpers import demo_config

PHASES = [{"name": "trial", "where": "city = '深圳市'"}, {"name": "south", "where": "province = '广东省'"}, {"name": "rest"}]
NUMBERED = "account_number"  # KH{year}{seq}: numbers follow the order customers are first loaded


def table(url: str, name: str, drop: tuple[str, ...] = ()) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        cols = [c["name"] for c in sa.inspect(conn).get_columns(name) if c["name"] not in drop]
        rows = conn.execute(sa.text(f"SELECT {', '.join(cols)} FROM {name}")).all()
    engine.dispose()
    return sorted(tuple(str(v) for v in r) for r in rows)


def xref(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT source, source_key, target_table, target_id FROM crm_migrate_xref")).all()
    engine.dispose()
    return sorted(tuple(r) for r in rows)


def test_three_phases_end_where_one_full_run_ends(tmp_path):
    phased = demo_config(tmp_path / "phased", phases=PHASES)
    full = demo_config(tmp_path / "full")
    p_url, f_url = load_config(phased).config.target.url, load_config(full).config.target.url

    result = CliRunner().invoke(app, ["run", str(phased), "--phase", "trial"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "PHASE trial" in result.output
    trial_ids = {r[0] for r in table(p_url, "crm_account")}
    engine = sa.create_engine(p_url)
    with engine.connect() as conn:
        cities = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT city FROM crm_account"))}
        regions = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT region FROM crm_account"))}
    engine.dispose()
    assert trial_ids and cities == {"深圳市"} and len(regions) == 1

    result = CliRunner().invoke(app, ["run", str(phased), "--phase", "south"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    after_south = {r[0] for r in table(p_url, "crm_account")}
    assert trial_ids < after_south  # the trial's customers kept their golden ids; the province joined them

    result = CliRunner().invoke(app, ["run", str(phased), "--phase", "rest"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    whole = run_pipeline(full)
    assert whole["status"] == "succeeded"
    assert table(p_url, "crm_account", drop=(NUMBERED,)) == table(f_url, "crm_account", drop=(NUMBERED,))
    assert table(p_url, "crm_opportunity") == table(f_url, "crm_opportunity")
    assert xref(p_url) == xref(f_url)  # the crosswalk is continuous: every record where one run puts it
    engine = sa.create_engine(p_url)
    with engine.connect() as conn:
        numbers = [r[0] for r in conn.execute(sa.text(f"SELECT {NUMBERED} FROM crm_account"))]
    engine.dispose()
    assert all(numbers) and len(set(numbers)) == len(numbers)  # every account numbered, no number given twice across phases


def test_phase_config_is_checked(tmp_path):
    with pytest.raises(ConfigError) as bad:
        load_config(demo_config(tmp_path / "a", phases=[{"name": "x"}, {"name": "x", "where": "provnce = '广东省'"}]))
    text = bad.value.describe()
    assert "phase 'x' has no `where`; only the last phase may take the rest" in text
    assert "phase name 'x' is used twice" in text and "'provnce', which is not a field" in text
    from pipelines.checks import check_config

    lines = list(check_config(demo_config(tmp_path / "b", phases=PHASES)))
    assert any(line.endswith("1. trial: city = '深圳市'; 2. south: province = '广东省'; 3. rest: every other customer") for line in lines)
    cfg = load_config(demo_config(tmp_path / "b", phases=PHASES)).config
    assert cfg.phase("south").where == "(city = '深圳市') OR (province = '广东省')" and cfg.phase("rest").where is None
    with pytest.raises(MigrationError, match="no phase 'north' in the config"):
        cfg.phase("north")
    result = CliRunner().invoke(app, ["run", str(demo_config(tmp_path / "c", phases=PHASES)), "--phase", "trial", "--sample", "5"])
    assert result.exit_code != 0 and "--sample and --where are for rehearsals" in result.output
    both = CliRunner().invoke(app, ["run", str(demo_config(tmp_path / "d", phases=PHASES)), "--phase", "trial", "--all-phases"])
    assert both.exit_code != 0 and "not both" in both.output


def test_a_delta_run_rematches_a_changed_record_against_the_existing_golden_records(tmp_path):
    """A legacy record corrected in the old system (its credit code filled in, its name fixed) is read
    by the next delta run alone and matched against every customer of earlier runs (carried into
    resolution), so it joins the existing customer: the two earlier golden records become one, one id
    is kept (the smaller on a tie), the other is reported as superseded, and no target row is deleted."""
    import json

    from tests.helpers import csv_file, project, sqlite_db
    from transforms.credit_code import make_code

    code = make_code("91", "440300", "MA5F7Q3X")
    legacy = sqlite_db(tmp_path / "legacy.sqlite",
                       "CREATE TABLE t (客户编号 TEXT, 客户名称 TEXT, 统一社会信用代码 TEXT, 联系电话 TEXT, 地址 TEXT, 更新时间 TEXT)",
                       f"INSERT INTO t VALUES ('L1', '深圳市腾飞电子科技有限公司', '{code}', '13800138001', '南山区1号', '2024-01-01 08:00:00')",
                       "INSERT INTO t VALUES ('L2', '深圳腾飞电子（老客户）', NULL, '0755-8888 0001', '福田区9号', '2024-01-01 08:00:00')")
    csv_file(tmp_path / "erp.csv", ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"],
             [["E1", "广州市华鑫贸易有限公司", None, "13800138002", "天河区2号"]])
    sources = [{"name": "legacy", "kind": "sql", "entity": "customer", "url": legacy, "table": "t", "key": "客户编号", "watermark": "更新时间"},
               {"name": "erp", "kind": "csv", "entity": "customer", "path": "erp.csv", "key": "客户编号"}]
    cfg = project(tmp_path, sources)
    first = run_pipeline(cfg)
    ledger = lambda m: {r["source_key"]: r for r in pl.read_parquet(Path(m["run_dir"]) / "ledger.parquet").to_dicts()}  # noqa: E731
    before = ledger(first)
    assert before["L1"]["target_id"] != before["L2"]["target_id"]  # two customers as far as the first run knows

    engine = sa.create_engine(legacy)
    with engine.begin() as conn:  # the old system's user fixes L2: it is L1's company
        conn.execute(sa.text(f"UPDATE t SET 客户名称 = '深圳市腾飞电子科技有限公司', 统一社会信用代码 = '{code}', "
                             "更新时间 = '2024-02-01 08:00:00' WHERE 客户编号 = 'L2'"))
    engine.dispose()
    delta = run_pipeline(cfg)
    assert {i["source"]: i["records"] for i in delta["inputs"]}["legacy"] == 1  # only the changed record was read
    after = ledger(delta)
    members = pl.read_parquet(Path(delta["run_dir"]) / "golden_members.parquet")
    cluster = dict(members.select("_source_key", "target_id").rows())
    assert cluster["L1"] == cluster["L2"] == after["L2"]["target_id"]  # L1, carried from the first run, and the changed L2: one customer
    assert members.filter(pl.col("_source_key") == "L1")["_carried"].to_list() == [True]
    kept = after["L2"]["target_id"]
    assert kept in (before["L1"]["target_id"], before["L2"]["target_id"])  # an earlier id is kept (docs/resolution.md: ties to the smaller)
    retired = ({before["L1"]["target_id"], before["L2"]["target_id"]} - {kept}).pop()
    superseded = pl.read_csv(Path(delta["run_dir"]) / "superseded_ids.csv")
    assert superseded.select("previous_id", "target_id").rows() == [(retired, kept)]
    target = sa.create_engine(f"sqlite:///{tmp_path / 'target.sqlite'}")
    with target.connect() as conn:
        ids = {r[0] for r in conn.execute(sa.text("SELECT external_id FROM crm_account"))}
    target.dispose()
    assert {before["L1"]["target_id"], before["L2"]["target_id"], before["E1"]["target_id"]} <= ids  # nothing deleted
    assert json.loads((Path(delta["run_dir"]) / "manifest.json").read_text(encoding="utf-8"))["source_deletions"] == {}
