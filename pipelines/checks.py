"""`crm-migrate check`: everything a run needs, verified without moving data.

The same checks a run makes before it reads anything (loaders/preflight.py): the target reachable,
writable (a test write inside a rolled-back transaction), its existing tables able to take what the
mapping writes, and no other run holding its lock; plus every source readable with its mapped
columns (SQL sources inside a read-only transaction)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import sqlalchemy as sa

from crm_migrate.db_errors import driver_message
from crm_migrate.contracts import CANONICAL, attribute_column
from crm_migrate.errors import ConfigError, LockTimeout, MigrationError
from crm_migrate.secrets import mask_url
from expectations.runner import suite_parameters, suite_rules
from extractors.base import require_columns
from extractors.sql import begin_read_only, connect, read_hint
from loaders.lock import acquire
from loaders.preflight import check_target, sqlite_file_problems
from loaders.schema import run_tables
from loaders.target import make_engine, new_sqlite_file
from pipelines.config import load_config
from transforms.standardize import canonical_columns


def _probe_sql(src, expected: list[str]) -> str:
    engine = connect(src.url)
    where = mask_url(src.url)
    try:
        with engine.connect() as conn:
            begin_read_only(conn)
            if src.table:
                if not sa.inspect(conn).has_table(src.table, schema=src.db_schema):
                    tables = sa.inspect(conn).get_table_names(schema=src.db_schema)
                    raise MigrationError(f"table '{src.table}' does not exist", file=where, hint=f"tables: {', '.join(tables[:30])}")
                columns = [c["name"] for c in sa.inspect(conn).get_columns(src.table, schema=src.db_schema)]
            else:
                columns = list(conn.execute(sa.text(f"SELECT * FROM ({src.query}\n) AS q WHERE 1 = 0")).keys())
            require_columns(columns, expected + ([src.key] if src.key else []) + ([src.watermark] if src.watermark else []),
                            file=where, table=src.table or "query")
    except sa.exc.SQLAlchemyError as exc:
        detail = driver_message(exc)
        raise MigrationError(f"reading failed: {detail}", file=where, table=src.table or "query",
                             hint=read_hint(detail, "check the table, the query and the permissions")) from None
    finally:
        engine.dispose()
    return f"{src.name}: {where} {src.table or 'query'} has the mapped columns"


def _check_suite(loaded, stage: str, entity: str, path: Path) -> Iterator[str]:
    """The suite's rules are known to GX and well formed (suite_rules), its `$PARAMETER`s have values,
    and its columns exist: target suites against the target mapping (an error), canonical suites
    against the columns standardization gives the entity (an error too)."""
    name, rules, gate = suite_rules(path)
    params = set(suite_parameters(path)) | set(loaded.config.validation.parameters)
    wanted = set().union(*(r.parameters for r in rules))
    missing = sorted(wanted - params)
    if missing:
        raise ConfigError(f"suite {name} uses parameters no one sets: {', '.join(missing)}", file=str(path),
                          hint="set them in validation.parameters, or in the suite's meta.parameters")
    columns = {c for r in rules for c in r.columns} | set((gate.get("min_completeness") or {}))
    if stage == "target":
        known = {c.name for c in loaded.target_mapping.tables[entity].columns} if entity in loaded.target_mapping.tables else set()
        unknown = sorted(columns - known)
        if unknown:
            raise ConfigError(f"suite {name} checks columns the target table does not have: {', '.join(unknown)}", file=str(path),
                              hint=f"target columns: {', '.join(sorted(known))}")
    else:
        known = set(canonical_columns(entity)) | {attribute_column(a) for s in loaded.config.sources if s.entity == entity
                                                  for a in loaded.source_mappings[s.name].attributes}
        unknown = sorted(columns - known)
        if unknown:
            raise ConfigError(f"suite {name} checks columns that are not canonical {entity} fields: {', '.join(unknown)}", file=str(path),
                              hint=f"canonical {entity} fields: {', '.join(CANONICAL[entity])}")
    yield f"suite {stage}/{entity}: {name}, {len(rules)} rules ({sum(r.severity == 'critical' for r in rules)} critical)" + (
        f", gate {', '.join(gate)}" if gate else "")


def _mapping_lines(loaded) -> Iterator[str]:
    """What the target mapping does beyond copying fields (its errors were refused when it was read)."""
    for entity, (table, key, cols) in loaded.target_specs().items():
        extra = [f"{sum(bool(getattr(c, a)) for c in cols)} {what}" for a, what in
                 (("lookup", "looked up"), ("compute", "computed"), ("number", "numbered")) if any(getattr(c, a) for c in cols)]
        truncated = [c.name for c in cols if c.overflow == "truncate"]
        yield (f"target mapping {entity}: {table}, {len(cols)} columns keyed by {key}" + (f" ({', '.join(extra)})" if extra else "")
               + (f"; cut to length: {', '.join(truncated)}" if truncated else ""))
    for name, lookup in loaded.lookups.items():
        yield (f"lookup {name}: {len(set(lookup.table.values())):,} target values for {len(lookup.table):,} legacy names and ids"
               + (f", default {lookup.default}" if lookup.default is not None else ", no default (an unknown value stops the load)"))
        if lookup.ambiguous:
            yield (f"warning: lookup {name}: {len(lookup.ambiguous):,} legacy values name several target values (namesakes); records with "
                   "them " + ("take the default, flagged" if lookup.default is not None else "stop the load") + ": list them by an unambiguous id")
    masking = loaded.config.target.masking
    if masking is not None:
        yield "masking: " + ", ".join(f"{f} ({m})" for f, m in masking.methods().items()) + " (key set)"
    phases = loaded.config.phases
    if phases:
        yield "phases (run --phase NAME; each loads its customers and every earlier phase's): " + "; ".join(
            f"{i}. {ph.name}: {ph.where or 'every other customer'}" for i, ph in enumerate(phases, start=1))


def check_config(path: Path) -> Iterator[str]:
    loaded = load_config(path)
    cfg = loaded.config
    yield f"config {path}: {len(cfg.sources)} sources, target mapping {cfg.target.mapping.name}"
    yield from _mapping_lines(loaded)
    for stage, suites in cfg.validation.suites.items():
        for entity, suite in suites.items():
            yield from _check_suite(loaded, stage, entity, suite)
    for src in cfg.sources:
        expected = loaded.source_mappings[src.name].source_columns()
        if src.kind == "sql":
            yield _probe_sql(src, expected)
        else:
            from extractors import extract_source

            x = extract_source(src, expected)
            skipped = sum(x.skipped.values())
            yield (f"{src.name}: {x.location} has the mapped columns ({x.frame.height:,} records"
                   + (f", {skipped:,} rows that are not records" if skipped else "") + ")")
            for warning in x.warnings:
                yield f"warning: {warning}"
    if new_sqlite_file(cfg.target.url) is not None:  # connecting would create it now
        problems = sqlite_file_problems(cfg.target.url)
        if problems:
            raise MigrationError("the target cannot be written:\n  - " + "\n  - ".join(problems), file=mask_url(cfg.target.url),
                                 hint="create the folder, or fix target.url")
        yield f"target {mask_url(cfg.target.url)} does not exist yet; a run creates it"
        return
    tables, types = run_tables(loaded.target_specs(), cfg.target.ledger_table)
    yield from check_target(cfg.target.url, tables, types)
    engine = make_engine(cfg.target.url)
    try:
        acquire(engine, "check", 0).release()
        yield "no run holds the target's lock"
    except LockTimeout as exc:
        yield f"warning: {exc.message} (a run is under way; a new run would wait target.lock_wait_seconds for it)"
    finally:
        engine.dispose()
