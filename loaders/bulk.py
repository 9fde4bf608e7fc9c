"""Bulk reads and writes on the load's own connection (inside its transaction), per engine:

- PostgreSQL: COPY … FROM STDIN to insert, updates through a temporary staging table filled by COPY
  and one UPDATE … FROM (psycopg 3); reads through a second, Arrow (ADBC) connection before the load
  writes anything, else COPY … TO STDOUT;
- MariaDB/MySQL: the driver's executemany (PyMySQL sends multi-row INSERTs), updates through a
  TEMPORARY staging table and one UPDATE … JOIN;
- SQLite: executemany in large batches; reads like PostgreSQL's, through Arrow before any write.

Values go through SQLAlchemy's own bind processors (a SQLite datetime is stored as SQLAlchemy
stores it), so rows written here read back exactly like rows written by SQLAlchemy."""
from __future__ import annotations

import io

import polars as pl
import sqlalchemy as sa

from crm_migrate import progress

NULL = "\\N"  # what COPY FROM reads as NULL (unquoted); a quoted \N stays text
# What reads write for NULL: COPY TO quotes every value (FORCE_QUOTE), so an empty text stays "" and a
# text \N stays text, but polars cannot tell quoted from unquoted: a marker no text holds.
OUT_NULL = "\x01N\x01"
UNIT = "\x1f"  # joins a MySQL row's values (a value holding it makes the read fall back)


def _pg(conn: sa.Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _mysql(conn: sa.Connection) -> bool:
    return conn.dialect.name in ("mysql", "mariadb")


def _quote(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _csv(frame: pl.DataFrame) -> bytes:
    """CSV for COPY: NULL as \\N unquoted, every text quoted (a text \\N stays text)."""
    return frame.write_csv(include_header=False, null_value=NULL, quote_style="non_numeric",
                           datetime_format="%Y-%m-%d %H:%M:%S%.f", date_format="%Y-%m-%d").encode("utf-8")


def _copy_in(conn: sa.Connection, table: str, frame: pl.DataFrame) -> None:
    cols = ", ".join(_quote(conn, c) for c in frame.columns)
    cur = conn.connection.driver_connection.cursor()
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv, NULL '{NULL}')") as copy:
        copy.write(_csv(frame))


def _processed_rows(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> list[tuple]:
    """The frame's rows as the driver takes them, each value through its column's bind processor."""
    procs = [table.c[c].type._cached_bind_processor(conn.dialect) for c in frame.columns]
    columns = [s.to_list() if p is None else [None if v is None else p(v) for v in s.to_list()] for s, p in zip(frame.get_columns(), procs)]
    return list(zip(*columns)) if columns else []


def _executemany(conn: sa.Connection, sql: str, table: sa.Table, frame: pl.DataFrame, batch_size: int) -> None:
    cur = conn.connection.driver_connection.cursor()
    for off in range(0, frame.height, batch_size):
        cur.executemany(sql, _processed_rows(conn, table, frame.slice(off, batch_size)))
        progress.report(f"{table.name} rows written", min(off + batch_size, frame.height), frame.height)


def _marks(conn: sa.Connection, n: int) -> str:
    return ", ".join(["%s" if _mysql(conn) else "?"] * n)


def insert_rows(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame, batch_size: int) -> None:
    if not frame.height:
        return
    name = _quote(conn, table.name)
    if _pg(conn):
        _copy_in(conn, name, frame)
        return
    cols = ", ".join(_quote(conn, c) for c in frame.columns)
    _executemany(conn, f"INSERT INTO {name} ({cols}) VALUES ({_marks(conn, frame.width)})", table, frame, max(batch_size, 20_000))


def update_rows(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame, key: str, batch_size: int) -> None:
    """Set every column of the frame's rows, found by `key`."""
    if not frame.height:
        return
    name, q = _quote(conn, table.name), lambda c: _quote(conn, c)
    values = [c for c in frame.columns if c != key]
    if _pg(conn) or _mysql(conn):
        stage = _quote(conn, f"__stage_{table.name}")
        if _pg(conn):
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {stage} (LIKE {name}) ON COMMIT DROP")
            _copy_in(conn, stage, frame)
            sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in values)
            conn.exec_driver_sql(f"UPDATE {name} AS t SET {sets} FROM {stage} AS s WHERE t.{q(key)} = s.{q(key)}")
        else:  # a TEMPORARY table's DDL does not commit the transaction
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {stage} LIKE {name}")
            cols = ", ".join(q(c) for c in frame.columns)
            _executemany(conn, f"INSERT INTO {stage} ({cols}) VALUES ({_marks(conn, frame.width)})", table, frame, max(batch_size, 20_000))
            sets = ", ".join(f"t.{q(c)} = s.{q(c)}" for c in values)
            conn.exec_driver_sql(f"UPDATE {name} AS t JOIN {stage} AS s ON t.{q(key)} = s.{q(key)} SET {sets}")
        conn.exec_driver_sql(f"DROP {'TEMPORARY ' if _mysql(conn) else ''}TABLE {stage}")
        return
    sets = ", ".join(f"{q(c)} = ?" for c in values)
    _executemany(conn, f"UPDATE {name} SET {sets} WHERE {q(key)} = ?", table, frame.select(*values, key), max(batch_size, 20_000))


def _typed(values: pl.Series, dtype: pl.DataType) -> pl.Series:
    """A column as read (text, or a type Arrow gave it) as the frame's type."""
    if values.dtype == pl.String or values.dtype == pl.Null:
        return _from_text(values.cast(pl.String), dtype)
    return values.cast(dtype)


def _from_text(text: pl.Series, dtype: pl.DataType) -> pl.Series:
    if dtype == pl.String:
        return text
    if dtype == pl.Date:
        return text.str.to_date("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):  # as SQLAlchemy and PostgreSQL write it; else whatever polars recognises
        unit = dtype.time_unit or "us"
        fast = text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit=unit, strict=False)
        return fast if fast.null_count() == text.null_count() else text.str.to_datetime(time_unit=unit)
    if dtype == pl.Boolean:
        return text.replace_strict({"t": True, "f": False, "true": True, "false": False, "1": True, "0": False}, return_dtype=pl.Boolean)
    return text.cast(dtype)


def _arrow(conn: sa.Connection, sql: str) -> pl.DataFrame | None:
    """The query's result through a second, Arrow connection (ADBC): no Python object per value. Only
    while this connection has written nothing (upsert_all reads every table first, under the target's
    lock), so the other connection sees the same rows (the caller says so); None where that path is
    not available."""
    from extractors import arrow_sql

    url = conn.engine.url
    if not arrow_sql.supported(url) or (url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"
                                                                                 or url.database.startswith("file:"))):
        return None
    with arrow_sql.connect(url) as other, other.cursor() as cur:
        cur.execute(sql)
        return pl.from_arrow(cur.fetch_arrow_table())


def read_rows(conn: sa.Connection, table: sa.Table, schema: dict[str, pl.DataType], before_writes: bool = False) -> pl.DataFrame:
    """The table's columns of `schema` as a frame of those types, all rows. `before_writes`: this
    transaction has written nothing yet, so SQLite and PostgreSQL may be read through a second
    (Arrow) connection; a table a dry run created in its own transaction is empty then."""
    name = _quote(conn, table.name)
    if conn.dialect.name in ("sqlite", "postgresql"):  # every value as the database's text of it, typed by polars at once
        if before_writes and table.name in conn.info.get("created_in_session", ()):
            return pl.DataFrame(schema=schema)
        sql = f"SELECT {', '.join(f'CAST({_quote(conn, c)} AS TEXT) AS {_quote(conn, c)}' for c in schema)} FROM {name}"
        # PostgreSQL's types are exact in Arrow, but NUMERIC arrives as an opaque type: as text
        typed = f"SELECT {', '.join(f'CAST({_quote(conn, c)} AS TEXT) AS {_quote(conn, c)}' if isinstance(t, pl.Decimal) else _quote(conn, c) for c, t in schema.items())} FROM {name}"
        text = _arrow(conn, typed if _pg(conn) else sql) if before_writes else None
        if text is None:
            text = _copy_out(conn, sql, schema) if _pg(conn) else _fetch_text(conn, sql, schema)
        return pl.DataFrame([_typed(text.get_column(c), t).alias(c) for c, t in schema.items()])
    joined = _mysql_joined(conn, name, schema) if _mysql(conn) else None
    if joined is not None:
        return joined
    cur = conn.connection.driver_connection.cursor()
    cur.execute(f"SELECT {', '.join(_quote(conn, c) for c in schema)} FROM {name}")  # the driver's own types
    return pl.DataFrame(cur.fetchall(), schema=schema, orient="row", strict=False)


def _mysql_joined(conn: sa.Connection, name: str, schema: dict[str, pl.DataType]) -> pl.DataFrame | None:
    """MySQL/MariaDB rows as one text each (CONCAT_WS of the values as text, NULL as a marker), split
    by polars: the pure-Python driver builds one object per row instead of one typed object per value.
    None (read the plain way) when a value itself holds the separator."""
    cols = [f"IFNULL(CAST({_quote(conn, c)} AS CHAR), '{OUT_NULL}')" for c in schema]
    cur = conn.connection.driver_connection.cursor()
    cur.execute(f"SELECT CONCAT_WS(CHAR(31), {', '.join(cols)}) FROM {name}")
    rows = pl.DataFrame(cur.fetchall(), schema={"r": pl.String}, orient="row").get_column("r")
    if rows.is_empty():
        return pl.DataFrame(schema=schema)
    if len(schema) < 2 or (rows.str.count_matches(UNIT, literal=True) != len(schema) - 1).any():
        return None
    parts = rows.str.split_exact(UNIT, len(schema) - 1).struct.unnest()
    parts.columns = list(schema)
    text = parts.with_columns(pl.when(pl.all() == OUT_NULL).then(None).otherwise(pl.all()).name.keep())
    return pl.DataFrame([_typed(text.get_column(c), t).alias(c) for c, t in schema.items()])


def _fetch_text(conn: sa.Connection, sql: str, schema: dict) -> pl.DataFrame:
    cur = conn.connection.driver_connection.cursor()
    cur.execute(sql)
    return pl.DataFrame(cur.fetchall(), schema={c: pl.String for c in schema}, orient="row")


def _copy_out(conn: sa.Connection, sql: str, schema: dict) -> pl.DataFrame:
    buf = io.BytesIO()
    cur = conn.connection.driver_connection.cursor()
    with cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER, NULL E'\\x01N\\x01', FORCE_QUOTE *)") as copy:
        while data := copy.read():
            buf.write(data)
    return pl.read_csv(buf.getvalue(), schema={c: pl.String for c in schema}, null_values=[OUT_NULL])
