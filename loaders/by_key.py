"""Read a few target rows by key, as the target holds them now (the sign-off sample shows the
reviewer today's row, not the run's copy of it, when the target can be reached).

Unlike loaders/bulk.read_rows, which reads whole tables for a load or a reconcile, this reads only
the rows asked for: `WHERE column IN (...)` in chunks (a database limits the parameters of one
statement: SQLite to 32,766, older versions to 999)."""
from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from loaders.schema import target_table
from transforms.mapping import ColumnSpec

CHUNK = 500


def read_by_keys(conn: sa.Connection, name: str, key: str, columns: list[ColumnSpec], where_column: str, values: list[str],
                 schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The rows of table `name` (the target mapping's table: its key and column specs) whose
    `where_column` is one of `values`, as a frame of `schema` (the columns of it the table has;
    those it lacks stay empty). Values are bound parameters, never spliced into the SQL."""
    table = target_table(sa.MetaData(), name, key, columns)
    present = {c["name"] for c in sa.inspect(conn).get_columns(name)}
    read = [c for c in schema if c in present and c in table.c]
    rows: list[tuple] = []
    for off in range(0, len(values), CHUNK):
        chunk = values[off:off + CHUNK]
        rows += [tuple(r) for r in conn.execute(sa.select(*(table.c[c] for c in read)).where(table.c[where_column].in_(chunk))).all()]
    frame = pl.DataFrame(rows, schema={c: schema[c] for c in read}, orient="row", strict=False)
    return frame.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c not in read).select(list(schema))
