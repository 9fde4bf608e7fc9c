"""A migration run: the stages in order. The Prefect flow (pipelines/flow.py) runs this same list."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from crm_migrate.errors import AccountingError, GateFailed
from pipelines import stages
from pipelines.context import Progress, start_run


def _plain(fn: Callable) -> Callable:
    return fn


def run_pipeline(config: str | Path, dry_run: bool = False, out: str | Path | None = None,
                 progress: Progress | None = None, wrap: Callable[[Callable], Callable] = _plain,
                 target_url: str | None = None, full_refresh: bool = False) -> dict:
    """Run every stage; return the manifest. Raises GateFailed or AccountingError after the run
    folder is written, so a failed run still explains itself."""
    ctx = start_run(config, dry_run, out, progress, target_url, full_refresh)
    extracted = wrap(stages.extract)(ctx)
    canonical = wrap(stages.standardize)(ctx, extracted)
    validated = wrap(stages.validate)(ctx, canonical)
    resolution = wrap(stages.resolve)(ctx, validated)
    mapped = wrap(stages.map_to_target)(ctx, resolution)
    gate = wrap(stages.validate_target)(ctx, canonical, resolution, mapped)
    loaded = wrap(stages.load)(ctx, resolution, mapped, gate)
    reconciliation = wrap(stages.reconcile)(ctx, canonical, resolution, mapped, loaded)
    manifest = wrap(stages.report)(ctx, canonical, validated, resolution, gate, loaded, reconciliation)
    manifest["run_dir"] = str(ctx.run_dir)
    if not gate.passed:
        raise GateFailed("the validation gate stopped the run before loading:\n  - " + "\n  - ".join(gate.reasons),
                         hint=f"nothing was written to the target; see {ctx.run_dir / 'report.html'}")
    unbalanced = [r for r in reconciliation["accounting"] if not r["balanced"]]
    if unbalanced:
        lines = [f"{r['entity']} source {r['source']}: extracted {r['extracted']}, ledgered {r['ledgered']} "
                 f"(off by {r['difference']}, {r['repeated_records']} records twice)" for r in unbalanced]
        raise AccountingError("the ledger does not account for every record:\n  - " + "\n  - ".join(lines),
                              hint="this is a bug in crm-migrate; please report it with the run folder")
    if not reconciliation["balanced"]:
        raise AccountingError("the target read back does not match what was loaded",
                              hint=f"see the reconciliation in {ctx.run_dir / 'reconciliation.json'}")
    if not dry_run:
        manifest["watermarks_advanced"] = stages.save_state(ctx, extracted, resolution)
    return manifest
