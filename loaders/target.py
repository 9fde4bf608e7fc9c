"""A session on the target database: one transaction that a dry run rolls back.

DDL is the catch: SQLite's driver commits before DDL unless told otherwise, and MySQL/MariaDB commit
implicitly on CREATE TABLE. So a real run creates missing tables first, in their own transaction;
a dry run creates them inside its transaction (SQLite, PostgreSQL) or as TEMPORARY tables
(MySQL/MariaDB), so that nothing survives it.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event

from crm_migrate.db_errors import driver_message, hint_for
from crm_migrate.errors import MigrationError
from crm_migrate.secrets import mask_url
from crm_migrate.transient import is_transient


def make_engine(url: str) -> sa.Engine:
    """An engine on the target. `hide_parameters`: errors never carry the values of a statement."""
    try:
        engine = sa.create_engine(url, hide_parameters=True)
    except Exception as exc:
        raise MigrationError(f"invalid target URL {mask_url(url)}: {exc}", hint="see docs/configuration.md, target.url") from None
    if engine.dialect.name == "sqlite":
        # Let SQLAlchemy, not the driver, open transactions, so DDL is transactional too.
        @event.listens_for(engine, "connect")
        def _no_driver_transactions(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN")

    return engine


PASSING_HINT = ("the connection dropped or a lock got in the way: run again (under Prefect the stage is retried, "
                "operations.retries); nothing of this run was kept")


def _refused(what: str, exc: BaseException, url: str, hint: str) -> MigrationError:
    """The target refused `what`: the driver's first line, and for a passing condition (a dropped
    connection, a deadlock) the retry hint, else `hint` (what to fix)."""
    passing = is_transient(exc)
    return MigrationError(f"{what}: {driver_message(exc)}", file=mask_url(url), transient=passing, hint=PASSING_HINT if passing else hint)


def connect_target(engine: sa.Engine, url: str) -> sa.Connection:
    """A connection to the target, or a clear error naming the masked URL."""
    try:
        return engine.connect()
    except Exception as exc:  # driver errors differ per dialect
        detail = driver_message(exc)
        hint = hint_for(detail, "grant it SELECT, INSERT, UPDATE and CREATE on the target", "check target.url and that the database server is running")
        raise MigrationError(f"cannot connect to the target {mask_url(url)}: {detail}", hint=hint,
                             transient=is_transient(exc)) from None


def _temporary_copy(table: sa.Table) -> sa.Table:
    """The same table as a TEMPORARY one (MySQL's DDL would commit), without its indexes (not needed for
    a scratch table). A copy: the caller's Table stays a real table for a later committed run."""
    copy = table.to_metadata(sa.MetaData())
    copy._prefixes = ["TEMPORARY"]  # what Table(..., prefixes=["TEMPORARY"]) sets
    for ix in list(copy.indexes):
        copy.indexes.discard(ix)
    return copy


class Abandon(Exception):
    """Raised inside a target session to roll it back without failing the caller (the load's proof
    did not hold: nothing of this run may stay in the target)."""


@contextmanager
def target_session(url: str, tables: list[sa.Table], dry_run: bool, setup=None) -> Iterator[sa.Connection]:
    """Yield a connection inside a transaction with every table present; commit, or roll back on dry
    run, failure or Abandon. A write the database refuses becomes a MigrationError naming the table,
    never a driver exception echoing customer data. `setup(engine)`: more DDL of a real run (views),
    before the transaction."""
    engine = make_engine(url)
    try:
        with connect_target(engine, url) as conn:
            existing = set(sa.inspect(conn).get_table_names())
            missing = [t for t in tables if t.name not in existing]
            if missing and not dry_run:
                conn.rollback()
                try:
                    with engine.begin() as ddl:
                        for t in missing:
                            t.create(ddl)
                except sa.exc.DBAPIError as exc:
                    raise _refused("cannot create the target tables", exc, url,
                                   "grant the user CREATE on the target, or create the tables from docs/configuration.md") from None
            if setup is not None and not dry_run:
                if conn.in_transaction():
                    conn.rollback()
                try:
                    setup(engine)
                except sa.exc.DBAPIError as exc:
                    raise _refused("cannot create the target's views", exc, url, "grant the user CREATE VIEW on the target") from None
            conn.info["created_in_session"] = {t.name for t in missing} if dry_run else set()  # not visible to other connections
            if not conn.in_transaction():  # committed and rolled back through conn: a batched load commits on the way
                conn.begin()
            if missing and dry_run:
                temporary = engine.dialect.name in ("mysql", "mariadb")
                for t in missing:
                    (_temporary_copy(t) if temporary else t).create(conn)
            try:
                yield conn
            except Abandon:
                conn.rollback()
                return
            except sa.exc.DBAPIError as exc:
                conn.rollback()
                raise _refused("the target refused a write", exc, url, "nothing of this run was kept (the transaction was rolled back); "
                               "run `crm-migrate check` to compare the target's tables with the mapping") from None
            except BaseException:
                conn.rollback()
                raise
            if dry_run:
                conn.rollback()
            else:
                conn.commit()
    finally:
        engine.dispose()


def sqlite_file(url: str | sa.URL) -> Path | None:
    """The file of a SQLite target; None for another database, an in-memory one or a `file:` URI."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def new_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite target that does not exist yet (connecting creates it), else None."""
    path = sqlite_file(url)
    return None if path is None or path.exists() else path


def remove_if_empty(path: Path) -> None:
    """A dry run against a SQLite target that did not exist leaves no file behind: the database the
    checks and the rolled-back load created (no tables in it), and its lock file."""
    import sqlite3

    if path.exists():
        with sqlite3.connect(path) as con:
            tables = con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
        if tables:
            return
        path.unlink()
    path.with_name(path.name + ".crm-migrate.lock").unlink(missing_ok=True)
