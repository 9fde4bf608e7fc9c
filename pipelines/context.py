"""What one run knows about itself: config, run id, run folder, timings, progress reporting."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from crm_migrate.errors import MigrationError
from pipelines.config import LoadedConfig, load_config
from pipelines.state import RunState

Progress = Callable[[str, str], None]


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
        return self

    def __exit__(self, *exc):
        self.ctx.timings[self.name] = round(time.perf_counter() - self.t0, 3)
        return False


def start_run(config_path: str | Path, dry_run: bool = False, out: str | Path | None = None,
              progress: Progress | None = None, target_url: str | None = None, full_refresh: bool = False,
              force: bool = False, suffix: str = "") -> RunContext:
    loaded = load_config(config_path)
    if out is not None:
        loaded.config.output_dir = Path(out).resolve()
    if target_url is not None:
        loaded.config.target.url = target_url
    started = datetime.now(timezone.utc)
    run_id = started.strftime("%Y%m%dT%H%M%S") + f"{started.microsecond // 1000:03d}Z-" + loaded.digest()[:6] + ("-dry" if dry_run else "") + suffix
    run_dir = loaded.config.output_dir / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MigrationError(f"cannot create the run folder: {exc.strerror}", file=str(run_dir),
                             hint="set output_dir (or --out) to a folder this user can write") from None
    state = RunState.load(loaded.config.output_dir)
    ctx = RunContext(loaded, run_id, run_dir, dry_run, started, progress or _quiet, state=state, full_refresh=full_refresh, force=force)
    from reports.run_folder import write_running

    write_running(ctx)
    return ctx
