"""Write the run folder: manifest, ledger, reconciliation, rejects, validation results, golden records."""
from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

import crm_migrate
from crm_migrate.contracts import ROW
from crm_migrate.secrets import scrub

LIBRARIES = ["polars", "pandas", "pyarrow", "rapidfuzz", "sqlalchemy", "great-expectations", "prefect", "openpyxl",
             "python-calamine", "phonenumbers", "pydantic"]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def code_version() -> dict[str, Any]:
    root = Path(crm_migrate.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    libs = {}
    for name in LIBRARIES:
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = None
    return {"crm_migrate": crm_migrate.__version__, "git_commit": commit, "python": platform.python_version(), "libraries": libs}


def write_json(path: Path, data: Any, secrets: list[str]) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    path.write_text(scrub(text, secrets), encoding="utf-8")


def write_ledger(run_dir: Path, ledger: pl.DataFrame, name: str = "ledger") -> None:
    ledger.write_csv(run_dir / f"{name}.csv")
    ledger.write_parquet(run_dir / f"{name}.parquet")


AS_READ_DIR = "as_read"  # the sources' records as read, set aside during a run for report.xlsx's Rejects; removed after the report


def set_aside(run_dir: Path, position: int, frame: pl.DataFrame) -> Path:
    """Write the frame as read of the config's `position`-th source to the run folder (it leaves
    memory; only its rejected records come back). Named by position: a source's name may not be a file name."""
    folder = run_dir / AS_READ_DIR
    folder.mkdir(exist_ok=True)
    path = folder / f"{position:03d}.parquet"
    frame.write_parquet(path)
    return path


def rows_set_aside(path: Path, rows: pl.Series) -> pl.DataFrame:
    """The records of a set-aside frame at these source rows."""
    return pl.scan_parquet(path).filter(pl.col(ROW).is_in(rows.implode())).collect()


def remove_set_aside(run_dir: Path) -> None:
    shutil.rmtree(run_dir / AS_READ_DIR, ignore_errors=True)


LOADED_DIR = "loaded"  # the rows a run wrote per target table, for `crm-migrate reconcile` later


def write_loaded(run_dir: Path, table: str, rows: pl.DataFrame, outside_keys: pl.Series | None) -> None:
    """The rows a run writes to `table`, and the keys of the target rows beside them when it ran, so
    the target can be checked against them any time later (loaders/recheck.py)."""
    folder = run_dir / LOADED_DIR
    folder.mkdir(exist_ok=True)
    rows.write_parquet(folder / f"{table}.parquet")
    keys = outside_keys if outside_keys is not None else pl.Series("key", [], dtype=pl.String)
    pl.DataFrame({"key": keys.cast(pl.String)}).write_parquet(folder / f"{table}.others.parquet")


def read_loaded(run_dir: Path, table: str) -> tuple[pl.DataFrame, set[str]] | None:
    """(the rows the run wrote to `table`, the keys beside them), or None if it wrote none there."""
    folder = run_dir / LOADED_DIR
    if not (folder / f"{table}.parquet").exists():
        return None
    return pl.read_parquet(folder / f"{table}.parquet"), set(pl.read_parquet(folder / f"{table}.others.parquet")["key"].to_list())


def _base(ctx, status: str) -> dict:
    return {
        "run_id": ctx.run_id,
        "project": ctx.config.project,
        "status": status,
        "dry_run": ctx.dry_run,
        "started_at": ctx.started.isoformat(),
        "stage": ctx.current_stage,
        "timings_seconds": ctx.timings,
        "config": {"path": str(ctx.loaded.path)},
        "target": ctx.config.target.url,
    }


def _finished(ctx, status: str) -> dict:
    return {**_base(ctx, status), "finished_at": datetime.now(timezone.utc).isoformat(),
            "config": {"path": str(ctx.loaded.path), "sha256": ctx.loaded.digest(), "files": [str(p) for p in ctx.loaded.files()]},
            "code": code_version()}


def write_running(ctx) -> None:
    """manifest.json while the run is under way: a run killed (kill -9, power cut) leaves this, with
    the stage it was in, so nobody mistakes it for a run that finished."""
    write_json(ctx.run_dir / "manifest.json", _base(ctx, "running"), ctx.loaded.secrets)


def manifest(ctx, status: str, counts: dict, inputs: list[dict], extra: dict) -> dict:
    """A run that got to its report: no stage is pending (`stage` names where a run stopped)."""
    return {**_finished(ctx, status), "stage": None, "inputs": inputs, "counts": counts, **extra}


def failure_manifest(ctx, status: str, error: dict, extra: dict) -> dict:
    return {**_finished(ctx, status), "error": error, **extra}


def write_non_records(run_dir: Path, non_records: dict[str, list]) -> None:
    """non_records.csv: every row that is not a record (footers, totals, repeated headers, title rows),
    with its source, sheet, row and content, so nothing is dropped unseen."""
    rows = [{"source": src, **n.as_dict()} for src, items in non_records.items() for n in items]
    schema = {"source": pl.String, "row": pl.Int64, "rule": pl.String, "content": pl.String, "sheet": pl.String, "lines": pl.Int64}
    frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    frame.write_csv(run_dir / "non_records.csv")


def write_traceback(run_dir: Path, exc: BaseException, secrets: list[str]) -> None:
    """traceback.txt for an unexpected error: what a bug report needs; never printed to the console."""
    import traceback

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    (run_dir / "traceback.txt").write_text(scrub(text, secrets), encoding="utf-8")
