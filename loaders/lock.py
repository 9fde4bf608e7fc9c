"""One run at a time per target: a lock held for the whole run.

Two runs against one target would both read the target's current rows, both insert the same new
rows (a crash) or both count the same updates. So every run (dry runs too: their plan is read from
the target) takes a lock first and holds it to the end:
- PostgreSQL: a session-level advisory lock; the holder's connection carries `crm-migrate <run id>`
  as its application_name, so a waiting run can name it (pg_locks joined to pg_stat_activity);
- MySQL/MariaDB: GET_LOCK() on a name derived from the database; the holder is named by its
  connection (id, user, host, time held) from the process list;
- SQLite: an exclusive flock on `<database>.crm-migrate.lock` beside the file, holding the run id.
All three are released by the database or the operating system when the holder dies (kill -9
included), so a crashed run never leaves a stale lock. A second run waits up to `wait_seconds`,
then fails with a clear message naming the holder.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from crm_migrate.errors import LockTimeout, MigrationError
from crm_migrate.secrets import mask_url
from loaders.target import connect_target

POLL_SECONDS = 0.5


def _key(url: sa.URL) -> tuple[int, int]:
    """Two 31-bit integers for pg_advisory_lock(int, int), stable for one database."""
    digest = hashlib.sha1(f"crm-migrate:{url.host}:{url.port}:{url.database}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF, int.from_bytes(digest[4:8], "big") & 0x7FFFFFFF


def _lock_name(url: sa.URL) -> str:
    return f"crm_migrate:{url.database}"[:64]  # MySQL lock names are at most 64 characters


@dataclass
class TargetLock:
    """A held lock; `release()` gives it back (also done by the database or OS when the process dies)."""

    description: str
    _release: Callable[[], None]

    def release(self) -> None:
        release, self._release = self._release, (lambda: None)
        release()


def _wait(try_once: Callable[[], bool], wait_seconds: float) -> bool:
    deadline = time.monotonic() + wait_seconds
    while True:
        if try_once():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def _sqlite(url: sa.URL, run_id: str, wait_seconds: float) -> TargetLock:
    import fcntl

    database = Path(url.database)
    if not database.parent.exists():  # the preflight check names the missing folder
        return TargetLock("no folder: no lock", lambda: None)
    path = database.with_name(database.name + ".crm-migrate.lock")
    try:
        fh = open(path, "a+", encoding="utf-8")
    except OSError as exc:
        raise MigrationError(f"cannot create the lock file {path.name} beside the target: {exc.strerror}", file=str(database),
                             hint="give the user running crm-migrate write access to the target's folder") from None

    def try_once() -> bool:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    if not _wait(try_once, wait_seconds):
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        try:
            info = json.loads(holder)
            who = f"run {info['run_id']} (pid {info['pid']} on {info['host']}, since {info['since']})"
        except (ValueError, KeyError, TypeError):
            who = "another crm-migrate run"
        raise LockTimeout(f"the target is locked by {who}; waited {wait_seconds:g} s", file=str(database),
                          hint="wait for that run to finish, or raise target.lock_wait_seconds")
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps({"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                         "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
    fh.flush()

    def release() -> None:
        fh.seek(0)
        fh.truncate()
        fh.close()  # closing drops the flock

    return TargetLock(f"lock file {path.name}", release)


def _postgresql(engine: sa.Engine, run_id: str, wait_seconds: float) -> TargetLock:
    k1, k2 = _key(engine.url)
    conn = connect_target(engine, str(engine.url)).execution_options(isolation_level="AUTOCOMMIT")
    conn.exec_driver_sql("SELECT set_config('application_name', %(n)s, false)", {"n": f"crm-migrate {run_id}"[:63]})

    def try_once() -> bool:
        return bool(conn.exec_driver_sql("SELECT pg_try_advisory_lock(%(a)s, %(b)s)", {"a": k1, "b": k2}).scalar())

    if not _wait(try_once, wait_seconds):
        row = conn.exec_driver_sql(
            "SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.classid = %(a)s AND l.objid = %(b)s AND l.granted", {"a": k1, "b": k2}).first()
        conn.close()
        who = (f"{row[0] or 'another session'} (from {row[1] or 'a local socket'}, connected since {str(row[2])[:19]})"
               if row else "another crm-migrate run")
        raise LockTimeout(f"the target is locked by {who}; waited {wait_seconds:g} s", file=mask_url(str(engine.url)),
                          hint="wait for that run to finish, or raise target.lock_wait_seconds")

    def release() -> None:
        try:
            conn.exec_driver_sql("SELECT pg_advisory_unlock(%(a)s, %(b)s)", {"a": k1, "b": k2})
        finally:
            conn.close()

    return TargetLock(f"advisory lock ({k1}, {k2})", release)


def _mysql(engine: sa.Engine, run_id: str, wait_seconds: float) -> TargetLock:
    name = _lock_name(engine.url)
    conn = connect_target(engine, str(engine.url)).execution_options(isolation_level="AUTOCOMMIT")
    got = conn.exec_driver_sql("SELECT GET_LOCK(%(n)s, %(t)s)", {"n": name, "t": max(0, int(round(wait_seconds)))}).scalar()
    if got != 1:
        row = conn.exec_driver_sql(
            "SELECT p.ID, p.USER, p.HOST, p.TIME FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK(%(n)s)",
            {"n": name}).first()
        conn.close()
        who = f"connection {row[0]} ({row[1]}@{row[2]}, holding it for {row[3]} s)" if row else "another crm-migrate run"
        raise LockTimeout(f"the target is locked by {who}; waited {wait_seconds:g} s", file=mask_url(str(engine.url)),
                          hint="wait for that run to finish (the other run's run folder shows its status), or raise target.lock_wait_seconds")

    def release() -> None:
        try:
            conn.exec_driver_sql("SELECT RELEASE_LOCK(%(n)s)", {"n": name})
        finally:
            conn.close()

    return TargetLock(f"GET_LOCK('{name}')", release)


def acquire(engine: sa.Engine, run_id: str, wait_seconds: float) -> TargetLock:
    """Take the target's lock, waiting up to `wait_seconds`; raise LockTimeout naming the holder."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        if not engine.url.database or engine.url.database == ":memory:":
            return TargetLock("in-memory database: no lock", lambda: None)
        return _sqlite(engine.url, run_id, wait_seconds)
    if dialect == "postgresql":
        return _postgresql(engine, run_id, wait_seconds)
    if dialect in ("mysql", "mariadb"):
        return _mysql(engine, run_id, wait_seconds)
    return TargetLock(f"no lock for {dialect}: do not run two migrations against this target at once", lambda: None)
