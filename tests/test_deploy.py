"""`crm-migrate deploy` against a real Prefect server started here (`prefect server start`): the
deployment is registered with its schedule and parameters, and a worker (`prefect worker start
--run-once`) runs it, with a parameter edited for the run as the UI would."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.helpers import csv_file, project

BIN = Path(sys.executable).parent
HEADER = ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url: str, path: str, body: dict | None = None, method: str | None = None) -> dict | list:
    request = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
        return json.loads(text) if text else {}


@pytest.fixture(scope="module")
def prefect_server():
    """A Prefect server of its own (home, database, port), as docs/operations.md starts one."""
    home = tempfile.mkdtemp(prefix="prefect-server-")
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": home, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api", "PREFECT_LOGGING_LEVEL": "WARNING"}
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = env["PREFECT_API_URL"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            api(url, "/health")
            break
        except OSError:
            if server.poll() is not None:
                pytest.skip(f"prefect server start exited: {server.stderr.read().decode(errors='replace')[-300:]}")
            time.sleep(0.5)
    else:
        server.kill()
        pytest.skip("the Prefect server did not answer within 120 s")
    yield env
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
    shutil.rmtree(home, ignore_errors=True)


def test_a_deployment_is_registered_with_its_schedule_and_run_by_a_worker(prefect_server, tmp_path):
    env, url = prefect_server, prefect_server["PREFECT_API_URL"]
    rows = [[f"C{i}", f"深圳市第{i}测试科技有限公司", None, f"1380013{i:04d}", f"南山区{i}号"] for i in range(1, 6)]
    csv_file(tmp_path / "customers.csv", HEADER, rows)
    target = tmp_path / "target.sqlite"
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}])
    deployed = subprocess.run([str(BIN / "crm-migrate"), "deploy", str(cfg), "--name", "nightly", "--cron", "0 2 * * *",
                               "--timezone", "Asia/Shanghai", "--pool", "test-pool"], env=env, capture_output=True, text=True, timeout=120)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "deployed crm-migrate/nightly" in deployed.stdout and 'schedule "0 2 * * *" Asia/Shanghai' in deployed.stdout

    deployment = api(url, "/deployments/name/crm-migrate/nightly")
    assert deployment["work_pool_name"] == "test-pool" and deployment["entrypoint"] == "pipelines.flow.migrate"
    assert [(s["schedule"]["cron"], s["schedule"]["timezone"]) for s in deployment["schedules"]] == [("0 2 * * *", "Asia/Shanghai")]
    assert deployment["parameters"] == {"config": str(cfg.resolve()), "dry_run": False, "full_refresh": False, "sample": False,
                                        "sample_size": None, "sample_where": None, "phase": None, "cluster": None}
    assert {"config", "dry_run", "full_refresh", "sample", "sample_size", "sample_where", "cluster"} <= set(deployment["parameter_openapi_schema"]["properties"])

    # a run now, with one parameter edited for it (as the UI's "custom run" does): a dry run
    run = api(url, f"/deployments/{deployment['id']}/create_flow_run", {"parameters": {"dry_run": True}}, "POST")
    worker = subprocess.run([str(BIN / "prefect"), "worker", "start", "--pool", "test-pool", "--run-once"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stdout[-2000:] + worker.stderr[-2000:]
    state = api(url, f"/flow_runs/{run['id']}")["state"]
    assert state["type"] == "COMPLETED", state
    assert state["message"].startswith("verdict: pass (dry run); status succeeded; ")
    run_dir = Path(state["message"].rsplit("; ", 1)[1])
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["dry_run"] is True and manifest["counts"]["dispositions"]["loaded"] == 5
    if target.exists():  # a dry run leaves the target as it was: no table, or an empty one
        engine = sa.create_engine(f"sqlite:///{target}")
        assert "crm_account" not in sa.inspect(engine).get_table_names()
        engine.dispose()


def test_deploy_refuses_a_bad_schedule_and_a_missing_server(tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from crm_migrate.errors import MigrationError
    from pipelines.deploy import DeploySpec, register

    spec = DeploySpec(tmp_path / "config.yaml", "nightly", "61 2 * * *")
    with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{_free_port()}/api"}):
        with pytest.raises(MigrationError, match=r"'61 2 \* \* \*' is not a cron schedule"):
            register(spec)
        spec.cron, spec.timezone = "0 2 * * *", "Asia/Shangai"
        with pytest.raises(MigrationError, match="'Asia/Shangai' is not a time zone"):
            register(spec)
        spec.timezone = "Asia/Shanghai"
        with pytest.raises(MigrationError, match="does not answer") as down:
            register(spec)  # nothing listens there
        assert "prefect server start" in down.value.hint and down.value.transient
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings({PREFECT_API_URL: None}), pytest.raises(MigrationError, match="PREFECT_API_URL is not set"):
        register(spec)
