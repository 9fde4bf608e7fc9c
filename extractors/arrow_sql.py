"""The fast path for SQLite and PostgreSQL sources: ADBC drivers stream Arrow record batches
(PostgreSQL through COPY), so no Python object is built per cell; values become exact text in polars,
rendered once over all batches.

PostgreSQL columns are strictly typed, so Arrow types are exact. SQLite stores any value in any
column except those of TEXT affinity; ADBC would print a mixed column's numbers as `1.000000e+00`.
So each non-TEXT column is selected as exact text (reals with 17 significant digits) beside its
`typeof()`, and reals are re-rendered in shortest form. Other databases, unknown types or a driver
error go the DBAPI way."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import polars as pl
import pyarrow as pa
import sqlalchemy as sa

from extractors.columns import render_float, render_text

DIALECTS = ("sqlite", "postgresql")
TYPE_PREFIX = "__sqlite_type__"


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


def connect(url: sa.URL):
    """An ADBC (Arrow) connection to a SQLite or PostgreSQL database."""
    if url.get_backend_name() == "sqlite":
        import adbc_driver_sqlite.dbapi as driver

        return driver.connect(url.database or ":memory:")
    import adbc_driver_postgresql.dbapi as driver

    return driver.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))


def _text_affinity(column: sa.Column) -> bool:
    """SQLite stores every value of a TEXT-affinity column (declared CHAR, CLOB or TEXT) as text."""
    declared = str(column.type).upper() if not isinstance(column.type, sa.types.NullType) else ""
    return "INT" not in declared and any(word in declared for word in ("CHAR", "CLOB", "TEXT"))


def sqlite_columns(table: sa.Table) -> list:
    """The select list for SQLite: TEXT-affinity columns as they are; every other column as exact
    text plus its storage class."""
    out = []
    for c in table.c:
        if _text_affinity(c):
            out.append(sa.type_coerce(c, sa.types.NullType()).label(c.name))
            continue
        kind = sa.func.typeof(c)
        exact = sa.case((kind == "real", sa.func.printf("%!.17g", c)), else_=sa.cast(c, sa.Text))
        out += [exact.label(c.name), kind.label(TYPE_PREFIX + c.name)]
    return out


def _plain(array: pa.Array) -> pa.Array:
    """PostgreSQL NUMERIC and other opaque types arrive as extension arrays over exact text."""
    return array.storage if isinstance(array, pa.ExtensionArray) else array


@contextmanager
def arrow_read(url: sa.URL, sql: str, count_sql: str) -> Iterator[tuple[int, Iterator[pl.DataFrame]]]:
    """(COUNT(*) of the query, each Arrow batch as a polars frame as it arrives). Both in one read-only
    transaction (PostgreSQL: REPEATABLE READ), so the count is of exactly the rows read."""
    with connect(url) as conn:
        cur = conn.cursor()
        try:
            if url.get_backend_name() == "postgresql":
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute(count_sql)
            counted = int(cur.fetchone()[0])
            if url.get_backend_name() == "sqlite":  # the driver's default of 1,024 rows makes per-batch costs dominate
                cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "65536"})
            cur.execute(sql)
            yield counted, (pl.DataFrame([pl.Series(name, _plain(col)) for name, col in zip(batch.schema.names, batch.columns)])
                            for batch in cur.fetch_record_batch())
        finally:
            cur.close()


def to_text(typed: pl.DataFrame) -> pl.DataFrame:
    """All columns as exact text. Raises TypeError for a column type with no exact rendering."""
    out = []
    for s in typed.iter_columns():
        if s.name.startswith(TYPE_PREFIX):
            continue
        kind = TYPE_PREFIX + s.name
        if kind in typed.columns:  # SQLite: reals were printed with 17 digits; shortest form, like other readers
            is_real = (typed.get_column(kind) == "real").fill_null(False)
            text = render_text(s)
            if is_real.any():
                text = render_float(s.cast(pl.Float64, strict=False)).zip_with(is_real, text)
        else:
            text = render_text(s)
        if text is None:
            raise TypeError(f"column {s.name}: type {s.dtype} has no exact text rendering here")
        out.append(text.alias(s.name))
    return pl.DataFrame(out)


def watermark_of(typed: pl.DataFrame, column: str):
    """The largest value of the watermark column, compared as its type says."""
    s = typed.get_column(column).drop_nulls()
    if not len(s):
        return None
    kind = TYPE_PREFIX + column
    if kind in typed.columns:
        kinds = set(typed.get_column(kind).drop_nulls().unique().to_list())
        if kinds <= {"integer", "real"}:
            return s.cast(pl.Decimal(38, 12)).max()
        return s.max()
    if s.dtype == pl.String:  # PostgreSQL NUMERIC arrives as exact text
        try:
            return s.cast(pl.Decimal(38, 12)).max()
        except pl.exceptions.InvalidOperationError:
            return s.max()
    return s.max()
