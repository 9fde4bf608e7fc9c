"""`crm-migrate check`: everything a run needs, verified without moving data."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import sqlalchemy as sa

from crm_migrate.errors import MigrationError
from crm_migrate.secrets import mask_url
from expectations.runner import load_suite
from extractors.base import require_columns
from extractors.sql import connect
from loaders.target import make_engine
from pipelines.config import load_config


def _probe_sql(src, expected: list[str]) -> str:
    engine = connect(src.url)
    try:
        with engine.connect() as conn:
            if src.table:
                if not sa.inspect(conn).has_table(src.table, schema=src.db_schema):
                    raise MigrationError(f"table '{src.table}' does not exist", file=mask_url(src.url))
                columns = [c["name"] for c in sa.inspect(conn).get_columns(src.table, schema=src.db_schema)]
            else:
                columns = list(conn.execute(sa.text(f"SELECT * FROM ({src.query}) AS q WHERE 1 = 0")).keys())
            require_columns(columns, expected + ([src.key] if src.key else []), file=mask_url(src.url), table=src.table or "query")
    finally:
        engine.dispose()
    return f"{src.name}: {mask_url(src.url)} {src.table or 'query'} has the mapped columns"


def check_config(path: Path) -> Iterator[str]:
    loaded = load_config(path)
    cfg = loaded.config
    yield f"config {path}: {len(cfg.sources)} sources, target mapping {cfg.target.mapping.name}"
    for stage, suites in cfg.validation.suites.items():
        for entity, suite in suites.items():
            yield f"suite {stage}/{entity}: {len(load_suite(suite)['expectations'])} expectations"
    for src in cfg.sources:
        expected = list(dict.fromkeys(loaded.source_mappings[src.name].columns.values()))
        if src.kind == "sql":
            yield _probe_sql(src, expected)
        else:
            from extractors import extract_source

            x = extract_source(src, expected)
            yield f"{src.name}: {x.location} has the mapped columns ({x.frame.height:,} records)"
    url = sa.make_url(cfg.target.url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        yield f"target {mask_url(cfg.target.url)} does not exist yet; a run creates it"  # connecting would create it now
        return
    engine = make_engine(cfg.target.url)
    try:
        with engine.connect() as conn:
            existing = set(sa.inspect(conn).get_table_names())
    except Exception as exc:  # noqa: BLE001
        raise MigrationError(f"cannot connect to the target {mask_url(cfg.target.url)}: {mask_url(str(getattr(exc, 'orig', exc)).splitlines()[0])}") from None
    finally:
        engine.dispose()
    tables = [t.table for t in loaded.target_mapping.tables.values()]
    present = [t for t in tables if t in existing]
    yield f"target {mask_url(cfg.target.url)} reachable; tables present: {', '.join(present) or 'none yet (a run creates them)'}"
