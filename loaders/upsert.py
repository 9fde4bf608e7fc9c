"""Idempotent bulk upsert keyed by the stable external id.

The target's current rows for the table are read once and compared column by column with what
should be there: new keys are inserted, changed rows updated, equal rows left alone. A re-run with
the same input therefore writes nothing, and the counts say so.
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from loaders.bulk import insert_rows, read_rows, update_rows
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


def read_table(conn: sa.Connection, table: sa.Table, schema: dict[str, pl.DataType], before_writes: bool = False) -> pl.DataFrame:
    return read_rows(conn, table, schema, before_writes)


def upsert(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame, key: str, batch_size: int,
           current: pl.DataFrame | None = None) -> tuple[UpsertResult, TableChanges]:
    """Write what the plan says (transforms/plan.py), through the engine's bulk path (loaders/bulk.py),
    and return the counts and the plan itself (its `before` rows are the before-images a rollback
    restores). `current`: the table as read before (else it is read now)."""
    if current is None:
        current = read_table(conn, table, frame.schema)
    changes = plan_table(table.name, frame, current, key)
    insert_rows(conn, table, changes.new, batch_size)
    update_rows(conn, table, changes.updated, key, batch_size)
    return UpsertResult(table.name, changes.new.height, changes.updated.height, changes.unchanged), changes


def upsert_all(conn: sa.Connection, items: list[tuple[sa.Table, pl.DataFrame, str]], batch_size: int) -> list[tuple[UpsertResult, TableChanges]]:
    """Every table read first, then each written in order (accounts before the opportunities that
    point at them): the reads see the target as the run found it, and a SQLite read may use a second
    connection (Arrow) while this one has written nothing yet."""
    currents = [read_table(conn, table, frame.schema, before_writes=True) for table, frame, _ in items]
    return [upsert(conn, table, frame, key, batch_size, current) for (table, frame, key), current in zip(items, currents)]


def append(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame, batch_size: int) -> int:
    insert_rows(conn, table, frame, batch_size)
    return frame.height
