"""Undo a committed run: delete the rows it inserted, put back the rows it updated as they were
(crm_migrate_before_image), remove its ledger rows and mark it rolled_back, in one transaction; then
read the target back to prove it.

A later run that wrote one of the same rows would be overwritten by the restored images, and a later
run whose records point at a row this one wrote (its opportunities on an account this run inserted,
its ledger saying a record is in a row this run wrote) would be left pointing at nothing: the
rollback is refused naming those runs, unless `cascade`: then they are rolled back too, newest
first. A run of another project (another ledger table) is refused outright."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlalchemy as sa

from crm_migrate.errors import MigrationError
from loaders.history import COMMITTED, LOADING, IMAGE_TABLE, INSERT, ROLLED_BACK, RUN_TABLE, UPDATE, expand_images, restore_value
from loaders.target import connect_target, make_engine

CHUNK = 500


@dataclass
class RollbackResult:
    run_id: str
    rolled_back: list[str]  # newest first: the later runs --cascade took, then the run itself
    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows the runs had inserted, deleted now
    already_gone: dict[str, int] = field(default_factory=dict)  # table -> rows the runs inserted that someone deleted since
    restored: dict[str, int] = field(default_factory=dict)  # table -> rows put back as they were
    ledger_rows: int = 0
    problems: list[str] = field(default_factory=list)  # the read-back's findings (empty: proven)

    @property
    def verified(self) -> bool:
        return not self.problems


def _images(conn: sa.Connection, images: sa.Table, run_id: str) -> list[tuple[str, str, str, str | None]]:
    return expand_images([tuple(r) for r in conn.execute(sa.select(images.c.target_table, images.c.target_key, images.c.action,
                                                                    images.c.before).where(images.c.run_id == run_id))])


def _referenced(conn: sa.Connection, ledger: sa.Table | None, run_id: str) -> set[str]:
    """The target ids the records of `run_id` are in or point at (its ledger: loaded and merged
    records, and the customer of each opportunity)."""
    if ledger is None:
        return set()
    rows = conn.execute(sa.select(ledger.c.target_id, ledger.c.customer_target_id)
                        .where(ledger.c.run_id == run_id, ledger.c.disposition.in_(["loaded", "merged"])))
    return {str(k) for pair in rows for k in pair if k is not None}


def _to_undo(conn: sa.Connection, runs: sa.Table, images: sa.Table, ledger: sa.Table | None, ledger_name: str, run_id: str,
             cascade: bool) -> list[str]:
    # a batch-committed run killed half way (loading) can be undone too: its batches carry their images
    committed = [r for (r,) in conn.execute(sa.select(runs.c.run_id).where(runs.c.status.in_([COMMITTED, LOADING])).order_by(runs.c.run_id))]
    if run_id not in committed:
        known = conn.execute(sa.select(runs.c.status).where(runs.c.run_id == run_id)).scalar_one_or_none()
        why = f"it is {known}" if known else "no committed run has this id"
        raise MigrationError(f"run {run_id} cannot be rolled back: {why}",
                             hint=f"committed runs: {', '.join(committed[-5:]) or 'none'} (`crm-migrate runs CONFIG` lists them)")
    manifest = json.loads(conn.execute(sa.select(runs.c.manifest).where(runs.c.run_id == run_id)).scalar_one() or "{}")
    owner = manifest.get("ledger_table")
    if owner is not None and owner != ledger_name:
        raise MigrationError(f"run {run_id} belongs to another project: its ledger is {owner}, this config's is {ledger_name}",
                             hint="roll it back with the config of the project that ran it")
    chosen = {run_id}
    touched = {k for _, k, _, _ in _images(conn, images, run_id)}  # every row the run inserted or updated
    for later in committed[committed.index(run_id) + 1:]:  # oldest first, so a run depending on a cascaded one joins too
        wrote = {k for _, k, _, _ in _images(conn, images, later)}
        if (wrote | _referenced(conn, ledger, later)) & touched:
            chosen.add(later)
            touched |= wrote
    if len(chosen) > 1 and not cascade:
        later = sorted(chosen - {run_id})
        raise MigrationError(f"run {run_id} cannot be rolled back alone: later runs wrote or point at some of its rows ({', '.join(later)})",
                             hint="roll those back first, or add --cascade to roll them back too, newest first")
    return sorted(chosen, reverse=True)


def _undo(conn: sa.Connection, md: sa.MetaData, images: sa.Table, runs: sa.Table, ledger: sa.Table | None, run_id: str,
          result: RollbackResult) -> list[tuple[str, str, str, str | None]]:
    rows = _images(conn, images, run_id)
    tables = list(dict.fromkeys(t for t, *_ in rows))
    for name in reversed(tables):  # opportunities before the accounts they point at
        table = sa.Table(name, md, autoload_with=conn) if name not in md.tables else md.tables[name]
        key = table.primary_key.columns.values()[0]
        inserted = [k for t, k, a, _ in rows if t == name and a == INSERT]
        deleted = 0
        for i in range(0, len(inserted), CHUNK):
            deleted += conn.execute(table.delete().where(key.in_(inserted[i:i + CHUNK]))).rowcount
        result.deleted[name] = result.deleted.get(name, 0) + deleted
        if deleted < len(inserted):  # deleted by hand since: nothing left to undo for those
            result.already_gone[name] = result.already_gone.get(name, 0) + len(inserted) - deleted
        updated = [json.loads(b) for t, _, a, b in rows if t == name and a == UPDATE]
        if updated:
            cols = [c for c in updated[0] if c != key.name and c in table.c]
            stmt = table.update().where(key == sa.bindparam("__key")).values({c: sa.bindparam(c) for c in cols})
            params = [{"__key": restore_value(u[key.name], key), **{c: restore_value(u.get(c), table.c[c]) for c in cols}} for u in updated]
            for i in range(0, len(params), CHUNK):
                conn.execute(stmt, params[i:i + CHUNK])
        result.restored[name] = result.restored.get(name, 0) + len(updated)
    if ledger is not None:
        result.ledger_rows += conn.execute(ledger.delete().where(ledger.c.run_id == run_id)).rowcount or 0
    conn.execute(runs.update().where(runs.c.run_id == run_id).values(status=ROLLED_BACK))
    return rows


def _verify(conn: sa.Connection, md: sa.MetaData, undone: list[tuple[str, str, str, str | None]]) -> list[str]:
    """Each row an undone run inserted is gone (unless an older run's image restored it), and each
    row it updated holds its before-image again; rows of the oldest undo win (it is the state wanted)."""
    want: dict[tuple[str, str], tuple[str, str | None]] = {}
    for t, k, a, b in undone:  # newest run first: the oldest image of a row is what must stand
        want[(t, k)] = (a, b)
    problems, missing, differ, extra = [], 0, 0, 0
    by_table: dict[str, list[str]] = {}
    for (t, k) in want:
        by_table.setdefault(t, []).append(k)
    for name, keys in by_table.items():
        table = md.tables[name]
        key = table.primary_key.columns.values()[0]
        found = {}
        for i in range(0, len(keys), CHUNK):
            for row in conn.execute(sa.select(table).where(key.in_(keys[i:i + CHUNK]))).mappings():
                found[str(row[key.name])] = row
        for k in keys:
            action, before = want[(name, k)]
            if action == INSERT:
                extra += k in found
            elif k not in found:
                missing += 1
            else:
                image = json.loads(before)
                row = found[k]
                differ += any(restore_value(image.get(c), table.c[c]) != row[c] for c in image if c in table.c and c != key.name)
    if extra:
        problems.append(f"{extra} rows the run inserted are still in the target")
    if missing:
        problems.append(f"{missing} rows the run updated are missing from the target")
    if differ:
        problems.append(f"{differ} rows the run updated do not hold their before-image")
    return problems


def rollback(url: str, ledger_table: str, run_id: str, cascade: bool = False) -> RollbackResult:
    """Roll back `run_id` (and with `cascade` the later runs that wrote the same rows) in one
    transaction; the result says what was deleted and restored and whether the read-back holds."""
    engine = make_engine(url)
    try:
        with connect_target(engine, url) as conn:
            existing = set(sa.inspect(conn).get_table_names())
            if RUN_TABLE not in existing or IMAGE_TABLE not in existing:
                raise MigrationError(f"the target holds no run history ({RUN_TABLE}): nothing to roll back",
                                     hint="runs record their history from crm-migrate 0.1 on; earlier runs cannot be rolled back")
            md = sa.MetaData()
            runs, images = (sa.Table(n, md, autoload_with=conn) for n in (RUN_TABLE, IMAGE_TABLE))
            ledger = sa.Table(ledger_table, md, autoload_with=conn) if ledger_table in existing else None
            if conn.in_transaction():  # the reflection's read
                conn.rollback()
            with conn.begin():
                order = _to_undo(conn, runs, images, ledger, ledger_table, run_id, cascade)
                result = RollbackResult(run_id, order)
                undone = []
                for r in order:
                    undone += _undo(conn, md, images, runs, ledger, r, result)
                result.problems = _verify(conn, md, undone)
                if result.problems:
                    raise MigrationError("the rollback did not put the target back: " + "; ".join(result.problems),
                                         hint="nothing was changed (the rollback's transaction was rolled back)")
    except sa.exc.DBAPIError as exc:
        from crm_migrate.db_errors import driver_message

        raise MigrationError(f"the rollback failed: {driver_message(exc)}", hint="nothing was changed") from None
    finally:
        engine.dispose()
    return result
