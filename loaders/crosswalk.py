"""The crosswalk from earlier runs: source key -> golden id, read from the target's ledger table.

Delta runs read only changed customers, but opportunities still point at customers by key; the
ledger rows of earlier committed runs say which golden customer each key became."""
from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from loaders.target import connect_target, make_engine

SCHEMA = {"_source": pl.String, "_source_key": pl.String, "_row": pl.Int64, "target_id": pl.String}


def previous_crosswalk(url: str, ledger_table: str, sources: list[str]) -> pl.DataFrame:
    """The golden ids the latest earlier run gave each (source, key), loaded or merged, with the row:
    a key a source reused for two companies has two rows there, which the row tells apart."""
    if not sources:
        return pl.DataFrame(schema=SCHEMA)
    engine = make_engine(url)
    try:
        with connect_target(engine, url) as conn:
            if not sa.inspect(conn).has_table(ledger_table):
                return pl.DataFrame(schema=SCHEMA)
            t = sa.Table(ledger_table, sa.MetaData(), autoload_with=conn)
            rows = conn.execute(
                sa.select(t.c.source, t.c.source_key, t.c.source_row, t.c.target_id, t.c.run_id)
                .where(t.c.source.in_(sources), t.c.disposition.in_(["loaded", "merged"]), t.c.entity == "customer")
            ).all()
    finally:
        engine.dispose()
    frame = pl.DataFrame(rows, schema={**SCHEMA, "run_id": pl.String}, orient="row")
    latest = pl.col("run_id") == pl.col("run_id").max().over("_source", "_source_key")
    return frame.filter(latest).drop("run_id").unique(maintain_order=True).sort("_source", "_source_key", "_row")


EARLIER = {"source": pl.String, "source_key": pl.String, "entity": pl.String, "disposition": pl.String, "target_id": pl.String}


def earlier_records(url: str, ledger_table: str, sources: list[str]) -> pl.DataFrame:
    """Every (source, key) the committed runs recorded for these sources, with the latest run's
    disposition and target id: what a source held before, to tell which records it no longer holds."""
    if not sources:
        return pl.DataFrame(schema=EARLIER)
    engine = make_engine(url)
    try:
        with connect_target(engine, url) as conn:
            if not sa.inspect(conn).has_table(ledger_table):
                return pl.DataFrame(schema=EARLIER)
            t = sa.Table(ledger_table, sa.MetaData(), autoload_with=conn)
            rows = conn.execute(sa.select(t.c.source, t.c.source_key, t.c.entity, t.c.disposition, t.c.target_id, t.c.run_id)
                                .where(t.c.source.in_(sources))).all()
    finally:
        engine.dispose()
    frame = pl.DataFrame(rows, schema={**EARLIER, "run_id": pl.String}, orient="row")
    latest = pl.col("run_id") == pl.col("run_id").max().over("source", "source_key")
    return frame.filter(latest).drop("run_id").unique(["source", "source_key"], keep="first", maintain_order=True)
