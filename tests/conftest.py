"""Shared fixtures: real database servers (skipped with a reason when not configured), a
Prefect test harness (started once, only for the tests that need it), the bundled demo data."""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "data_samples" / "demo.yaml"
DEMO_DATA = ROOT / "data_samples" / "demo"

SERVERS = {
    "postgresql": ("CRM_TEST_PG_URL", "PostgreSQL"),
    "mysql": ("CRM_TEST_MYSQL_URL", "MySQL/MariaDB"),
}


def _scratch_database(kind: str):
    """Create a fresh database on the server named by the environment; yield its URL; drop it."""
    var, label = SERVERS[kind]
    url = os.environ.get(var)
    if not url:
        pytest.skip(f"{label} tests skipped: set {var} (e.g. as .ci/run does) to run them")
    base = sa.make_url(url)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = f"crm_test_{uuid.uuid4().hex[:10]}"
            conn.exec_driver_sql(f"CREATE DATABASE {name}" + (" CHARACTER SET utf8mb4" if kind == "mysql" else ""))
    except Exception as exc:  # a configured server must answer: fail, never skip
        pytest.fail(f"{var} is set but {label} does not answer: {str(exc).splitlines()[0]}")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name}" + (" WITH (FORCE)" if kind == "postgresql" else ""))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url():
    yield from _scratch_database("postgresql")


@pytest.fixture(scope="session")
def mysql_url():
    yield from _scratch_database("mysql")


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'target.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def any_db_url(request, tmp_path):
    """A fresh, empty database of each kind (server databases are per session, tables dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite'}"
        return
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "mysql_url")
    yield url
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # views first: PostgreSQL keeps a table a view reads
        for view in sa.inspect(conn).get_view_names():
            conn.exec_driver_sql(f"DROP VIEW {view}")
    md = sa.MetaData()
    md.reflect(engine)
    md.drop_all(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect's test harness, started once per session (it costs 15-20 s)."""
    home = tempfile.mkdtemp(prefix="prefect-home-")
    os.environ["PREFECT_HOME"] = home
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def project(tmp_path):
    """A copy of the demo config and mappings that tests can break."""
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.copytree(ROOT / "expectations" / "suites", tmp_path / "expectations" / "suites")
    (tmp_path / "data_samples").mkdir()
    shutil.copy(DEMO_CONFIG, tmp_path / "data_samples" / "demo.yaml")
    return tmp_path / "data_samples" / "demo.yaml"
