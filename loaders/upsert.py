"""Idempotent bulk upsert keyed by the stable external id.

The target's current rows for the table are read once and compared column by column with what
should be there: new keys are inserted, changed rows updated, equal rows left alone. A re-run with
the same input therefore writes nothing, and the counts say so.
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from transforms.plan import TableChanges, plan_table


@dataclass
class UpsertResult:
    table: str
    inserted: int
    updated: int
    unchanged: int

    @property
    def written(self) -> int:
        return self.inserted + self.updated


def read_table(conn: sa.Connection, table: sa.Table, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    rows = conn.execute(sa.select(*[table.c[c] for c in schema])).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row", strict=False)


def _batches(frame: pl.DataFrame, size: int):
    for offset in range(0, frame.height, size):
        yield frame.slice(offset, size).to_dicts()


def upsert(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame, key: str, batch_size: int) -> tuple[UpsertResult, TableChanges]:
    """Write what the plan says (transforms/plan.py) and return the counts and the plan itself (its
    `before` rows are the before-images a rollback restores)."""
    changes = plan_table(table.name, frame, read_table(conn, table, frame.schema), key)
    for batch in _batches(changes.new, batch_size):
        conn.execute(table.insert(), batch)
    if changes.updated.height:
        cols = [c for c in changes.updated.columns if c != key]
        stmt = table.update().where(table.c[key] == sa.bindparam("__key")).values({c: sa.bindparam(c) for c in cols})
        for batch in _batches(changes.updated.rename({key: "__key"}), batch_size):
            conn.execute(stmt, batch)
    return UpsertResult(table.name, changes.new.height, changes.updated.height, changes.unchanged), changes


def append(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame, batch_size: int) -> int:
    for batch in _batches(frame, batch_size):
        conn.execute(table.insert(), batch)
    return frame.height
