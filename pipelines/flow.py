"""The Prefect 3 flow: the same stage list as pipelines/run.py, each stage a Prefect task."""
from __future__ import annotations

from functools import wraps
from pathlib import Path
from typing import Callable

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from pipelines.run import run_pipeline
from transforms.sample import SampleSpec


def as_task(fn: Callable) -> Callable:
    """Frames stay in memory between tasks: no result persistence, no input hashing."""
    t = task(fn, name=fn.__name__, cache_policy=NO_CACHE, persist_result=False, retries=0)

    @wraps(fn)
    def call(*args, **kwargs):
        return t(*args, **kwargs)

    return call


def _artifact(manifest: dict) -> None:
    counts = manifest["counts"]["dispositions"]
    lines = [f"# crm-migrate run {manifest['run_id']}", "", f"status: **{manifest['status']}**"
             + (" (dry run, rolled back)" if manifest["dry_run"] else ""), "",
             "| disposition | records |", "|---|---|"] + [f"| {k} | {v:,} |" for k, v in sorted(counts.items())]
    lines += ["", f"Run folder: `{manifest['run_dir']}`"]
    create_markdown_artifact(markdown="\n".join(lines), key="crm-migrate-summary", description="Migration summary")


@flow(name="crm-migrate", persist_result=False, log_prints=True)
def migrate(config: str, dry_run: bool = False, out: str | None = None, target_url: str | None = None,
            full_refresh: bool = False, force: bool = False, plan_only: bool = False, sample: bool = False,
            sample_size: int | None = None, sample_where: str | None = None, sample_seed: int = 0, resume: str | None = None) -> dict:
    """Run a migration described by the config file; returns the run manifest.
    `out` and `target_url` override the config's output_dir and target.url; `sample` rehearses on
    `sample_size` golden customers (or those `sample_where` keeps), drawn with `sample_seed`."""
    logger = get_run_logger()
    manifest = run_pipeline(Path(config), dry_run=dry_run, out=out, wrap=as_task, target_url=target_url, full_refresh=full_refresh, force=force, plan_only=plan_only,
                            sample=SampleSpec(sample_size, sample_where, sample_seed) if sample else None, resume=resume,
                            progress=lambda stage, msg: logger.info("%s: %s", stage, msg))
    _artifact(manifest)
    return manifest
