"""Read back what the target holds for the keys this run is responsible for."""
from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from loaders.upsert import read_table


def read_back(conn: sa.Connection, table: sa.Table, expected: pl.DataFrame, key: str) -> pl.DataFrame:
    current = read_table(conn, table, expected.schema)
    return current.join(expected.select(key), on=key, how="semi")
