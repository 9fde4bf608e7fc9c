"""The crosswalk from earlier runs: source key -> golden id, read from the target's ledger table.

Delta runs read only changed customers, but opportunities still point at customers by key; the
ledger rows of earlier committed runs say which golden customer each key became."""
from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from loaders.target import connect_target, make_engine

SCHEMA = {"_source": pl.String, "_source_key": pl.String, "target_id": pl.String}


def previous_crosswalk(url: str, ledger_table: str, sources: list[str]) -> pl.DataFrame:
    """Latest golden id per (source, key) among loaded or merged records of earlier runs."""
    if not sources:
        return pl.DataFrame(schema=SCHEMA)
    engine = make_engine(url)
    try:
        with connect_target(engine, url) as conn:
            if not sa.inspect(conn).has_table(ledger_table):
                return pl.DataFrame(schema=SCHEMA)
            t = sa.Table(ledger_table, sa.MetaData(), autoload_with=conn)
            rows = conn.execute(
                sa.select(t.c.source, t.c.source_key, t.c.target_id, t.c.run_id)
                .where(t.c.source.in_(sources), t.c.disposition.in_(["loaded", "merged"]), t.c.entity == "customer")
            ).all()
    finally:
        engine.dispose()
    frame = pl.DataFrame(rows, schema={**SCHEMA, "run_id": pl.String}, orient="row")
    return frame.sort("run_id").unique(["_source", "_source_key"], keep="last", maintain_order=True).drop("run_id")
