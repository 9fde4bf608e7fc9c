"""Tables and read-only queries from any SQLAlchemy URL, streamed in chunks."""
from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from crm_migrate.errors import MigrationError
from crm_migrate.secrets import mask_url
from extractors.base import Extracted, require_columns, rows_to_frame


def connect(url: str) -> sa.Engine:
    try:
        engine = sa.create_engine(url)
        with engine.connect():
            pass
        return engine
    except Exception as exc:  # driver errors differ per dialect
        detail = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise MigrationError(
            f"cannot connect to {mask_url(url)}: {mask_url(detail)}",
            hint="check the URL, that the server is running, and the credentials (use ${ENV_VAR} for the password)",
        ) from None


def extract_sql(source, expected_columns: list[str]) -> Extracted:
    engine = connect(source.url)
    where = mask_url(source.url)
    try:
        with engine.connect() as conn:
            if source.table:
                try:
                    table = sa.Table(source.table, sa.MetaData(), schema=source.db_schema, autoload_with=conn)
                except NoSuchTableError:
                    tables = sa.inspect(conn).get_table_names(schema=source.db_schema)
                    raise MigrationError(f"table '{source.table}' does not exist", file=where, hint=f"tables: {', '.join(tables[:30])}") from None
                stmt = sa.select(table)
                label = f"table {source.table}"
            else:
                stmt = sa.text(source.query)
                label = "query"
            result = conn.execution_options(stream_results=True, yield_per=source.chunk_size).execute(stmt)
            columns = list(result.keys())
            require_columns(columns, expected_columns + ([source.key] if source.key else []), file=where, table=label)
            frames, seen = [], 0
            for part in result.partitions():
                frames.append(rows_to_frame(source.name, columns, part, range(seen + 1, seen + len(part) + 1), source.key))
                seen += len(part)
    except MigrationError:
        raise
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise MigrationError(f"reading failed: {mask_url(detail)}", file=where, hint="check the table, query and permissions") from None
    finally:
        engine.dispose()
    frame = pl.concat(frames) if frames else rows_to_frame(source.name, columns, [], [], source.key)
    return Extracted(source.name, frame, f"{where} {label}")
