"""Check the target before any data moves: reachable, writable, and its existing tables able to take
what the mapping writes.

A run that finds out at load time that the target is read-only, that its folder does not exist, or
that an existing table has other columns, has already spent its time and fails with a driver error.
`crm-migrate check` and the start of every run call `check_target`, which reflects the existing
tables, compares their columns and types with the mapping, and tries a write inside a transaction
that is rolled back. Every problem found is reported at once, each with what to do.
"""
from __future__ import annotations

import os
import uuid

import sqlalchemy as sa

from crm_migrate.errors import MigrationError
from crm_migrate.secrets import mask_url
from crm_migrate.db_errors import driver_message
from loaders.target import connect_target, make_engine, sqlite_file

# Mapping type -> the reflected SQLAlchemy type families that can hold it.
_COMPATIBLE = {
    "string": (sa.String,),  # VARCHAR, CHAR, TEXT, NVARCHAR ... (all String subclasses)
    "integer": (sa.Integer, sa.Numeric),
    "decimal": (sa.Numeric,),
    "float": (sa.Float, sa.Numeric),
    "date": (sa.Date, sa.DateTime),
    "datetime": (sa.DateTime,),
    "boolean": (sa.Boolean, sa.Integer),  # MySQL's BOOL is TINYINT(1)
}


def _column_problems(table: sa.Table, reflected: list[dict], specs: dict) -> list[str]:
    problems = []
    have = {c["name"]: c for c in reflected}
    for col in table.c:
        spec = specs.get(col.name)
        existing = have.get(col.name)
        if existing is None:
            problems.append(f"table {table.name} has no column {col.name} (the mapping writes it): add the column, "
                            "or map to a column that exists")
            continue
        if spec is None:  # the ledger table: its own columns
            continue
        kind, length, precision, scale = spec
        found = existing["type"]
        if not isinstance(found, _COMPATIBLE[kind]):
            problems.append(f"column {table.name}.{col.name} is {found} in the target; the mapping writes {kind}: "
                            "change the mapping's type or the column")
            continue
        if kind == "string" and length and getattr(found, "length", None) and found.length < length:
            problems.append(f"column {table.name}.{col.name} is {found} in the target, shorter than the mapping's length {length}: "
                            f"set length: {found.length} in the mapping (longer values are then reported before loading) or widen the column")
        if kind == "decimal" and getattr(found, "scale", None) is not None and found.scale < scale:
            problems.append(f"column {table.name}.{col.name} is {found} in the target with fewer decimals than the mapping's scale {scale}")
        if kind == "decimal" and getattr(found, "precision", None) and found.precision < precision:
            problems.append(f"column {table.name}.{col.name} is {found} in the target with fewer digits than the mapping's precision {precision}")
    written = {c.name for c in table.c}
    for name, existing in have.items():
        filled_by_database = existing.get("default") is not None or existing.get("autoincrement") is True \
            or existing.get("identity") or existing.get("computed")
        if name in written or existing.get("nullable", True) or filled_by_database:
            continue
        problems.append(f"column {table.name}.{name} is NOT NULL without a default and the mapping does not fill it: "
                        "map a value to it (a constant or a canonical field) or give it a default")
    return problems


def sqlite_file_problems(url: str | sa.URL) -> list[str]:
    """A SQLite target's folder missing, or the file or folder not writable."""
    path = sqlite_file(url)
    if path is None:
        return []
    folder = path.parent
    if not folder.exists():
        return [f"the folder of the SQLite target does not exist: {folder} (create it, or fix target.url)"]
    if path.exists() and not os.access(path, os.W_OK):
        return [f"the SQLite target {path} is read-only for this user: give write access or choose another file"]
    if not os.access(folder, os.W_OK):
        return [f"the folder {folder} is not writable: SQLite needs to create its journal there"]
    return []


def _probe_writes(conn: sa.Connection, tables: list[sa.Table], existing: set[str]) -> list[str]:
    """Inside a transaction that is rolled back: create what is missing and write nothing into what
    exists (a zero-row INSERT and UPDATE still check privileges and read-only mode)."""
    problems = []
    dialect = conn.dialect.name
    transactional_ddl = dialect in ("sqlite", "postgresql")
    trans = conn.begin()
    try:
        for t in tables:  # a zero-row INSERT still takes SQLite's write lock, so a read-only file refuses it
            try:
                if t.name in existing:
                    cols = list(t.c)  # every column written: MySQL checks NOT NULL columns even for zero rows
                    conn.execute(sa.insert(t).from_select(cols, sa.select(*cols).where(sa.false())))
                    conn.execute(sa.update(t).where(sa.false()).values({cols[0].name: cols[0]}))
                elif transactional_ddl:
                    t.create(conn)
                else:  # MySQL/MariaDB DDL commits: test the privilege on a scratch table, then drop it
                    probe = sa.Table(f"crm_migrate_probe_{uuid.uuid4().hex[:8]}", sa.MetaData(), sa.Column("x", sa.Integer))
                    probe.create(conn)
                    probe.drop(conn)
            except sa.exc.DBAPIError as exc:
                problems.append(f"cannot write to {'table ' + t.name if t.name in existing else 'create table ' + t.name}: "
                                f"{driver_message(exc)}")
                break
    finally:
        trans.rollback()
    return problems


def check_target(url: str, tables: list[sa.Table], specs: dict[str, dict]) -> list[str]:
    """What was checked, line by line; raises MigrationError listing every problem found.

    `tables`: the SQLAlchemy tables a run writes (target tables and the ledger); `specs`: per table name,
    column -> (type, length, precision, scale) from the mapping (absent for the ledger table)."""
    engine = make_engine(url)
    where = mask_url(url)
    lines, problems = [], []
    try:
        if engine.dialect.name == "sqlite":
            problems += sqlite_file_problems(engine.url)
            if problems:
                raise MigrationError("the target cannot be written:\n  - " + "\n  - ".join(problems), file=where,
                                     hint="nothing was read or written; fix the target and run again")
        with connect_target(engine, url) as conn:
            inspector = sa.inspect(conn)
            existing = set(inspector.get_table_names())
            for t in tables:
                if t.name in existing:
                    problems += _column_problems(t, inspector.get_columns(t.name), specs.get(t.name, {}))
            present = [t.name for t in tables if t.name in existing]
            lines.append(f"target {where} reachable; tables present: {', '.join(present) or 'none yet (a run creates them)'}")
            if conn.in_transaction():
                conn.rollback()
            if not problems:
                problems += _probe_writes(conn, tables, existing)
            if not problems:
                lines.append("target writable: a test write inside a rolled-back transaction succeeded")
    finally:
        engine.dispose()
    if problems:
        raise MigrationError("the target cannot take this migration:\n  - " + "\n  - ".join(problems), file=where,
                             hint="nothing was read or written; fix the target or the target mapping and run again")
    return lines
