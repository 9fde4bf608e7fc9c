"""Tables and read-only queries from any SQLAlchemy URL, streamed in chunks with server-side
cursors, optionally incremental on a watermark column.

A source is only ever read: SQLite files are opened read-only (a missing file is an error, never a new
empty database), and the read runs in a READ ONLY, REPEATABLE READ transaction where the engine has
one, so a `query:` cannot write and the independent COUNT(*) sees the same rows as the read."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from queue import Queue
from threading import Thread
from typing import Any, Iterator

import polars as pl
import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from crm_migrate import progress
from crm_migrate.contracts import FLAGS
from crm_migrate.db_errors import driver_message, hint_for
from crm_migrate.errors import MigrationError
from crm_migrate.secrets import mask_url
from crm_migrate.transient import is_transient
from extractors.base import Extracted, as_text, require_columns, rows_to_frame, stamp_lineage
from extractors.columns import gc_paused
from extractors.mojibake import repair_frame
from extractors.non_records import PhysicalCount


def read_only_url(url: str) -> str:
    """A SQLite source URL opened read-only; other URLs as they are. A missing SQLite file is an error:
    connecting would create an empty database and report 'table does not exist'."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" \
            or parsed.database.startswith("file:"):
        return url
    path = Path(parsed.database)
    if not path.exists():
        raise MigrationError("the SQLite database file does not exist", file=str(path),
                             hint="check `url` (a relative sqlite:/// path is relative to the config file)")
    return parsed.set(database=f"file:{path.resolve()}?mode=ro", query={**parsed.query, "uri": "true"}).render_as_string(hide_password=False)


def connect(url: str) -> sa.Engine:
    """An engine on the source that never echoes parameters (they hold customer data) into errors."""
    try:
        engine = sa.create_engine(read_only_url(url), hide_parameters=True)
        with engine.connect():
            pass
        return engine
    except MigrationError:
        raise
    except Exception as exc:  # driver errors differ per dialect
        detail = driver_message(exc)
        hint = read_hint(detail, "check the URL, that the server is running, and the credentials (use ${ENV_VAR} for the password)")
        raise MigrationError(f"cannot connect to {mask_url(url)}: {detail}", hint=hint, transient=is_transient(exc)) from None


def read_hint(detail: str, otherwise: str) -> str:
    return hint_for(detail, "grant SELECT on the source", otherwise)


def begin_read_only(conn: sa.Connection) -> None:
    """Start the connection's transaction READ ONLY (and REPEATABLE READ: the row count and the read
    see one snapshot) where the engine has such transactions; SQLite files are opened read-only."""
    dialect = conn.dialect.name
    if dialect in ("postgresql", "mysql", "mariadb"):
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    elif dialect == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = ON")


def prefetched(chunks: Iterator[list], depth: int = 2) -> Iterator[list]:
    """Fetch the next chunks in a thread while the caller converts this one: the driver waits on the
    network or SQLite's engine with the GIL released, so the two overlap. At most `depth` chunks wait."""
    queue: Queue = Queue(maxsize=depth)
    done = object()

    def produce() -> None:
        try:
            for chunk in chunks:
                queue.put(chunk)
            queue.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            queue.put(exc)

    thread = Thread(target=produce, name="crm-migrate-fetch", daemon=True)
    thread.start()
    while (item := queue.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item
    thread.join()


def _typed(text: str, column: sa.Column | None) -> Any:
    """A stored watermark back to the column's Python type, so the comparison is typed, not textual."""
    if column is None:
        return text
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return text
    if kind is datetime:
        return datetime.fromisoformat(text)
    if kind is date:
        return date.fromisoformat(text[:10])
    if kind in (int, Decimal, float):
        return kind(text)
    return text


def _statement(conn: sa.Connection, source, since: str | None) -> tuple[Any, str, dict]:
    if source.table:
        try:
            table = sa.Table(source.table, sa.MetaData(), schema=source.db_schema, autoload_with=conn)
        except NoSuchTableError:
            tables = sa.inspect(conn).get_table_names(schema=source.db_schema)
            raise MigrationError(f"table '{source.table}' does not exist", file=mask_url(source.url),
                                 hint=f"tables: {', '.join(tables[:30])}") from None
        # Raw driver values, no SQLAlchemy result processing: what the source holds, exactly (and faster).
        stmt = sa.select(*[sa.type_coerce(c, sa.types.NullType()).label(c.name) for c in table.c])
        if source.watermark:
            if source.watermark not in table.c:
                require_columns(list(table.c.keys()), [source.watermark], file=mask_url(source.url), table=source.table)
            if since is not None:
                stmt = stmt.where(table.c[source.watermark] > sa.bindparam("since", _typed(since, table.c[source.watermark]),
                                                                            type_=table.c[source.watermark].type))
            stmt = stmt.order_by(table.c[source.watermark])
        return stmt, f"table {source.table}", {}
    if source.watermark and since is not None:
        return sa.text(f"SELECT * FROM ({source.query}\n) AS q WHERE q.{source.watermark} > :since"), "query", {"since": since}
    return sa.text(source.query), "query", {}


def _count_statement(stmt, source):
    """COUNT(*) of exactly what the read selects: the physical count the ledger is checked against."""
    if source.table:
        return sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
    return sa.text(f"SELECT COUNT(*) FROM ({stmt.text}\n) AS q")


def _larger(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    try:
        return a if Decimal(str(a)) >= Decimal(str(b)) else b  # numeric text compares as numbers
    except ArithmeticError:
        return max(a, b)


def _read_arrow(engine: sa.Engine, stmt, count_stmt, params: dict, source) -> tuple[list[pl.DataFrame], Any, int]:
    from extractors import arrow_sql

    def literal(s) -> str:
        return str((s.bindparams(**params) if params else s).compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))

    frames, seen, high = [], 0, None
    with arrow_sql.arrow_read(engine.url, literal(stmt), literal(count_stmt)) as (counted, batches):
        for typed in batches:  # text kept, typed batch dropped: memory stays at one copy
            if source.watermark in typed.columns:
                high = _larger(high, arrow_sql.watermark_of(typed, source.watermark))
            text = arrow_sql.to_text(typed)
            frames.append(stamp_lineage(text, source.name, pl.int_range(seen + 1, seen + text.height + 1, dtype=pl.Int64, eager=True), source.key))
            seen += text.height
    return frames, high, counted


def _read_dbapi(conn: sa.Connection, stmt, params: dict, source) -> tuple[list[pl.DataFrame], Any, list[str]]:
    result = conn.execution_options(stream_results=True, yield_per=source.chunk_size).execute(stmt, params)
    columns = list(result.keys())
    wm_index = columns.index(source.watermark) if source.watermark in columns else None
    frames, seen, high = [], 0, None
    for part in prefetched(result.partitions(source.chunk_size)):  # explicit: a text() query ignores yield_per and would give one row per partition
        with gc_paused():
            frames.append(rows_to_frame(source.name, columns, part, range(seen + 1, seen + len(part) + 1), source.key, uniform=True))
        if wm_index is not None:
            values = [r[wm_index] for r in part if r[wm_index] is not None]
            if values:
                high = _larger(high, max(values))
        seen += len(part)
        progress.report(f"{source.name} rows read", seen)
    return frames, high, columns


def extract_sql(source, expected_columns: list[str], since: str | None = None) -> Extracted:
    """Read the table or query; with a watermark column and `since`, only rows after it. The returned
    `watermark` is the largest value read (text), for the next run."""
    from extractors import arrow_sql

    engine = connect(source.url)
    where = mask_url(source.url)
    notes = [f"incremental: rows with {source.watermark} > {since}"] if since is not None else []
    try:
        with engine.connect() as conn:
            begin_read_only(conn)
            stmt, label, params = _statement(conn, source, since)
            key_is_pk = bool(source.table and source.key) and [c.name for c in stmt.get_final_froms()[0].primary_key.columns] == [source.key]
            columns = list(conn.execute(stmt.limit(0) if source.table else sa.text(f"SELECT * FROM ({source.query}\n) AS q WHERE 1 = 0")).keys())
            require_columns(columns, expected_columns + ([source.key] if source.key else []), file=where, table=label)
            fast_stmt = _arrow_statement(engine, stmt, source) if source.reader == "auto" and arrow_sql.supported(engine.url) else None
            frames = None
            count_stmt = _count_statement(stmt, source)
            if fast_stmt is not None:
                try:
                    frames, high, counted = _read_arrow(engine, fast_stmt, count_stmt, params, source)
                    notes.append("read through ADBC (Arrow)")
                except Exception as exc:  # noqa: BLE001 - the DBAPI path is the reference; say why it was needed
                    notes.append(f"ADBC fast path not used ({type(exc).__name__}: {mask_url(str(exc)).splitlines()[0][:120]}); read through the DBAPI driver")
                    frames = None
            if frames is None:
                counted = int(conn.execute(count_stmt, params).scalar_one())
                frames, high, columns = _read_dbapi(conn, stmt, params, source)
    except MigrationError:
        raise
    except SQLAlchemyError as exc:
        detail = driver_message(exc)
        raise MigrationError(f"reading failed: {detail}", file=where, hint=read_hint(detail, "check the table, query and permissions")) from None
    finally:
        engine.dispose()
    frame = pl.concat(frames, how="vertical_relaxed", rechunk=False) if frames else rows_to_frame(source.name, columns, [], [], source.key)
    del frames
    frame = frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(FLAGS))
    if source.repair_mojibake:
        text_columns = [c for c in columns if frame.schema.get(c) == pl.String]
        frame, fixed = repair_frame(frame, text_columns)
        notes += fixed
    physical = PhysicalCount("table rows", counted, records=frame.height)
    warnings = [] if frame.height or since is not None else [f"{source.name}: the {label} holds no rows"]
    return Extracted(source.name, frame, f"{where} {label}", notes=notes, watermark=as_text(high), key_is_unique=key_is_pk,
                     physical=physical, warnings=warnings)


def _arrow_statement(engine: sa.Engine, stmt, source):
    """The statement for the ADBC path, or None where that path would not be exact."""
    from extractors import arrow_sql

    if engine.dialect.name == "postgresql":
        return stmt
    if source.table is None:
        return None
    return stmt.with_only_columns(*arrow_sql.sqlite_columns(stmt.get_final_froms()[0]))
