"""Read back what the target holds for the keys this run is responsible for."""
from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from loaders.upsert import read_table


def read_back(conn: sa.Connection, table: sa.Table, expected: pl.DataFrame, key: str) -> pl.DataFrame:
    current = read_table(conn, table, expected.schema)
    return current.join(expected.select(key), on=key, how="semi")


def held_values(url: str, table: str, key: str, columns: list[str]) -> dict[str, pl.DataFrame]:
    """Column -> (key, value) rows the target table holds now, for the columns a run keeps once set
    (target-side numbers); empty where the table or the column does not exist yet."""
    from loaders.target import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            if not columns or table not in inspector.get_table_names():
                return {}
            present = {c["name"] for c in inspector.get_columns(table)}
            t = sa.table(table, *(sa.column(c) for c in [key, *columns] if c in present))
            out = {}
            for column in columns:
                if column in present and key in present:
                    rows = conn.execute(sa.select(t.c[key], t.c[column]).where(t.c[column].is_not(None))).all()
                    out[column] = pl.DataFrame(rows, schema={"key": pl.String, "number": pl.String}, orient="row")
            return out
    finally:
        engine.dispose()
