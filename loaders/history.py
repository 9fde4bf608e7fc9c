"""The migration's own tables in the target, next to the ledger: what each run did, so a run can be
listed, planned against and rolled back long after its run folder is gone.

- `crm_migrate_run`: one row per committed run (id = the run folder's name): times, status
  (committed, rolled_back), config hash, counts per table and the manifest (JSON).
- `crm_migrate_xref` (a view over the ledger): each source record that is in the target, its target
  table and target id, as the latest run that loaded or merged it left it; rolled-back runs are gone
  from the ledger, so from the view too.
- `crm_migrate_before_image`: what a run wrote, per table: the keys it inserted (a JSON list per
  row of up to 5,000) and each row it updated as it was before (JSON, one row per key), so a
  rollback can delete what the run inserted and put back what it changed.

Both are written in the load's transaction: a rolled-back or dry run leaves no trace in them."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

RUN_TABLE = "crm_migrate_run"
XREF_VIEW = "crm_migrate_xref"
IMAGE_TABLE = "crm_migrate_before_image"
COMMITTED, ROLLED_BACK = "committed", "rolled_back"
LOADING = "loading"  # a run with commit: batch, between its first batch and its end (or killed there: --resume)
INSERT, UPDATE = "insert", "update"
# MySQL/MariaDB's TEXT holds 64 KB: a packed key list or a manifest may need more.
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def run_table(md: sa.MetaData) -> sa.Table:
    return sa.Table(
        RUN_TABLE, md,
        sa.Column("run_id", sa.String(60), primary_key=True),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("config_sha256", sa.String(64)),
        sa.Column("counts", sa.Text),
        sa.Column("manifest", LONG_TEXT),
    )


def image_table(md: sa.MetaData) -> sa.Table:
    return sa.Table(
        IMAGE_TABLE, md,
        sa.Column("run_id", sa.String(60), nullable=False),
        sa.Column("target_table", sa.String(100), nullable=False),
        sa.Column("target_key", sa.String(200), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("before", LONG_TEXT),
        sa.Index(f"ix_{IMAGE_TABLE}_run", "run_id"),
        sa.Index(f"ix_{IMAGE_TABLE}_key", "target_table", "target_key"),
    )


def history_tables(md: sa.MetaData) -> list[sa.Table]:
    return [run_table(md), image_table(md)]


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


KEYS_PER_ROW = 5_000  # inserted keys share an image row: a rollback needs only the keys


def before_images(run_id: str, table: str, key: str, inserted: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """The image rows of one table: the inserted keys (a JSON list per row of up to KEYS_PER_ROW; the
    row's target_key is the first of them) and each updated row as it was (one row per key)."""
    keys = [str(k) for k in inserted.get_column(key).to_list()]
    rows = [{"run_id": run_id, "target_table": table, "target_key": chunk[0], "action": INSERT, "before": json.dumps(chunk, ensure_ascii=False)}
            for chunk in (keys[i:i + KEYS_PER_ROW] for i in range(0, len(keys), KEYS_PER_ROW))]
    for r in before.iter_rows(named=True):
        rows.append({"run_id": run_id, "target_table": table, "target_key": str(r[key]), "action": UPDATE,
                     "before": json.dumps({c: _jsonable(v) for c, v in r.items()}, ensure_ascii=False)})
    schema = {"run_id": pl.String, "target_table": pl.String, "target_key": pl.String, "action": pl.String, "before": pl.String}
    return pl.DataFrame(rows, schema=schema)


def expand_images(rows: list[tuple]) -> list[tuple[str, str, str, str | None]]:
    """(table, key, action, before) per written row, the inserted keys unpacked from their lists."""
    out = []
    for table, key, action, before in rows:
        if action == INSERT:
            out += [(table, k, INSERT, None) for k in json.loads(before)] if before else [(table, key, INSERT, None)]
        else:
            out.append((table, key, action, before))
    return out


def record_run(conn: sa.Connection, table: sa.Table, run_id: str, started: datetime, config_sha256: str, counts: dict, manifest: dict) -> None:
    conn.execute(table.insert(), [{
        "run_id": run_id, "started_at": started.replace(tzinfo=None), "finished_at": datetime.utcnow(), "status": COMMITTED,
        "config_sha256": config_sha256, "counts": json.dumps(counts, ensure_ascii=False),
        "manifest": json.dumps(manifest, ensure_ascii=False, default=str)}])


def restore_value(value, column: sa.Column):
    """A before-image value (JSON) back to what the column holds."""
    if value is None:
        return None
    t = column.type
    if isinstance(t, sa.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(t, sa.Date):
        return date.fromisoformat(value)
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        return Decimal(value)
    return value


def xref_view_sql(engine: sa.Engine, ledger: sa.Table, tables: dict[str, str]) -> str:
    """CREATE VIEW crm_migrate_xref: source record -> target table and id (entity -> table: `tables`)."""
    kept = ("loaded", "merged")
    l, l2 = ledger.alias("l"), ledger.alias("l2")
    latest = (sa.select(sa.func.max(l2.c.run_id))
              .where(l2.c.entity == l.c.entity, l2.c.source == l.c.source, l2.c.source_key == l.c.source_key,
                     l2.c.disposition.in_(kept)).scalar_subquery())
    select = sa.select(l.c.entity, l.c.source, l.c.source_key, l.c.source_row,
                       sa.case(tables, value=l.c.entity).label("target_table"), l.c.target_id, l.c.run_id
                       ).where(l.c.disposition.in_(kept), l.c.target_id.is_not(None), l.c.run_id == latest)
    body = select.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    return f"CREATE VIEW {XREF_VIEW} AS {body}"


def ensure_xref_view(engine: sa.Engine, ledger: sa.Table, tables: dict[str, str]) -> None:
    """Create the view once, in its own transaction (DDL commits on MySQL/MariaDB)."""
    with engine.begin() as conn:
        if XREF_VIEW not in sa.inspect(conn).get_view_names():
            conn.exec_driver_sql(xref_view_sql(engine, ledger, tables))


def recorded_runs(url: str, ledger_table: str) -> list[dict]:
    """The runs crm_migrate_run records for this project (its ledger table; runs of other projects
    sharing the database are left out), oldest first: id, times, status, counts per table."""
    from loaders.target import connect_target, make_engine, sqlite_file

    path = sqlite_file(url)
    if path is not None and not path.exists():  # nothing recorded, and no empty file left behind
        return []
    engine = make_engine(url)
    try:
        with connect_target(engine, url) as conn:
            if RUN_TABLE not in sa.inspect(conn).get_table_names():
                return []
            runs = run_table(sa.MetaData())
            out = []
            for r in conn.execute(sa.select(runs).order_by(runs.c.run_id)).mappings():
                manifest = json.loads(r["manifest"] or "{}")
                if manifest.get("ledger_table", ledger_table) != ledger_table:
                    continue
                out.append({"run_id": r["run_id"], "started_at": r["started_at"], "finished_at": r["finished_at"], "status": r["status"],
                            "counts": json.loads(r["counts"] or "{}"), "sample": bool(manifest.get("sample"))})
            return out
    finally:
        engine.dispose()

def run_to_check(url: str, ledger_table: str, output_dir, run_id: str | None, what: str):
    """(run id, run folder) of the run a later check reads (`reconcile`, `sample-check`): the one
    asked for, else the last committed run the target records; refused, with what to do, when there
    is none or its folder is not in output_dir."""
    from pathlib import Path

    from crm_migrate.errors import MigrationError

    if run_id is None:
        committed = [r["run_id"] for r in recorded_runs(url, ledger_table) if r["status"] == COMMITTED]
        if not committed:
            raise MigrationError(f"the target records no committed run to {what}", hint="`crm-migrate runs CONFIG` lists the runs; give --run")
        run_id = committed[-1]
    run_dir = Path(output_dir) / run_id
    if not run_dir.is_dir():
        raise MigrationError(f"no run folder {run_id} in {output_dir}", hint="give --run a run folder's name, with the config's output_dir")
    return run_id, run_dir

