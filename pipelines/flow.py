"""The Prefect 3 flow: the same stage list as pipelines/run.py, each stage a Prefect task."""
from __future__ import annotations

import json
from functools import wraps
from pathlib import Path
from typing import Callable

from prefect import flow, get_run_logger, task
from prefect.tasks import exponential_backoff
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed

from crm_migrate.contracts import DISPOSITIONS
from crm_migrate.transient import is_transient
from pipelines.run import run_pipeline
from reports.reconciliation import describe_verdict
from transforms.sample import SampleSpec


# Stages that only read or write databases inside their own transaction: trying one again after a
# transient error (pipelines/flow.retrying) repeats nothing that was kept. A batched load commits on
# the way, so it is not retried: `run --resume` finishes it.
RETRYABLE_STAGES = ("preflight", "extract", "source_deletions", "plan", "load")


def _transient(task_, task_run, state) -> bool:
    """Prefect's retry_condition_fn: retry only a passing database condition, never a data error."""
    return isinstance(state.data, BaseException) and is_transient(state.data)


def retrying(retries: int = 0, delay_seconds: float = 10.0, retry_load: bool = True) -> Callable[[Callable], Callable]:
    """Stages as Prefect tasks. Frames stay in memory between tasks: no result persistence, no input
    hashing. The database stages retry a transient error `retries` times, waiting `delay_seconds`,
    then twice as long each time."""
    def as_task(fn: Callable) -> Callable:
        again = retries if fn.__name__ in RETRYABLE_STAGES and (retry_load or fn.__name__ != "load") else 0
        t = task(fn, name=fn.__name__, cache_policy=NO_CACHE, persist_result=False, retries=again,
                 retry_delay_seconds=exponential_backoff(delay_seconds)(again) if again else 0, retry_condition_fn=_transient)

        @wraps(fn)
        def call(*args, **kwargs):
            return t(*args, **kwargs)

        return call

    return as_task


as_task = retrying()  # no retries


def _artifact(manifest: dict) -> None:
    """On the flow run: a markdown summary (status, verdict, dispositions, links to the run folder's
    reports) and a table of the accounting per source."""
    run_dir = Path(manifest["run_dir"])
    counts = manifest["counts"]["dispositions"]
    verdict = manifest.get("verdict") or {}
    lines = [f"# crm-migrate run {manifest['run_id']}", "", f"status: **{manifest['status']}**"
             + (" (dry run, rolled back)" if manifest["dry_run"] else ""),
             f"verdict: **{verdict.get('result', '?')}** ({verdict.get('scope', '?').replace('_', ' ')})", ""]
    lines += [f"- {r}" for r in verdict.get("reasons", [])]
    lines += ["", "| disposition | records |", "|---|---|"] + [f"| {k} | {v:,} |" for k, v in sorted(counts.items())]
    links = [(name, run_dir / name) for name in ("report.html", "report.xlsx", "reconciliation.json", "ledger.csv", "review_queue.xlsx")]
    lines += ["", "Reports: " + " · ".join(f"[{name}]({path.as_uri()})" for name, path in links if path.exists()), "",
              f"Run folder: `{run_dir}`"]
    create_markdown_artifact(markdown="\n".join(lines), key="crm-migrate-summary", description="Migration summary")
    accounting = json.loads((run_dir / "reconciliation.json").read_text(encoding="utf-8")).get("accounting", []) \
        if (run_dir / "reconciliation.json").exists() else []
    rows = [{k: r.get(k, 0) for k in ("entity", "source", "extracted", *DISPOSITIONS, "balanced")} for r in accounting]
    if rows:
        create_table_artifact(table=rows, key="crm-migrate-accounting", description="Records per source: extracted = loaded + merged + rejected + archived")


def _config(config: str):
    """The config for the flow's own settings (retries, commit mode, phases), or None when it does not
    load: the run reads it again and fails with its own message, file and line."""
    from pipelines.config import load_config

    try:
        return load_config(Path(config)).config
    except Exception:  # noqa: BLE001 - reported by the run itself
        return None


@flow(name="crm-migrate", persist_result=False, log_prints=True)
def migrate(config: str, dry_run: bool = False, out: str | None = None, target_url: str | None = None,
            full_refresh: bool = False, force: bool = False, plan_only: bool = False, sample: bool = False,
            sample_size: int | None = None, sample_where: str | None = None, sample_seed: int = 0, resume: str | None = None,
            phase: str | None = None, cluster: str | None = None) -> dict:
    """Run a migration described by the config file; returns the run manifest.
    `out` and `target_url` override the config's output_dir and target.url; `sample` rehearses on
    `sample_size` golden customers (or those `sample_where` keeps), drawn with `sample_seed`; `phase`
    runs one phase of the config's `phases:`; `cluster` (local:N or tcp://HOST:8786) spreads the
    data-parallel work over Dask workers (pipelines/compute.py)."""
    logger = get_run_logger()
    from pipelines.config import OperationsConfig, load_config

    cfg = _config(config)
    ops = cfg.operations if cfg is not None else OperationsConfig()
    if phase is not None:  # a phase needs the config: one that does not load fails here with its message
        spec = (cfg or load_config(Path(config)).config).phase(phase)
    else:
        spec = SampleSpec(sample_size, sample_where, sample_seed) if sample else None
    retry_load = cfg is None or cfg.target.commit != "batch"
    manifest = run_pipeline(Path(config), dry_run=dry_run, out=out, wrap=retrying(ops.retries, ops.retry_delay_seconds, retry_load),
                            target_url=target_url, full_refresh=full_refresh, force=force, plan_only=plan_only,
                            sample=spec, resume=resume, cluster=cluster,
                            progress=lambda stage, msg: logger.info("%s: %s", stage, msg))
    _artifact(manifest)
    verdict = manifest.get("verdict") or {}
    # the verdict is the flow run's state message, visible in the UI's run list
    return Completed(message=f"verdict: {describe_verdict(verdict)}; status {manifest['status']}; {manifest['run_dir']}", data=manifest)
