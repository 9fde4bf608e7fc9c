"""What one run knows about itself: config, run id, run folder, timings, progress reporting."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from crm_migrate.errors import MigrationError
from crm_migrate.progress import reporting
from pipelines.config import LoadedConfig, load_config
from pipelines.state import RunState
from transforms.sample import SampleSpec

Progress = Callable[[str, str], None]
HEARTBEAT_SECONDS = 15.0  # a stage silent this long says it is still running
METER_QUIET_SECONDS, METER_EVERY_SECONDS = 3.0, 2.0  # progress lines only for work longer than this, this often


def _quiet(stage: str, message: str) -> None:
    pass


@dataclass
class RunContext:
    loaded: LoadedConfig
    run_id: str
    run_dir: Path
    dry_run: bool
    started: datetime
    progress: Progress = _quiet
    timings: dict[str, float] = field(default_factory=dict)
    state: RunState | None = None
    full_refresh: bool = False  # ignore stored watermarks: read incremental sources whole
    force: bool = False  # load although a validation gate failed (recorded in the manifest and the report)
    current_stage: str | None = None  # the stage running now: a failure or a kill names it
    sample: SampleSpec | None = None  # a sample rehearsal: load only these golden customers (run --sample / --where)
    resume: bool = False  # run --resume: this run id's batch-committed load was killed; finish it
    cluster: dict | None = None  # run --cluster: the Dask cluster's address, workers and components mode (for the manifest)

    def meter(self, stage: str, label: str, total: int | None, unit: str = "rows", started: float | None = None) -> Callable[[int], None]:
        """A progress line for long work: `done` of `total` with a bar, the rate and the time left
        (total None: done so far and the time taken). Silent for work that ends within METER_QUIET_SECONDS;
        then a line at most every METER_EVERY_SECONDS, and one at the end. `started`: when the work
        began (perf_counter; default now)."""
        t0 = time.perf_counter() if started is None else started
        last = [t0]  # time of the last line

        def update(done: int) -> None:
            now = time.perf_counter()
            finished = total is not None and done >= total
            if now - t0 < METER_QUIET_SECONDS or (not finished and now - last[0] < METER_EVERY_SECONDS):
                return
            last[0] = now
            rate = done / max(now - t0, 1e-9)
            if total is None:
                self.progress(stage, f"{label}: {done:,} {unit} so far ({now - t0:,.0f} s)")
                return
            filled = min(20, int(20 * done / total)) if total else 20
            left = f", about {(total - done) / rate:,.0f} s left" if rate and not finished else f" in {now - t0:,.1f} s"
            self.progress(stage, f"{label} [{'#' * filled}{'.' * (20 - filled)}] {done:,}/{total:,} {unit}, {rate:,.0f} {unit}/s{left}")
        return update

    def sink(self, stage: str):
        """A crm_migrate.progress sink for `stage`: a meter per label, started afresh when the total
        changes or the count goes back (the same loop over another block)."""
        meters: dict[str, tuple[int | None, int, Callable[[int], None]]] = {}
        previous = {"": time.perf_counter()}  # label -> time of its last report ("": of any label, or the stage's start)

        def report(label: str, done: int, total: int | None, unit: str) -> None:
            known = meters.get(label)
            if known is None or known[0] != total or done < known[1]:  # the work began at the label's last report, or the last of any
                known = (total, done, self.meter(stage, label, total, unit, previous.get(label, previous[""])))
            meters[label] = (total, done, known[2])
            previous[label] = previous[""] = time.perf_counter()
            known[2](done)
        return report

    def since(self, source) -> str | None:
        if not source.watermark or self.full_refresh or self.state is None:
            return None
        return self.state.since(source.name, source.watermark)

    @property
    def config(self):
        return self.loaded.config

    def stage(self, name: str):
        return _StageTimer(self, name)


class _StageTimer:
    def __init__(self, ctx: RunContext, name: str) -> None:
        self.ctx, self.name = ctx, name

    def __enter__(self):
        from reports.run_folder import write_running

        self.t0 = time.perf_counter()
        self.ctx.current_stage = self.name
        write_running(self.ctx)  # a run killed now still says where it was
        self.ctx.progress(self.name, "started")
        self.reporting = reporting(self.ctx.sink(self.name))  # loops inside the stage report their progress
        self.reporting.__enter__()
        self.stop = threading.Event()
        threading.Thread(target=self._heartbeat, name=f"crm-migrate-{self.name}", daemon=True).start()
        return self

    def _heartbeat(self) -> None:
        """Work that cannot report its own progress (a Great Expectations suite, one big join) still
        shows it is alive: the elapsed time every HEARTBEAT_SECONDS."""
        while not self.stop.wait(HEARTBEAT_SECONDS):
            try:
                self.ctx.progress(self.name, f"still running, {time.perf_counter() - self.t0:,.0f} s")
            except Exception:  # noqa: BLE001 - a progress line is never worth a failed run
                return

    def __exit__(self, *exc):
        self.stop.set()
        self.reporting.__exit__(*exc)
        self.ctx.timings[self.name] = round(time.perf_counter() - self.t0, 3)
        return False


def start_run(config_path: str | Path, dry_run: bool = False, out: str | Path | None = None,
              progress: Progress | None = None, target_url: str | None = None, full_refresh: bool = False,
              force: bool = False, suffix: str = "", sample: SampleSpec | None = None, resume: str | None = None) -> RunContext:
    loaded = load_config(config_path)
    if out is not None:
        loaded.config.output_dir = Path(out).resolve()
    if target_url is not None:
        loaded.config.target.url = target_url
    started = datetime.now(timezone.utc)
    run_id = resume or (started.strftime("%Y%m%dT%H%M%S") + f"{started.microsecond // 1000:03d}Z-" + loaded.digest()[:6]
                        + ("-dry" if dry_run else "") + (("-phase" if sample.phase is not None else "-sample") if sample else "") + suffix)
    run_dir = loaded.config.output_dir / run_id
    if resume and not run_dir.is_dir():  # before anything is read or written (a mistyped id leaves no folder behind)
        raise MigrationError(f"no run folder {run_id} in {loaded.config.output_dir}: there is no such run to resume",
                             hint="give the id of the killed run (its folder's name; `crm-migrate runs CONFIG` lists the runs), with the same --out")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MigrationError(f"cannot create the run folder: {exc.strerror}", file=str(run_dir),
                             hint="set output_dir (or --out) to a folder this user can write") from None
    state = RunState.load(loaded.config.output_dir)
    ctx = RunContext(loaded, run_id, run_dir, dry_run, started, progress or _quiet, state=state, full_refresh=full_refresh, force=force,
                     sample=sample, resume=resume is not None)
    from reports.run_folder import write_running

    write_running(ctx)
    return ctx
