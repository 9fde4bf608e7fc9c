"""A masked sandbox load (target.masking) of the demo, on SQLite, PostgreSQL and MariaDB: no real value
of a masked field reaches the target, its ledger, or any file of the run folder; matching still finds
the same customers; a re-run changes nothing (the pseudonyms are deterministic)."""
import io
import json
import zipfile
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
import yaml

from pipelines import stages
from pipelines.context import start_run
from pipelines.run import run_pipeline
from tests.conftest import DEMO_CONFIG
from transforms.pseudonymize import key_bytes, mask_value

KEY = "sandbox-key-for-tests-0001"
METHODS = {"phone": "phone", "phone_other": "phone", "email": "email", "address": "address"}


def masked_config(tmp_path: Path) -> Path:
    doc = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    base = DEMO_CONFIG.parent
    for src in doc["sources"]:
        src["mapping"] = str((base / src["mapping"]).resolve())
        if "path" in src:
            src["path"] = str((base / src["path"]).resolve())
        if "url" in src:
            src["url"] = "sqlite:///" + str((base / src["url"].removeprefix("sqlite:///")).resolve())
    doc["target"]["mapping"] = str((base / doc["target"]["mapping"]).resolve())
    doc["target"]["masking"] = {"key": "${CRM_TEST_MASK_KEY}", "fields": {"phone": "phone", "email": "email", "address": "address"}}
    for stage in doc["validation"]["suites"].values():
        for entity, path in stage.items():
            stage[entity] = str((base / path).resolve())
    path = tmp_path / "masked.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def real_values(tmp_path: Path) -> set[str]:
    """Every value of a masked field, as the sources hold it and as standardized, that masking changes."""
    ctx = start_run(DEMO_CONFIG, True, tmp_path / "probe")
    extracted = stages.extract(ctx)
    canonical = stages.standardize(ctx, extracted)
    values = set()
    for frame in canonical.frames.values():
        for field in METHODS:
            if field in frame.columns:
                values |= {(field, v) for v in frame.get_column(field).drop_nulls().to_list()}
    for src in ctx.config.sources:
        columns = ctx.loaded.source_mappings[src.name].columns
        for field, column in columns.items():
            if field in METHODS and column in extracted[src.name].frame.columns:
                values |= {(field, str(v)) for v in extracted[src.name].frame.get_column(column).drop_nulls().to_list()}
    key = key_bytes(KEY)
    return {v.strip() for f, v in values if len(v.strip()) >= 8 and mask_value(METHODS[f], v, key) != v}


def folder_text(run_dir: Path) -> str:
    parts = []
    for p in run_dir.rglob("*"):
        if p.is_dir():
            continue
        if p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                parts += [z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml")]
        elif p.suffix == ".parquet":
            buf = io.StringIO()
            pl.read_parquet(p).write_ndjson(buf)
            parts.append(buf.getvalue())
        else:
            parts.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def target_text(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = [t for t in sa.inspect(conn).get_table_names()]
            return "\n".join(json.dumps([list(map(str, r)) for r in conn.execute(sa.text(f"SELECT * FROM {t}")).all()], ensure_ascii=False)
                             for t in tables)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def unmasked(tmp_path_factory):
    """The real values and an unmasked run's counts, once for every engine (they do not depend on it)."""
    tmp = tmp_path_factory.mktemp("unmasked")
    plain = run_pipeline(DEMO_CONFIG, out=tmp / "plain", target_url=f"sqlite:///{tmp / 'plain.sqlite'}", dry_run=True)
    return real_values(tmp), plain["counts"]


def test_a_masked_load_shows_no_real_value_anywhere(any_db_url, tmp_path, monkeypatch, unmasked):
    monkeypatch.setenv("CRM_TEST_MASK_KEY", KEY)
    real, plain_counts = unmasked
    assert len(real) > 2000  # phones, emails and addresses of the demo's 2,765 customers
    cfg = masked_config(tmp_path)
    manifest = run_pipeline(cfg, out=tmp_path / "out", target_url=any_db_url)
    assert manifest["status"] == "succeeded" and manifest["masking"] == {"fields": {"phone": "phone", "email": "email", "address": "address",
                                                                                   "phone_other": "phone"}}
    html = (Path(manifest["run_dir"]) / "report.html").read_text(encoding="utf-8")
    assert "<b>Masked load</b>:" in html and "<code>phone_other</code> (phone)" in html
    stored = target_text(any_db_url)
    folder = folder_text(Path(manifest["run_dir"]))
    assert KEY not in stored and KEY not in folder
    lines = pl.Series((stored + "\n" + folder).split("\n"))
    single = [v for v in real if "\n" not in v]
    hits = lines.filter(lines.str.contains_any(single))  # Aho-Corasick over every line at once
    leaked = [v for v in single if any(v in line for line in hits.to_list())] + [v for v in real if "\n" in v and (v in stored or v in folder)]
    assert leaked == []
    # matching works on the pseudonyms: the same golden customers as the real values give
    assert manifest["counts"]["golden_customers"] == plain_counts["golden_customers"]
    assert manifest["counts"]["dispositions"] == plain_counts["dispositions"]
    if any_db_url.startswith("sqlite"):  # the pseudonyms do not depend on the engine: once is enough
        again = run_pipeline(cfg, out=tmp_path / "out", target_url=any_db_url)
        assert [(r["inserted"], r["updated"]) for r in again["load"]] == [(0, 0), (0, 0)]
