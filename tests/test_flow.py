"""The Prefect flow runs the same stages as tasks and records a summary artifact."""
import asyncio
import json
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import DEMO_CONFIG


def test_prefect_flow_runs_every_stage_as_a_task(prefect_harness, tmp_path, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId

    from pipelines.flow import migrate

    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("CRM_DEMO_TARGET_URL", url)
    state = migrate(str(DEMO_CONFIG), dry_run=False, out=str(tmp_path), return_state=True)
    assert state.is_completed()
    manifest = state.result()
    assert state.message.startswith("verdict: pass (loaded); status succeeded; ")  # shown in the UI's run list
    assert manifest["status"] == "succeeded"
    assert json.loads((Path(manifest["run_dir"]) / "reconciliation.json").read_text(encoding="utf-8"))["balanced"]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM crm_account")).scalar_one() == manifest["counts"]["by_entity"]["customer"]["loaded"]
    engine.dispose()

    async def task_names():
        async with get_client() as client:
            runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
            # only this run's artifacts: other tests' flows share the session's server and the same keys
            artifacts = await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
            return sorted(r.name.rsplit("-", 1)[0] for r in runs), {a.key: a for a in artifacts}

    names, artifacts = asyncio.run(task_names())
    artifact_keys = list(artifacts)
    assert names == sorted(["preflight", "extract", "source_deletions", "standardize", "mask", "profile", "validate", "resolve", "sample", "map_to_target", "validate_target", "load", "report"])
    assert "crm-migrate-summary" in artifact_keys
    summary = artifacts["crm-migrate-summary"].data
    assert "verdict: **pass** (loaded)" in summary and f"[report.html]({(Path(manifest['run_dir']) / 'report.html').as_uri()})" in summary
    table = artifacts["crm-migrate-accounting"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert sorted((r["source"], r["extracted"]) for r in table) == sorted(
        (r["source"], r["extracted"]) for r in json.loads((Path(manifest["run_dir"]) / "reconciliation.json").read_text(encoding="utf-8"))["accounting"])
