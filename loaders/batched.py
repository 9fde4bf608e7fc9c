"""A load committed batch by batch (`target.commit: batch`), for loads too large for one transaction.

The plan (what to insert and update, transforms/plan.py) is made once from the target as the run
found it; then each batch of rows is written and committed together with its before-images and the
run's progress in `crm_migrate_run` (status `loading`). A killed run leaves whole batches, each with
what a rollback needs. `run --resume RUN_ID` runs the same input again: rows an earlier attempt
wrote now plan as unchanged, the rest are written, the counts of every attempt add up, and the
target ends as one clean run would leave it. The ledger is written once, at the end, in the same
transaction that marks the run committed.
"""
from __future__ import annotations

import json
import os
import signal
from datetime import datetime

import polars as pl
import sqlalchemy as sa

from crm_migrate import progress
from crm_migrate.errors import MigrationError
from loaders.bulk import insert_rows, update_rows
from loaders.history import COMMITTED, LOADING, RUN_TABLE, before_images
from loaders.upsert import UpsertResult, read_table
from transforms.plan import TableChanges, plan_table

FAULT_VARIABLE = "CRM_MIGRATE_FAULT"  # kill_after_commits:N or kill_before_commit:N (resume tests)


class _Fault:
    """Test hook: the process kills itself with SIGKILL after the N-th batch commit, or with the N-th
    batch written but not committed, exactly as an operator's kill -9 or an out-of-memory kill would
    stop it (no cleanup of any kind)."""

    def __init__(self) -> None:
        kind, _, n = os.environ.get(FAULT_VARIABLE, "").partition(":")
        self.kind, self.at = kind, int(n) if n.isdigit() else None
        self.commits = 0

    def _kill(self, kind: str, count: int) -> None:
        if self.kind == kind and self.at is not None and count >= self.at:
            os.kill(os.getpid(), signal.SIGKILL)

    def committing(self) -> None:
        self._kill("kill_before_commit", self.commits + 1)

    def committed(self) -> None:
        self.commits += 1
        self._kill("kill_after_commits", self.commits)


def run_row(conn: sa.Connection, runs: sa.Table, run_id: str) -> dict | None:
    row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).mappings().first()
    return dict(row) if row else None


def resumable(row: dict | None, run_id: str, config_sha256: str, options: dict) -> None:
    """Raise unless `row` (the run table's row of `run_id`) is a killed batch run this config and
    these options may finish."""
    if row is None:
        raise MigrationError(f"the target records no run {run_id} to resume",
                             hint="`crm-migrate runs CONFIG` lists the runs; only a run with commit: batch that stopped can be resumed")
    if row["status"] != LOADING:
        raise MigrationError(f"run {run_id} cannot be resumed: it is {row['status']}", hint="start a new run instead")
    if row["config_sha256"] != config_sha256:
        raise MigrationError(f"run {run_id} cannot be resumed: the config or a mapping changed since it started",
                             hint="put the files back as they were, or roll the run back (crm-migrate rollback) and start a new one")
    recorded = json.loads(row["manifest"] or "{}").get("options")
    if recorded != json.loads(json.dumps(options)):
        raise MigrationError(f"run {run_id} cannot be resumed with other options than it started with",
                             hint="give the same --sample, --where, --seed and --force as the run it resumes: " + json.dumps(recorded, ensure_ascii=False))


def check_before_run(conn: sa.Connection, run_id: str, resume: bool, config_sha256: str, options: dict) -> None:
    """Before any data is read: a resumed run must be resumable; a new run must not start while a
    killed batch run is still `loading` (its half-written rows would count as unchanged, and rolling
    it back later would delete rows the new run relies on)."""
    if RUN_TABLE not in sa.inspect(conn).get_table_names():
        if resume:
            resumable(None, run_id, config_sha256, options)
        return
    runs = sa.Table(RUN_TABLE, sa.MetaData(), autoload_with=conn)
    if resume:
        resumable(run_row(conn, runs, run_id), run_id, config_sha256, options)
    loading = [r for (r,) in conn.execute(sa.select(runs.c.run_id).where(runs.c.status == LOADING, runs.c.run_id != run_id))]
    if loading:
        raise MigrationError(f"run {loading[0]} stopped during its load and is still loading: a new run would build on its half-written rows",
                             hint=f"finish it with `crm-migrate run CONFIG --resume {loading[0]}`, or undo it with "
                                  f"`crm-migrate rollback CONFIG --run {loading[0]}`")


def begin_run(conn: sa.Connection, runs: sa.Table, run_id: str, started: datetime, config_sha256: str, resume: bool,
              options: dict, ledger_table: str | None = None) -> dict[str, dict]:
    """The run's row, status loading: created by a new run; for `--resume`, the killed attempt's row,
    which must be loading and made from the same config and options (`options`: the sample drawn,
    --force). Returns the progress so far: table -> {inserted, updated}."""
    row = run_row(conn, runs, run_id)
    if not resume:
        if row is not None:
            raise MigrationError(f"the target already records a run {run_id}", hint="start a new run, or resume it with --resume")
        conn.execute(runs.insert(), [{"run_id": run_id, "started_at": started.replace(tzinfo=None), "status": LOADING,
                                      "config_sha256": config_sha256, "counts": "{}",
                                      "manifest": json.dumps({"options": options, "ledger_table": ledger_table})}])
        conn.commit()
        return {}
    resumable(row, run_id, config_sha256, options)
    return json.loads(row["counts"] or "{}")


def _progress(conn: sa.Connection, runs: sa.Table, run_id: str, done: dict[str, dict]) -> None:
    conn.execute(runs.update().where(runs.c.run_id == run_id).values(counts=json.dumps(done)))


def load_in_batches(conn: sa.Connection, runs: sa.Table, images: sa.Table, run_id: str, items: list[tuple[sa.Table, pl.DataFrame, str]],
                    batch_size: int, commit_rows: int, done: dict[str, dict]) -> list[tuple[UpsertResult, TableChanges]]:
    """Plan every table from the target as it is, then write each table's inserts and updates in
    batches of `commit_rows`, each committed with its before-images and the run's progress. Returns
    per table the run's counts (this attempt and the earlier ones of a resumed run) and this
    attempt's plan. Progress per table goes to crm_migrate.progress."""
    currents = [read_table(conn, table, frame.schema, before_writes=True) for table, frame, _ in items]
    fault = _Fault()
    out = []
    for (table, frame, key), current in zip(items, currents):
        changes = plan_table(table.name, frame, current, key)
        counts = done.setdefault(table.name, {"inserted": 0, "updated": 0})
        total, written = changes.new.height + changes.updated.height, 0
        for kind, rows in (("inserted", changes.new), ("updated", changes.updated)):
            for start in range(0, rows.height, commit_rows):
                if not conn.in_transaction():  # explicitly: the bulk paths write through the driver's cursor, which
                    conn.begin()  # would not start SQLAlchemy's transaction (SQLite would commit row by row)
                part = rows.slice(start, commit_rows)
                if kind == "inserted":
                    insert_rows(conn, table, part, batch_size)
                    image = before_images(run_id, table.name, key, part, part.clear())
                else:
                    update_rows(conn, table, part, key, batch_size)
                    image = before_images(run_id, table.name, key, part.clear(), changes.before.join(part.select(key), on=key, how="semi"))
                insert_rows(conn, images, image, batch_size)
                counts[kind] += part.height
                _progress(conn, runs, run_id, done)
                fault.committing()
                conn.commit()
                written += part.height
                progress.report(f"{table.name} committed", written, total)
                fault.committed()
        unchanged = frame.height - counts["inserted"] - counts["updated"]
        out.append((UpsertResult(table.name, counts["inserted"], counts["updated"], unchanged), changes))
    return out


def finish_run(conn: sa.Connection, runs: sa.Table, run_id: str, counts: dict, manifest: dict) -> None:
    conn.execute(runs.update().where(runs.c.run_id == run_id).values(
        finished_at=datetime.utcnow(), status=COMMITTED, counts=json.dumps(counts, ensure_ascii=False),
        manifest=json.dumps(manifest, ensure_ascii=False, default=str)))
