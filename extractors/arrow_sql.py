"""The fast path for SQLite and PostgreSQL sources: ADBC drivers stream Arrow record batches
(PostgreSQL through COPY), so no Python object is built per cell; values become exact text in polars.

Used only where it is exact: PostgreSQL columns are strictly typed; a SQLite table qualifies when
each column holds one storage class (ADBC would print a mixed column's numbers as `1.000000e+00`).
Anything else (other databases, unknown types, a driver error) goes the DBAPI way."""
from __future__ import annotations

from typing import Iterator

import polars as pl
import pyarrow as pa
import sqlalchemy as sa

from extractors.columns import render_text

DIALECTS = ("sqlite", "postgresql")


def supported(url: sa.URL) -> bool:
    if url.get_backend_name() not in DIALECTS:
        return False
    try:
        if url.get_backend_name() == "sqlite":
            import adbc_driver_sqlite.dbapi  # noqa: F401
        else:
            import adbc_driver_postgresql.dbapi  # noqa: F401
    except ImportError:
        return False
    return True


def _connect(url: sa.URL):
    if url.get_backend_name() == "sqlite":
        import adbc_driver_sqlite.dbapi as driver

        return driver.connect(url.database or ":memory:")
    import adbc_driver_postgresql.dbapi as driver

    return driver.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))


def sqlite_column_plan(conn: sa.Connection, table: sa.Table) -> dict[str, str] | None:
    """One scan over the table: per column `as_is` (one storage class, NULLs aside) or `real`
    (integers and reals mixed, as NUMERIC affinity stores them; exact as doubles below 2**53).
    None when a column mixes anything else: the DBAPI path reads it exactly."""
    plan = {c.name: "as_is" for c in table.c}
    suspects = [c for c in table.c if not _text_affinity(c)]
    if not suspects:
        return plan
    checks = []
    for c in suspects:
        kind = sa.case((c.is_not(None), sa.func.typeof(c)))
        checks += [sa.func.min(kind), sa.func.max(kind), sa.func.max(sa.case((sa.func.typeof(c) == "integer", sa.func.abs(c))))]
    row = conn.execute(sa.select(*checks).select_from(table)).one()
    for i, c in enumerate(suspects):
        low, high, biggest = row[3 * i: 3 * i + 3]
        if low == high:
            continue
        if (low, high) == ("integer", "real") and (biggest or 0) < 2**53:
            plan[c.name] = "real"
        else:
            return None
    return plan


def _text_affinity(column: sa.Column) -> bool:
    """SQLite stores every value of a TEXT-affinity column (declared CHAR, CLOB or TEXT) as text."""
    declared = str(column.type).upper() if not isinstance(column.type, sa.types.NullType) else ""
    return "INT" not in declared and any(word in declared for word in ("CHAR", "CLOB", "TEXT"))


def _plain(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    """PostgreSQL NUMERIC and other opaque types arrive as extension arrays over exact text."""
    return array.storage if isinstance(array, pa.ExtensionArray) else array


def batches(url: sa.URL, sql: str) -> Iterator[pa.RecordBatch]:
    with _connect(url) as conn:
        cur = conn.cursor()
        try:
            if url.get_backend_name() == "sqlite":  # the driver's default of 1,024 rows makes per-batch costs dominate
                cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "65536"})
            cur.execute(sql)
            yield from cur.fetch_record_batch()
        finally:
            cur.close()


def batch_to_text(batch: pa.RecordBatch) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(text frame, typed frame). Raises TypeError for a column type with no exact rendering."""
    typed = pl.DataFrame([pl.Series(name, _plain(col)) for name, col in zip(batch.schema.names, batch.columns)])
    out = []
    for s in typed.iter_columns():
        text = render_text(s)
        if text is None:
            raise TypeError(f"column {s.name}: type {s.dtype} has no exact text rendering here")
        out.append(text.alias(s.name))
    return pl.DataFrame(out), typed
