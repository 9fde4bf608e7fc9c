"""Operations: a transient database failure is retried with backoff under Prefect and a data error is
not; the failure webhook hears of a run that needs a person, and a dead webhook never fails a run."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_migrate.errors import MigrationError
from crm_migrate.transient import is_transient
from pipelines.run import run_pipeline
from tests.helpers import csv_file, project

HEADER = ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"]
ROWS = [[f"C{i}", f"深圳市第{i}测试科技有限公司", None, f"1380013{i:04d}", f"南山区{i}号"] for i in range(1, 6)]


class FlakyProxy:
    """A TCP proxy in front of a database server that drops the first `drop` connections at once (as a
    restarting server or a flapping network does), then forwards every later one."""

    def __init__(self, host: str, port: int, drop: int) -> None:
        self.target, self.drop, self.accepted = (host, port), drop, 0
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.drop:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def task_runs(flow_run_id) -> dict[str, int]:
    """Stage name -> how many times Prefect ran it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read():
        async with get_client() as client:
            return await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))

    return {r.name.rsplit("-", 1)[0]: r.run_count for r in asyncio.run(read())}


def test_a_dropped_connection_is_retried_and_a_data_error_is_not(prefect_harness, pg_url, tmp_path):
    from pipelines.flow import migrate

    url = sa.make_url(pg_url)
    proxy = FlakyProxy(url.host or "127.0.0.1", url.port or 5432, drop=2)
    flaky = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    csv_file(tmp_path / "customers.csv", HEADER, ROWS)
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}],
                  target_url=flaky, operations={"retries": 3, "retry_delay_seconds": 0.2})
    try:
        state = migrate(str(cfg), return_state=True)
    finally:
        proxy.close()
    assert state.is_completed(), state.message
    assert state.result()["status"] == "succeeded" and proxy.accepted > 2
    runs = task_runs(state.state_details.flow_run_id)
    assert runs["preflight"] == 3 and runs["extract"] == 1  # two dropped connections, two retries, then through

    (tmp_path / "customers.csv").unlink()  # a data error: the source file is gone
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}],
                  target_url=pg_url, operations={"retries": 3, "retry_delay_seconds": 0.2})
    state = migrate(str(cfg), return_state=True)
    assert state.is_failed()
    assert task_runs(state.state_details.flow_run_id)["extract"] == 1  # tried once: retrying cannot bring a file back


def test_transient_and_permanent_errors_of_real_drivers(pg_url, tmp_path):
    """Real driver errors, classified: a refused connection is transient; a wrong database or a
    missing table is not."""
    from loaders.target import connect_target, make_engine

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    refused = sa.make_url(pg_url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    with pytest.raises(MigrationError) as exc:
        connect_target(make_engine(refused), refused)
    assert exc.value.transient and is_transient(exc.value)
    missing_db = sa.make_url(pg_url).set(database="no_such_database_here").render_as_string(hide_password=False)
    with pytest.raises(MigrationError) as exc:
        connect_target(make_engine(missing_db), missing_db)
    assert not exc.value.transient
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as exc:
        conn.execute(sa.text("SELECT * FROM no_such_table_here"))
    assert not is_transient(exc.value)
    engine.dispose()


def test_a_real_deadlock_is_transient(any_db_url):
    """Two sessions update two rows in opposite order: the database kills one with a deadlock error
    (PostgreSQL 40P01, MariaDB 1213; SQLite: 'database is locked'), which counts as transient."""
    engine = sa.create_engine(any_db_url, connect_args={"timeout": 0.5} if any_db_url.startswith("sqlite") else {})
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS deadlock_probe"))
        conn.execute(sa.text("CREATE TABLE deadlock_probe (id INTEGER PRIMARY KEY, v INTEGER)"))
        conn.execute(sa.text("INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)"))
    errors: list[BaseException] = []
    barrier = threading.Barrier(2, timeout=10)

    def worker(first: int, second: int) -> None:
        try:
            with engine.connect() as conn:
                if any_db_url.startswith("sqlite"):
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    conn.begin()
                conn.execute(sa.text("UPDATE deadlock_probe SET v = v + 1 WHERE id = :i"), {"i": first})
                barrier.wait()
                conn.execute(sa.text("UPDATE deadlock_probe SET v = v + 1 WHERE id = :i"), {"i": second})
                conn.commit()
        except threading.BrokenBarrierError:
            pass
        except Exception as exc:  # noqa: BLE001 - the deadlock victim's error is what the test reads
            errors.append(exc)
            try:
                barrier.abort()
            except Exception:  # noqa: BLE001
                pass

    threads = [threading.Thread(target=worker, args=(1, 2)), threading.Thread(target=worker, args=(2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE deadlock_probe"))
    engine.dispose()
    assert errors and all(is_transient(e) for e in errors), [str(e)[:200] for e in errors]


class Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append({"path": self.path, "body": json.loads(body.decode("utf-8"))})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def webhook():
    Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/crm?token=s3cr3t-token"
    server.shutdown()


def test_the_webhook_hears_of_a_stopped_run_and_not_of_a_good_one(webhook, tmp_path):
    csv_file(tmp_path / "customers.csv", HEADER, ROWS)
    source = [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}]
    ok = run_pipeline(project(tmp_path, source, operations={"notify": {"webhook": webhook}}))
    assert ok["status"] == "succeeded" and Hook.received == []  # the default `statuses` leave out succeeded runs

    csv_file(tmp_path / "customers.csv", HEADER, [[f"C{i}", "", None, "13800138000", "x"] for i in range(5)])  # every name empty
    cfg = project(tmp_path, source, operations={"notify": {"webhook": webhook}},
                  validation={"suites": {"canonical": {"customer": str(Path(__file__).resolve().parent.parent / "expectations" / "suites" / "customer_canonical.json")}}})
    with pytest.raises(MigrationError):
        run_pipeline(cfg)
    (call,) = Hook.received
    body = call["body"]
    assert call["path"] == "/hooks/crm?token=s3cr3t-token"
    assert body["status"] == "stopped_at_gate" and body["project"] == "test" and body["verdict"]["result"] == "fail"
    assert Path(body["run_dir"]).is_dir() and body["text"].startswith("crm-migrate test: run ") and "stopped_at_gate" in body["text"]
    text = json.dumps(body, ensure_ascii=False)
    assert "13800138000" not in text and "s3cr3t-token" not in text  # no customer value, no secret


def test_a_dead_webhook_never_fails_the_run(tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    csv_file(tmp_path / "customers.csv", HEADER, ROWS)
    lines: list[str] = []
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}],
                  operations={"notify": {"webhook": f"http://127.0.0.1:{port}/x?token=abc123", "statuses": ["succeeded"], "timeout_seconds": 2}})
    manifest = run_pipeline(cfg, progress=lambda stage, msg: lines.append(f"{stage}: {msg}"))
    assert manifest["status"] == "succeeded"
    notes = [line for line in lines if line.startswith("notify:")]
    assert len(notes) == 1 and "could not be reached" in notes[0] and "abc123" not in notes[0]
