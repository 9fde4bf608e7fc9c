"""A migration run: the stages in order. The Prefect flow (pipelines/flow.py) runs this same list."""
from __future__ import annotations

from dataclasses import replace
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

from crm_migrate.errors import AccountingError, GateFailed
from pipelines import compute, stages
from pipelines.context import Progress, start_run
from transforms.parallel import spread_over
from transforms.sample import SampleSpec


def _plain(fn: Callable) -> Callable:
    return fn


def run_pipeline(config: str | Path, dry_run: bool = False, out: str | Path | None = None,
                 progress: Progress | None = None, wrap: Callable[[Callable], Callable] = _plain,
                 target_url: str | None = None, full_refresh: bool = False, force: bool = False, plan_only: bool = False,
                 sample: SampleSpec | None = None, resume: str | None = None, cluster: str | None = None) -> dict:
    """Run every stage; return the manifest. Raises GateFailed or AccountingError after the run
    folder is written, so a stopped run still explains itself; any other failure also leaves the run
    folder (manifest with the stage and the error, the planned ledger so far, the report).
    `cluster` (or operations.cluster): a Dask cluster for the data-parallel work (pipelines/compute.py)."""
    ctx = start_run(config, dry_run or plan_only, out, progress, target_url, full_refresh, force, suffix="-plan" if plan_only else "", sample=sample,
                    resume=resume)
    done: dict = {}  # what the stages produced so far, for the failure report
    lock = None
    scope = ExitStack()  # the cluster, when there is one: closed after the lock is released

    def step(name: str, fn: Callable, *args):
        ctx.current_stage = name  # a failure names its stage, even one that fails before it starts its timer
        return wrap(fn)(ctx, *args)

    try:
        ctx.current_stage = "cluster"
        spec = compute.for_run(cluster or ctx.config.operations.cluster, ctx.config.operations.cluster_components)
        mapper = scope.enter_context(compute.cluster(spec, lambda line: ctx.progress("cluster", line)))
        scope.enter_context(spread_over(mapper))
        if mapper is not None:
            ctx.cluster = {"address": spec.address, "workers": mapper.workers, "components": spec.components}
        lock = step("preflight", stages.preflight)  # the target is locked, reachable, writable, and fits the mapping
        done["extracted"] = extracted = step("extract", stages.extract)
        deletions = step("source_deletions", stages.source_deletions, extracted)  # records the sources no longer hold: reported, never deleted
        done["canonical"] = canonical = step("standardize", stages.standardize, extracted)
        done["canonical"] = canonical = step("mask", stages.mask, canonical)  # a masked sandbox load: nothing after sees the real values
        quality = step("profile", stages.profile, extracted, canonical)
        done["extracted"] = extracted = stages.set_aside(ctx, extracted)  # the records as read leave memory: only report.xlsx's rejects need them
        done["validated"] = validated = step("validate", stages.validate, canonical)
        done["resolution"] = resolution = step("resolve", stages.resolve, validated)
        done["resolution"] = resolution = step("sample", stages.sample, resolution)  # a rehearsal on a subset, when asked
        mapped = step("map", stages.map_to_target, resolution)
        done["resolution"] = resolution = replace(resolution, ledger=mapped.ledger)  # with the mapping's flags (truncated, defaulted)
        gate = step("validate_target", stages.validate_target, canonical, resolution, mapped, validated)
        if plan_only:  # what the load would change, nothing written
            loaded = step("plan", stages.plan, canonical, resolution, mapped)
        else:
            loaded = step("load", stages.load, canonical, resolution, mapped, gate)  # writes, reads back, proves, commits
        manifest = step("report", stages.report, extracted, canonical, validated, resolution, gate, loaded, quality, mapped, deletions)
        manifest["run_dir"] = str(ctx.run_dir)
        if loaded.committed:
            manifest["watermarks_advanced"] = stages.save_state(ctx, extracted, resolution)
    except BaseException as exc:  # KeyboardInterrupt too: the run folder says what happened
        stages.report_failure(ctx, exc, done)
        exc.run_dir, exc.stage = ctx.run_dir, ctx.current_stage  # for the command line's message
        raise
    finally:
        if lock is not None:
            lock.release()
        scope.close()
        stages.notify_end(ctx)  # operations.notify: the webhook hears of a run that needs a person
    reconciliation = loaded.reconciliation
    unbalanced = [r for r in reconciliation["accounting"] if not r["balanced"]]
    if unbalanced:  # a record lost or counted twice outweighs a gate stop: it is a bug
        raise AccountingError("the ledger does not account for every record:\n  - " + "\n  - ".join(stages.unbalanced_lines(unbalanced)),
                              hint=f"nothing was written to the target; this is a bug in crm-migrate: please report it with {ctx.run_dir}")
    if not gate.passed:
        raise GateFailed("the validation gate stopped the run before loading:\n  - " + "\n  - ".join(gate.reasons),
                         hint=f"nothing was written to the target; see {ctx.run_dir / 'report.html'}")
    if not reconciliation["balanced"] and not plan_only:
        raise AccountingError("the target read back does not match what was loaded",
                              hint=f"the target was rolled back; see the reconciliation in {ctx.run_dir / 'reconciliation.json'}")
    return manifest


def run_validation(config: str | Path, out: str | Path | None = None, progress: Progress | None = None) -> dict:
    """`crm-migrate validate`: extract, standardize, profile and run the canonical suites; write the
    quality report (quality.html, quality.xlsx, rejects.csv, Data Docs) and load nothing (the target
    is not even opened). Raises GateFailed, after the run folder is written, when a suite's gate
    would stop a run."""
    ctx = start_run(config, False, out, progress, suffix="-validate")
    done: dict = {}
    try:
        done["extracted"] = extracted = stages.extract(ctx)
        done["canonical"] = canonical = stages.standardize(ctx, extracted)
        done["canonical"] = canonical = stages.mask(ctx, canonical)
        quality = stages.profile(ctx, extracted, canonical)
        validated = stages.validate(ctx, canonical)
        manifest = stages.validation_report(ctx, canonical, validated, quality)
        manifest["run_dir"] = str(ctx.run_dir)
    except BaseException as exc:
        stages.report_failure(ctx, exc, done)
        exc.run_dir, exc.stage = ctx.run_dir, ctx.current_stage
        raise
    if validated.gate_stops:
        raise GateFailed("a suite's gate would stop a run before loading:\n  - " + "\n  - ".join(validated.gate_stops),
                         hint=f"see {ctx.run_dir / 'quality.html'}")
    return manifest
