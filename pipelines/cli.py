"""The `crm-migrate` command line."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from crm_migrate.contracts import shown_dispositions
from crm_migrate.errors import AccountingError, ConfigError, GateFailed, LockTimeout, MigrationError
from crm_migrate.secrets import scrub
from reports.reconciliation import describe_verdict
from transforms.sample import SampleSpec

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Migrate customers and opportunities from legacy Excel, SQL and CSV sources into a new CRM.")
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = REPO_ROOT / "data_samples" / "demo.yaml"

EXIT_FAILED, EXIT_CONFIG, EXIT_GATE, EXIT_ACCOUNTING, EXIT_LOCKED, EXIT_INTERRUPTED = 1, 2, 3, 4, 5, 130


class _Progress:
    """One line per stage event, with the stage's wall time when it ends."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self, stage: str, message: str) -> None:
        if message == "started":
            return
        console.print(f"[dim]{time.perf_counter() - self.t0:6.1f}s[/dim]  [bold cyan]{stage:<16}[/bold cyan] {message}")


def exit_code(exc: BaseException) -> int:
    """The documented exit code of a failure (docs/runbook.md, "When a run fails")."""
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG
    if isinstance(exc, GateFailed):
        return EXIT_GATE
    if isinstance(exc, AccountingError):
        return EXIT_ACCOUNTING
    if isinstance(exc, LockTimeout):
        return EXIT_LOCKED
    return EXIT_FAILED


def _fail(exc: BaseException, debug: bool) -> None:
    """Say what went wrong on stderr, without a traceback and without customer data: messages of our
    own errors name places and counts; an unexpected error's text stays in the run folder."""
    if debug:
        raise exc
    run_dir = getattr(exc, "run_dir", None)
    if isinstance(exc, MigrationError):
        err.print(f"[bold red]error:[/bold red] {scrub(exc.describe())}")
    else:
        stage = getattr(exc, "stage", None)
        err.print(f"[bold red]unexpected error[/bold red]{f' in stage {stage}' if stage else ''}: {type(exc).__name__}\n"
                  + (f"  the run folder {run_dir} holds the message and the traceback (manifest.json, traceback.txt)\n" if run_dir else "")
                  + "  hint: rerun with --debug for the traceback, and report it if it is a bug")
    if run_dir and isinstance(exc, MigrationError) and not isinstance(exc, GateFailed):
        err.print(f"  run folder: {run_dir}")
    raise typer.Exit(exit_code(exc))


def _use_prefect(flag: Optional[bool]) -> bool:
    return flag if flag is not None else bool(os.environ.get("PREFECT_API_URL"))


def _execute(config: Path, dry_run: bool, out: Optional[Path], prefect: Optional[bool], debug: bool,
             target_url: Optional[str] = None, full_refresh: bool = False, force: bool = False, plan_only: bool = False,
             sample: "SampleSpec | None" = None, resume: Optional[str] = None, cluster: Optional[str] = None) -> dict:
    try:
        if _use_prefect(prefect):
            from pipelines.flow import migrate

            manifest = migrate(str(config), dry_run=dry_run, out=str(out) if out else None, target_url=target_url,
                               full_refresh=full_refresh, force=force, plan_only=plan_only,
                               sample_size=sample.size if sample else None, sample_where=sample.where if sample else None,
                               sample_seed=sample.seed if sample else 0, sample=sample is not None and sample.phase is None,
                               phase=sample.phase if sample else None, resume=resume, cluster=cluster)
        else:
            from pipelines.run import run_pipeline

            manifest = run_pipeline(config, dry_run=dry_run, out=out, progress=_Progress(), target_url=target_url,
                                    full_refresh=full_refresh, force=force, plan_only=plan_only, sample=sample, resume=resume,
                                    cluster=cluster)
    except KeyboardInterrupt as exc:
        run_dir = getattr(exc, "run_dir", None)
        err.print("[bold red]interrupted[/bold red]: the target was rolled back" + (f"; the run folder {run_dir} says where the run was" if run_dir else ""))
        raise typer.Exit(EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - every failure gets a clear message
        _fail(exc, debug)
    _summary(manifest)
    return manifest


def _summary(manifest: dict) -> None:
    counts = manifest["counts"]["dispositions"]
    run_dir = Path(manifest["run_dir"])
    console.print()
    planned = manifest["status"] == "planned"
    console.print(f"[bold green]✔ {manifest['status']}[/bold green]" + (" [yellow](nothing written)[/yellow]" if planned else
                  " [yellow](dry run: target rolled back)[/yellow]" if manifest["dry_run"] else ""))
    gate = manifest.get("gate") or {}
    if gate.get("forced"):
        console.print(f"  [bold yellow]gate failed and was overridden by --force[/bold yellow] ({len(gate['reasons'])} reasons):")
        for reason in gate["reasons"]:
            console.print(f"    - {reason}")
    console.print(("  records (if run): " if planned else "  records: ")
                  + ", ".join(f"{k} {counts.get(k, 0):,}" for k in shown_dispositions(bool(manifest.get("sample")))))
    if manifest.get("sample"):
        s = manifest["sample"]
        label = f"PHASE {s['phase']}" if s.get("phase") else "SAMPLE"
        console.print(f"  [bold yellow]{label}[/bold yellow]: {s['golden_customers']:,} of {s['golden_customers_in_full_run']:,} golden customers, "
                      "each with all its records and opportunities")
    console.print(f"  golden customers: {manifest['counts']['golden_customers']:,}")
    v = manifest.get("verdict")
    if v:
        console.print(f"  verdict: [bold {'green' if v['result'] == 'pass' else 'red'}]{describe_verdict(v)}[/]"
                      + "".join(f"\n    - {r}" for r in v["reasons"]))
    console.print(f"  run folder: {run_dir}")
    console.print(f"  report:     {run_dir / 'report.html'}")


@app.command()
def run(
    config: Path = typer.Argument(..., help="Migration config file (YAML)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Do everything, including the writes, then roll the target back."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder for run folders (overrides output_dir)."),
    prefect: Optional[bool] = typer.Option(None, "--prefect/--no-prefect", help="Run as a Prefect flow (default: when PREFECT_API_URL is set)."),
    full_refresh: bool = typer.Option(False, "--full-refresh", help="Ignore stored watermarks: read incremental sources whole."),
    force: bool = typer.Option(False, "--force", help=(
        "Load although a validation gate failed (reject rates, stop_on rules, completeness, target suites); recorded in "
        "the manifest and shown on the report. Values the target cannot hold (too long, required and missing) still stop the run.")),
    plan_only: bool = typer.Option(False, "--plan-only", help="Stop after the plan: what the load would insert and update per table; nothing is written."),
    sample: Optional[int] = typer.Option(None, "--sample", min=1, help=(
        "Rehearse on N golden customers, each with all its duplicate records and opportunities (drawn by a hash of the golden id; "
        "the same seed draws the same customers). The rest are unsampled in the ledger; the report says SAMPLE.")),
    where: Optional[str] = typer.Option(None, "--where", help=(
        "Rehearse on the golden customers this condition keeps (polars SQL on canonical fields: \"province = '广东省'\"); "
        "with --sample, N of them.")),
    seed: int = typer.Option(0, "--seed", help="Seed of the --sample draw."),
    phase: Optional[str] = typer.Option(None, "--phase", help=(
        "Run one phase of a phased migration (config `phases:`): the golden customers of this phase and every earlier one, "
        "committed; the customers of later phases wait in the ledger as unsampled.")),
    all_phases: bool = typer.Option(False, "--all-phases", help="Run every phase of `phases:` in order, one committed run each; stop at the first that fails."),
    resume: Optional[str] = typer.Option(None, "--resume", metavar="RUN_ID", help=(
        "Finish a run with target.commit: batch that was killed: the same input is read again, the batches it committed "
        "are kept, the rest is written, under the same run id. Give the same options as that run.")),
    cluster: Optional[str] = typer.Option(None, "--cluster", metavar="ADDRESS", help=(
        "Spread extraction (per source), normalization (per distinct value) and pair comparison over a Dask cluster: "
        "local:N starts N worker processes (local: 2), tcp://HOST:8786 uses a running scheduler (overrides operations.cluster). "
        "The result is the same as without it; see docs/scale.md.")),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Run a migration: extract, standardize, validate, resolve, map, gate, plan, load, reconcile, report."""
    if cluster is not None:  # a mistyped address is refused before a run starts (exit 2, no run folder)
        from pipelines.compute import parse_cluster

        try:
            parse_cluster(cluster)
        except MigrationError as exc:
            _fail(exc, debug)
    if phase and all_phases:
        _fail(MigrationError("give --phase NAME for one phase or --all-phases for every phase, not both",
                             hint="--all-phases runs them all in order; --phase runs one"), debug)
    if (phase or all_phases) and (sample is not None or where):
        _fail(MigrationError("--phase and --all-phases take their customers from `phases:`; --sample and --where are for rehearsals",
                             hint="give one or the other"), debug)
    if phase or all_phases:
        from pipelines.config import load_config

        try:
            cfg = load_config(config).config
            names = [ph.name for ph in cfg.phases] if all_phases else [phase]
            if not names:
                raise MigrationError("--all-phases: the config declares no `phases:`", hint="declare them (docs/operations.md), or run without it")
            specs = [cfg.phase(n) for n in names]
        except Exception as exc:  # noqa: BLE001
            _fail(exc, debug)
        for spec in specs:
            if all_phases:
                console.print(f"[bold]phase {spec.phase}[/bold] ({names.index(spec.phase) + 1} of {len(names)})")
            _execute(config, dry_run, out, prefect, debug, full_refresh=full_refresh, force=force, plan_only=plan_only, sample=spec, cluster=cluster)
        return
    spec = SampleSpec(sample, where, seed) if sample is not None or where else None
    _execute(config, dry_run, out, prefect, debug, full_refresh=full_refresh, force=force, plan_only=plan_only, sample=spec, resume=resume,
             cluster=cluster)


@app.command()
def plan(
    config: Path = typer.Argument(..., help="Migration config file (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder for run folders (overrides output_dir)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """What a run would change in the target, per table: rows to insert, to update (and the columns that
    change), unchanged, to delete (never: crm-migrate does not delete), with example keys. Writes nothing."""
    _execute(config, False, out, False, debug, plan_only=True)


@app.command()
def deploy(
    config: Path = typer.Argument(..., help="Migration config file (YAML); the deployment runs it by its absolute path."),
    name: Optional[str] = typer.Option(None, "--name", help="Deployment name (default: the config's project)."),
    cron: Optional[str] = typer.Option(None, "--cron", help='Schedule, e.g. "0 2 * * *" (02:00 daily); none: runs only when started.'),
    timezone: Optional[str] = typer.Option(None, "--timezone", help="IANA time zone of the schedule, e.g. Asia/Shanghai (default UTC)."),
    pool: str = typer.Option("crm-migrate", "--pool", help="Process work pool the worker polls (created if missing)."),
    serve_here: bool = typer.Option(False, "--serve", help="Serve the deployment from this process (no worker needed) until stopped."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Default parameter: each run is a dry run."),
    full_refresh: bool = typer.Option(False, "--full-refresh", help="Default parameter: read incremental sources whole."),
    sample_size: Optional[int] = typer.Option(None, "--sample", min=1, help="Default parameter: a sample rehearsal of N golden customers."),
    where: Optional[str] = typer.Option(None, "--where", help="Default parameter: the sample's condition (polars SQL on golden fields)."),
    phase: Optional[str] = typer.Option(None, "--phase", help="Default parameter: the phase of `phases:` each run loads (nightly deltas of a phased migration)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", metavar="ADDRESS", help=(
        "Default parameter: the Dask cluster each run spreads its data-parallel work over (local:N, tcp://HOST:8786; docs/scale.md).")),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Register the migration as a Prefect deployment on the server in PREFECT_API_URL, on a schedule;
    a worker (`prefect worker start --pool crm-migrate`) runs it, or --serve runs it from here. Stages
    that touch a database retry transient errors (operations.retries); operations.notify posts failed
    runs to a webhook. Parameters can be edited in the Prefect UI. See docs/operations.md."""
    from pipelines.config import load_config
    from pipelines.compute import parse_cluster
    from pipelines.deploy import DeploySpec, register, serve

    try:
        loaded_cfg = load_config(config).config
        if phase is not None:
            loaded_cfg.phase(phase)  # an unknown phase is refused now, not at 02:00
        if cluster is not None:
            parse_cluster(cluster)  # a mistyped address is refused now, not at 02:00
        spec = DeploySpec(config, name or loaded_cfg.project, cron, pool, dry_run, full_refresh, sample_size, where, timezone, phase, cluster)
        if serve_here:
            console.print(f"serving deployment crm-migrate/{spec.name}" + (f" on \"{cron}\"" if cron else "") + "; Ctrl-C stops")
            serve(spec)
            return
        deployment_id = register(spec)
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    console.print(f"[bold]deployed[/bold] crm-migrate/{spec.name} ({deployment_id}) to work pool {pool}"
                  + (f", schedule \"{cron}\"" + (f" {timezone}" if timezone else " UTC") if cron else ", no schedule"))
    console.print(f"  start a worker:  prefect worker start --pool {pool}")
    console.print(f"  run it now:      prefect deployment run 'crm-migrate/{spec.name}'")


@app.command()
def demo(
    out: Path = typer.Option(Path("out"), "--out", help="Output folder; the demo's SQLite target is created in it."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Roll the target back at the end."),
    prefect: Optional[bool] = typer.Option(None, "--prefect/--no-prefect", help="Run as a Prefect flow (default: when PREFECT_API_URL is set)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Run the bundled demo migration (Excel + legacy SQLite CRM + GBK CSV) into a SQLite CRM under ./out."""
    if not DEMO_CONFIG.exists():
        err.print(f"[bold red]error:[/bold red] the demo data is not here ({DEMO_CONFIG}); run the demo from a source checkout")
        raise typer.Exit(EXIT_CONFIG)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]crm-migrate demo[/bold]: {DEMO_CONFIG.relative_to(REPO_ROOT)} → sqlite:///{out / 'demo_target.sqlite'}")
    _execute(DEMO_CONFIG, dry_run, out, prefect, debug, target_url=f"sqlite:///{out / 'demo_target.sqlite'}")


@app.command()
def check(
    config: Path = typer.Argument(..., help="Migration config file (YAML)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Validate the config, mappings and suites, and connect to every source and the target, moving no data."""
    from pipelines.checks import check_config

    try:
        for line in check_config(config):
            if line.startswith("warning: "):
                console.print(f"[yellow]![/yellow] {line}")
            else:
                console.print(f"[green]✔[/green] {line}")
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    console.print("[bold green]config OK[/bold green]")


@app.command()
def validate(
    config: Path = typer.Argument(..., help="Migration config file (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder for run folders (overrides output_dir)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Extract, standardize and run the canonical suites only: write the quality report (quality.html,
    quality.xlsx, rejects.csv and flagged.csv: the records the suites would reject or flag, Data Docs) and load nothing.
    Exit 3 when a suite's gate would stop a run."""
    from pipelines.run import run_validation

    try:
        manifest = run_validation(config, out=out, progress=_Progress())
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    run_dir = Path(manifest["run_dir"])
    console.print()
    console.print("[bold green]✔ validated[/bold green] (nothing loaded)")
    for entity, n in manifest["counts"]["records"].items():
        console.print(f"  {entity}: {n:,} records, {manifest['counts']['would_reject'][entity]:,} would be rejected, "
                      f"{manifest['counts']['would_flag'][entity]:,} flagged")
    for suite, rules in manifest["suites"].items():
        failing = [r for r in rules if not r["success"]]
        console.print(f"  {suite}: {len(rules) - len(failing)} of {len(rules)} rules hold"
                      + (": " + ", ".join(f"{r['rule']} {r['failing']:,}" for r in failing) if failing else ""))
    console.print(f"  report: {run_dir / 'quality.html'}")


@app.command()
def suites(
    config: Optional[Path] = typer.Argument(None, help="Migration config file; without it, the bundled suites."),
    types: bool = typer.Option(False, "--types", help="List the expectation types crm-migrate adds to Great Expectations' built-ins."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """List the expectation suites and their rules as a table: rule (flag code), column, severity, reason; and each suite's gate."""
    from rich.markup import escape
    from rich.table import Table

    from expectations.catalogue import custom_types, suite_listing

    try:
        if types:
            table = Table(title="crm-migrate's expectations (every Great Expectations built-in works too)")
            table.add_column("type", no_wrap=True)  # a name to copy into a suite: never broken
            table.add_column("what it checks")
            for name, doc in custom_types():
                table.add_row(name, escape(doc))
            console.print(table)
            return
        listing = suite_listing(config)
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    out = console if console.is_terminal else Console(highlight=False, width=max(console.width, 180))  # piped: a file, not a screen
    for item in listing:
        table = Table(title=f"{item['suite']} ({item['stage']} · {item['entity']}) {item['path']}", title_justify="left")
        for name in ("rule", "column", "severity", "check"):
            table.add_column(name, overflow="fold")
        table.add_column("reason")
        for r in item["rules"]:
            table.add_row(r.flag, ", ".join(r.columns), r.severity, r.type.removeprefix("expect_"), escape(r.reason))
        out.print(table)
        if item["parameters"]:
            out.print("  parameters: " + ", ".join(f"{k} = {v}" for k, v in item["parameters"].items()))
        if item["gate"]:
            out.print("  gate: " + "; ".join(f"{k}: {v}" for k, v in item["gate"].items()))
        out.print()


@app.command()
def rollback(
    config: Path = typer.Argument(..., help="Migration config file (YAML): its target is rolled back."),
    run_id: str = typer.Option(..., "--run", help="The run to undo: its run folder's name (crm_migrate_run in the target lists them)."),
    cascade: bool = typer.Option(False, "--cascade", help="Also roll back later runs that wrote some of the same rows, newest first."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Undo a committed run: delete the rows it inserted, restore the rows it updated from their
    before-images, remove its ledger rows; in one transaction, proven by reading the target back."""
    from loaders.lock import acquire
    from loaders.rollback import rollback as undo
    from loaders.target import make_engine
    from pipelines.config import load_config

    try:
        target = load_config(config).config.target
        engine = make_engine(target.url)
        lock = acquire(engine, f"rollback-{run_id}", target.lock_wait_seconds)
        try:
            result = undo(target.url, target.ledger_table, run_id, cascade)
        finally:
            lock.release()
            engine.dispose()
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    console.print(f"[bold green]✔ rolled back[/bold green] {', '.join(result.rolled_back)}")
    for table in result.deleted:
        gone = result.already_gone.get(table, 0)
        console.print(f"  {table}: {result.deleted[table]:,} inserted rows deleted" + (f" ({gone:,} were already deleted)" if gone else "")
                      + f", {result.restored.get(table, 0):,} updated rows restored")
    console.print(f"  ledger rows removed: {result.ledger_rows:,}; read back: every row as before the run")


@app.command()
def reconcile(
    config: Path = typer.Argument(..., help="Migration config file (YAML)."),
    run_id: Optional[str] = typer.Option(None, "--run", help="The run to check (default: the last committed run the target records)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Re-read the target and check it against what a run loaded: rows deleted, changed (per column) or
    added outside crm-migrate since; rows later runs wrote are told apart. Exit 0 only when clean (4
    otherwise); the findings go to reconcile-<time>.json in the run folder."""
    import json as _json
    from datetime import datetime, timezone

    from loaders.history import run_to_check
    from loaders.recheck import recheck
    from pipelines.config import load_config

    try:
        loaded = load_config(config)
        cfg = loaded.config
        run_id, run_dir = run_to_check(cfg.target.url, cfg.target.ledger_table, cfg.output_dir, run_id, "reconcile")
        found = recheck(cfg.target.url, run_dir, loaded.target_specs())
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    clean = all(f["clean"] for f in found.values())
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (run_dir / f"reconcile-{stamp}.json").write_text(_json.dumps({"schema_version": 1, "run_id": run_id, "checked_at": stamp, "clean": clean, "tables": found},
                                                                 ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    console.print(f"[bold]reconcile[/bold] run {run_id} against the target as it is now")
    for table, f in found.items():
        cols = ", ".join(f"{c} {v['count']:,}" for c, v in f["changed"]["columns"].items())
        console.print(f"  {table}: {f['rows_loaded']:,} rows loaded; {f['deleted']['count']:,} deleted, {f['changed']['count']:,} changed"
                      + (f" ({cols})" if cols else "") + f", {f['added_outside']['count']:,} added outside crm-migrate"
                      + (f"; {f['rows_written_since_by_later_runs']:,} written since by later runs" if f["rows_written_since_by_later_runs"] else ""))
    console.print("[bold green]✔ clean[/bold green]" if clean else "[bold red]✘ the target differs from what the run loaded[/bold red]")
    console.print(f"  findings: {run_dir / f'reconcile-{stamp}.json'}")
    if not clean:
        raise typer.Exit(EXIT_ACCOUNTING)


@app.command("sample-check")
def sample_check(
    config: Path = typer.Argument(..., help="Migration config file (YAML)."),
    size: Optional[int] = typer.Option(None, "--size", min=1, help=(
        "Draw N migrated golden customers for checking by hand, stratified by source, merged/single and flagged/no flags "
        "(at least one per stratum when N allows; N above the run's customers takes all).")),
    run_id: Optional[str] = typer.Option(None, "--run", help="The run (default: the last committed run the target records)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draw: the same seed draws the same customers."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where to write the workbook (default: <run folder>/signoff_sample.xlsx)."),
    read: Optional[Path] = typer.Option(None, "--read", help=(
        "Read a filled workbook back instead: acceptance rate (yes / answered) with its 95% Wilson interval, unanswered, the "
        "customers answered no; writes signoff.json and a Sign-off sample section of report.html in the run folder. "
        "Exit 0 only when every sampled customer is answered yes (4 otherwise).")),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """The sign-off sample (抽样核对): write an Excel workbook of N migrated customers of a run, each
    with its target row (as the target holds it now, else as the run loaded it), its source records
    and its opportunities, and a yes/no answer and a comment per customer; or, with --read, read the
    filled workbook back. Prints counts, ids and the reviewers' comments, no other customer data."""
    from rich.markup import escape

    from loaders.history import run_to_check
    from pipelines.config import load_config
    from reports import signoff
    from reports.masking import mask_text
    from reports.render import SAFE_CELLS
    from reports.run_folder import read_loaded, write_json
    from transforms.signoff import POPULATION, SAMPLED, STRATUM

    if (size is None) == (read is None):
        raise typer.BadParameter("give either --size N (draw a sample) or --read FILE (read a filled one back)")
    try:
        loaded = load_config(config)
        cfg = loaded.config
        specs = loaded.target_specs()
        run_id, run_dir = run_to_check(cfg.target.url, cfg.target.ledger_table, cfg.output_dir, run_id, "check")
        signoff.check_run_folder(run_dir, specs["customer"][0])
        if read is None:
            book = signoff.prepare(run_dir, specs, cfg.target.url, size, seed)
            path = output or run_dir / signoff.WORKBOOK
            signoff.write_workbook(path, book, SAFE_CELLS)
        else:
            answers = signoff.read_workbook(read, run_id)
            res = signoff.result(answers, read, read_loaded(run_dir, specs["customer"][0])[0], specs, signoff.stratum_sizes(run_dir, specs))
            write_json(run_dir / signoff.RESULT, res, loaded.secrets)
            mask = mask_text if cfg.report.mask_personal_data else (lambda v: v)
            signoff.insert_section(run_dir / "report.html", scrub(signoff.html_section(res, mask), loaded.secrets))
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    if read is None:
        console.print(f"[bold]sign-off sample[/bold] of run {run_id}: {book.drawn.height:,} of {int(book.strata[POPULATION].sum()):,} "
                      f"loaded customers, {book.strata.filter(book.strata[SAMPLED] > 0).height} of {book.strata.height} strata (seed {seed})")
        for stratum, customers, sampled in book.strata.select(STRATUM, POPULATION, SAMPLED).iter_rows():
            console.print(f"  {escape(stratum)}: {sampled:,} of {customers:,}")
        console.print(f"  target rows: {'as the target holds them now' if book.target.origin == 'target' else 'as the run loaded them (target not read)'}"
                      + (f"; {len(book.target.missing_now)} no longer in the target" if book.target.missing_now else ""))
        console.print(f"  workbook: {path}")
        return
    low, high = res["wilson_95"]
    rate = "–" if res["acceptance_rate"] is None else f"{res['acceptance_rate']:.1%} (95% Wilson interval {low:.1%} – {high:.1%})"
    console.print(f"[bold]sign-off sample[/bold] of run {run_id}: {res['sampled']:,} customers, {res['answered']:,} answered "
                  f"({res['yes']:,} yes, {res['no']:,} no), {res['unanswered']:,} unanswered")
    console.print(f"  acceptance rate: {rate}" + (f"; weighted by stratum size {res['weighted_acceptance_rate']:.1%}"
                                                  if res.get("weighted_acceptance_rate") is not None else ""))
    for r in res["rejected"]:
        console.print(f"  [red]✘[/red] {r['target_id']}" + (f" {escape(r['account_number'])}" if r["account_number"] else "")
                      + f" (row {r['row']}): {escape(r['comment'] or '(no comment)')}")
    if res["unanswered_ids"]:
        console.print("  unanswered: " + ", ".join(res["unanswered_ids"]))
    console.print("[bold green]✔ signed off[/bold green]" if res["signed_off"] else "[bold red]✘ not signed off[/bold red]")
    console.print(f"  results: {run_dir / signoff.RESULT}; report: {run_dir / 'report.html'} (section Sign-off sample)")
    if not res["signed_off"]:
        raise typer.Exit(EXIT_ACCOUNTING)


@app.command()
def runs(
    config: Path = typer.Argument(..., help="Migration config file (YAML)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """The runs recorded in the target (committed, loading, rolled back; with their counts), and the run
    folders in output_dir (dry runs, plans and failed runs too, which the target never records)."""
    import json as _json

    from rich.table import Table

    from loaders.history import recorded_runs
    from pipelines.config import load_config

    try:
        cfg = load_config(config).config
        recorded = recorded_runs(cfg.target.url, cfg.target.ledger_table)
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    table = Table(title=f"runs recorded in the target ({cfg.target.ledger_table})", title_justify="left")
    for col in ("run", "started (UTC)", "finished", "status", "written (inserted / updated per table)"):
        table.add_column(col, no_wrap=col in ("run", "status"))  # the id is what --run and rollback take: never cut
    for r in recorded:
        written = ", ".join(f"{t} {c.get('inserted', 0):,}/{c.get('updated', 0):,}" for t, c in r["counts"].items())
        table.add_row(r["run_id"] + (" (sample)" if r["sample"] else ""), str(r["started_at"] or "")[:19], str(r["finished_at"] or "")[:19],
                      r["status"], written)
    console.print(table if recorded else "no run recorded in the target yet")
    folders = sorted(p for p in cfg.output_dir.iterdir() if p.is_dir() and (p / "manifest.json").exists()) if cfg.output_dir.exists() else []
    folder_table = Table(title=f"run folders in {cfg.output_dir}", title_justify="left")
    for col in ("run folder", "status", "dry run", "committed"):
        folder_table.add_column(col, no_wrap=col == "run folder")
    for p in folders:
        try:
            m = _json.loads((p / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            m = {}
        folder_table.add_row(p.name, str(m.get("status", "?")), "yes" if m.get("dry_run") else "", "yes" if m.get("committed") else "")
    console.print(folder_table if folders else f"no run folders in {cfg.output_dir}")


@app.command("config-schema")
def config_schema(
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of standard output."),
) -> None:
    """Print the JSON Schema of the config file (for editor completion and validation)."""
    from pipelines.config import config_json_schema

    text = json.dumps(config_json_schema(), ensure_ascii=False, indent=2)
    if output:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    app()
