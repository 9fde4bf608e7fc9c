"""The broken-input corpus (tests/bad_inputs/cases.py) through `crm-migrate` as a user runs it: the
exit code, a message that names the file and the row/line/column, no traceback and no customer data
on the console, and every physical record of the input accounted for in the (planned) ledger."""
import json
import os
import subprocess
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from tests.bad_inputs.cases import CASES
from tests.helpers import ROOT, run_dirs

CLI = ROOT / ".venv" / "bin" / "crm-migrate"


def _databases(request, case) -> dict:
    urls = {}
    for kind in case.needs:
        urls[kind] = request.getfixturevalue("pg_url" if kind == "postgresql" else "mysql_url")
    return urls


def _clean(urls: dict) -> None:
    for url in urls.values():
        engine = sa.create_engine(url)
        md = sa.MetaData()
        md.reflect(engine)
        md.drop_all(engine)
        engine.dispose()


def _held_lock(config: Path):
    from loaders.lock import acquire
    from loaders.target import make_engine
    from pipelines.config import load_config

    engine = make_engine(load_config(config).config.target.url)
    return acquire(engine, "20261201T080000000Z-other", 5), engine


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_input(case, tmp_path, request):
    urls = _databases(request, case)
    lock = None
    try:
        config = case.build(tmp_path, urls)
        if case.hold_lock:
            lock = _held_lock(config)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_TEST_")} | {"COLUMNS": "400"}
        result = subprocess.run([str(CLI), case.command, str(config), *(["--no-prefect"] if case.command == "run" else [])],
                                capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    finally:
        if lock is not None:
            lock[0].release()
            lock[1].dispose()
        if case.undo:
            case.undo(tmp_path)
        _clean(urls)
    console = result.stdout + result.stderr
    assert result.returncode == case.exit, console
    assert "Traceback" not in console and "unexpected error" not in console, console
    for pattern in case.says:
        assert __import__("re").search(pattern, console), f"{pattern!r} not in:\n{console}"
    for secret in case.private:
        assert secret not in console, f"customer data {secret!r} on the console:\n{console}"
    if case.command != "run":
        return
    dirs = run_dirs(tmp_path)
    if case.exit == 2:
        assert not dirs  # an invalid config never starts a run
        return
    assert len(dirs) == 1
    manifest = json.loads((dirs[0] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == {0: "succeeded", 3: "stopped_at_gate", 4: "unbalanced"}.get(case.exit, "failed")
    if case.exit in (1, 5):
        assert manifest["error"]["stage"] and manifest["error"]["message"]
        assert (dirs[0] / "report.html").exists()
    if case.records is not None:
        name = "ledger.csv" if (dirs[0] / "ledger.csv").exists() else "planned_ledger.csv"
        ledger = pl.read_csv(dirs[0] / name, schema_overrides={"source_key": pl.String}, infer_schema=False)
        assert dict(ledger.group_by("source").len().rows()) == {k: v for k, v in case.records.items() if v}
        assert ledger.select("source", "source_key", "source_row").is_duplicated().sum() == 0
        for source in case.records:  # the physical count of the input agrees
            entry = next(i for i in manifest["inputs"] if i["source"] == source)
            assert entry["physical"]["balanced"] and entry["physical"]["records"] == case.records[source]
    if case.non_records:
        non = pl.read_csv(dirs[0] / "non_records.csv")
        assert dict(non.group_by("source").len().rows()) == case.non_records
