"""Tables and read-only queries from any SQLAlchemy URL, streamed in chunks with server-side
cursors, optionally incremental on a watermark column."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from crm_migrate.contracts import FLAGS
from crm_migrate.errors import MigrationError
from crm_migrate.secrets import mask_url
from extractors.base import Extracted, as_text, require_columns, rows_to_frame
from extractors.columns import gc_paused
from extractors.mojibake import repair_frame


def connect(url: str) -> sa.Engine:
    try:
        engine = sa.create_engine(url)
        with engine.connect():
            pass
        return engine
    except Exception as exc:  # driver errors differ per dialect
        detail = str(getattr(exc, "orig", exc)).splitlines()[0]
        hint = ("the database user lacks a privilege: grant SELECT on the source" if "denied" in detail.lower() or "permission" in detail.lower()
                else "check the URL, that the server is running, and the credentials (use ${ENV_VAR} for the password)")
        raise MigrationError(f"cannot connect to {mask_url(url)}: {mask_url(detail)}", hint=hint) from None


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
        return sa.text(f"SELECT * FROM ({source.query}) AS q WHERE q.{source.watermark} > :since"), "query", {"since": since}
    return sa.text(source.query), "query", {}


def extract_sql(source, expected_columns: list[str], since: str | None = None) -> Extracted:
    """Read the table or query; with a watermark column and `since`, only rows after it. The returned
    `watermark` is the largest value read (text), for the next run."""
    engine = connect(source.url)
    where = mask_url(source.url)
    high: Any = None
    try:
        with engine.connect() as conn:
            stmt, label, params = _statement(conn, source, since)
            result = conn.execution_options(stream_results=True, yield_per=source.chunk_size).execute(stmt, params)
            columns = list(result.keys())
            require_columns(columns, expected_columns + ([source.key] if source.key else []), file=where, table=label)
            wm_index = columns.index(source.watermark) if source.watermark in columns else None
            frames, seen = [], 0
            for part in result.partitions():
                with gc_paused():
                    frames.append(rows_to_frame(source.name, columns, part, range(seen + 1, seen + len(part) + 1), source.key))
                if wm_index is not None:
                    values = [r[wm_index] for r in part if r[wm_index] is not None]
                    if values:
                        top = max(values)
                        high = top if high is None or top > high else high
                seen += len(part)
    except MigrationError:
        raise
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", exc)).splitlines()[0]
        hint = ("the database user lacks a privilege: grant SELECT on the source" if "denied" in detail.lower() or "permission" in detail.lower()
                else "check the table, query and permissions")
        raise MigrationError(f"reading failed: {mask_url(detail)}", file=where, hint=hint) from None
    finally:
        engine.dispose()
    frame = pl.concat(frames) if frames else rows_to_frame(source.name, columns, [], [], source.key)
    frame = frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(FLAGS))
    notes = [f"incremental: rows with {source.watermark} > {since}"] if since is not None else []
    if source.repair_mojibake:
        text_columns = [c for c in columns if frame.schema[c] == pl.String]
        frame, fixed = repair_frame(frame, text_columns)
        notes += fixed
    return Extracted(source.name, frame, f"{where} {label}", notes=notes, watermark=as_text(high))
