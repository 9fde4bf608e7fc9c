"""A phased migration (config `phases:`, `run --phase` / `--all-phases`): a trial city, then its
province, then the rest; each phase keeps the golden ids of the earlier ones, and the final target
equals one full run of the same data."""
from __future__ import annotations

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
    cfg = load_config(demo_config(tmp_path / "b", phases=PHASES)).config
    assert cfg.phase("south").where == "(city = '深圳市') OR (province = '广东省')" and cfg.phase("rest").where is None
    with pytest.raises(MigrationError, match="no phase 'north' in the config"):
        cfg.phase("north")
    result = CliRunner().invoke(app, ["run", str(demo_config(tmp_path / "c", phases=PHASES)), "--phase", "trial", "--sample", "5"])
    assert result.exit_code != 0 and "--sample and --where are for rehearsals" in result.output
