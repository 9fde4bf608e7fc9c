"""`crm-migrate reconcile`: re-read the target, any time after a run, and check it against what that
run loaded (kept in its run folder, loaded/): rows deleted, changed or added outside crm-migrate
since, per table and column (reports/reconciliation.check_target_later)."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from crm_migrate.errors import MigrationError
from loaders.history import COMMITTED, IMAGE_TABLE, RUN_TABLE, expand_images
from loaders.schema import target_table
from loaders.target import connect_target, make_engine
from loaders.upsert import read_table
from reports.reconciliation import check_target_later
from reports.run_folder import LOADED_DIR, read_loaded


def _later_keys(conn: sa.Connection, run_id: str, table: str) -> set[str]:
    """Keys of `table` that committed runs after `run_id` wrote (inserted or updated)."""
    md = sa.MetaData()
    runs, images = sa.Table(RUN_TABLE, md, autoload_with=conn), sa.Table(IMAGE_TABLE, md, autoload_with=conn)
    later = sa.select(runs.c.run_id).where(runs.c.status == COMMITTED, runs.c.run_id > run_id)
    rows = conn.execute(sa.select(images.c.target_table, images.c.target_key, images.c.action, images.c.before)
                        .where(images.c.run_id.in_(later), images.c.target_table == table)).all()
    return {k for _, k, _, _ in expand_images([tuple(r) for r in rows])}


def recheck(url: str, run_dir: Path, specs: dict[str, tuple]) -> dict[str, dict]:
    """Per target table the run loaded: check_target_later's findings. `specs`: entity -> (table,
    key, column specs) of the target mapping."""
    if not (run_dir / LOADED_DIR).is_dir():
        raise MigrationError(f"run folder {run_dir} keeps no loaded rows ({LOADED_DIR}/)",
                             hint="runs keep them from crm-migrate 0.2 on; reconcile a run made since")
    engine = make_engine(url)
    out = {}
    try:
        with connect_target(engine, url) as conn:
            existing = set(sa.inspect(conn).get_table_names())
            md = sa.MetaData()
            for entity, (name, key, cols) in specs.items():
                kept = read_loaded(run_dir, name)
                if kept is None:
                    continue
                loaded, others = kept
                target = read_table(conn, target_table(md, name, key, cols), loaded.schema) if name in existing else loaded.clear()
                later = _later_keys(conn, run_dir.name, name) if RUN_TABLE in existing and IMAGE_TABLE in existing else set()
                out[name] = check_target_later(loaded, target, key, later, others | later)
    finally:
        engine.dispose()
    return out
