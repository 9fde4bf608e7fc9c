"""The crosswalk from earlier runs: source key -> golden id, read from the target's ledger table.

Delta runs read only changed customers, but opportunities still point at customers by key; the
ledger rows of earlier committed runs say which golden customer each key became. The same rows
say which records the sources held before (`earlier_records`), to tell which they no longer hold."""
from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from loaders.target import connect_target, make_engine

SCHEMA = {"_source": pl.String, "_source_key": pl.String, "_row": pl.Int64, "target_id": pl.String}
EARLIER = {"source": pl.String, "source_key": pl.String, "entity": pl.String, "disposition": pl.String, "target_id": pl.String}


def _latest_ledger_rows(url: str, ledger_table: str, sources: list[str], columns: list[str], schema: dict, keys: list[str],
                        only=lambda t: []) -> pl.DataFrame:
    """The ledger rows of `sources` (the `columns`, named as `schema` says), of the latest run that
    recorded each key; empty when there is no ledger table yet. `only(t)`: more conditions."""
    if not sources:
        return pl.DataFrame(schema=schema)
    engine = make_engine(url)
    try:
        with connect_target(engine, url) as conn:
            if not sa.inspect(conn).has_table(ledger_table):
                return pl.DataFrame(schema=schema)
            t = sa.Table(ledger_table, sa.MetaData(), autoload_with=conn)
            rows = conn.execute(sa.select(*(t.c[c] for c in columns), t.c.run_id).where(t.c.source.in_(sources), *only(t))).all()
    finally:
        engine.dispose()
    frame = pl.DataFrame(rows, schema={**schema, "run_id": pl.String}, orient="row")
    return frame.filter(pl.col("run_id") == pl.col("run_id").max().over(keys)).drop("run_id")


def previous_crosswalk(url: str, ledger_table: str, sources: list[str]) -> pl.DataFrame:
    """The golden ids the latest earlier run gave each (source, key), loaded or merged, with the row:
    a key a source reused for two companies has two rows there, which the row tells apart."""
    frame = _latest_ledger_rows(url, ledger_table, sources, ["source", "source_key", "source_row", "target_id"], SCHEMA, ["_source", "_source_key"],
                                lambda t: [t.c.disposition.in_(["loaded", "merged"]), t.c.entity == "customer"])
    return frame.unique(maintain_order=True).sort("_source", "_source_key", "_row")


def earlier_records(url: str, ledger_table: str, sources: list[str]) -> pl.DataFrame:
    """Every (source, key) the committed runs recorded for these sources, with the latest run's
    disposition and target id: what a source held before, to tell which records it no longer holds."""
    frame = _latest_ledger_rows(url, ledger_table, sources, ["source", "source_key", "entity", "disposition", "target_id"], EARLIER,
                                ["source", "source_key"])
    return frame.unique(["source", "source_key"], keep="first", maintain_order=True)
