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


def read_table(conn: sa.Connection, table: sa.Table, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return read_rows(conn, table, schema)


def upsert(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame, key: str, batch_size: int) -> tuple[UpsertResult, TableChanges]:
    """Write what the plan says (transforms/plan.py), through the engine's bulk path (loaders/bulk.py),
    and return the counts and the plan itself (its `before` rows are the before-images a rollback
    restores)."""
    changes = plan_table(table.name, frame, read_table(conn, table, frame.schema), key)
    insert_rows(conn, table, changes.new, batch_size)
    update_rows(conn, table, changes.updated, key, batch_size)
    return UpsertResult(table.name, changes.new.height, changes.updated.height, changes.unchanged), changes


def append(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame, batch_size: int) -> int:
    insert_rows(conn, table, frame, batch_size)
    return frame.height
