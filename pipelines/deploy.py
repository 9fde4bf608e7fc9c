"""`crm-migrate deploy`: the migration flow as a Prefect deployment on a real Prefect server, on a
schedule, run by a worker (or served from this process).

The deployment names the flow by module path (`pipelines.flow.migrate`), so a worker runs the
crm-migrate installed where it runs: no image, no code upload. Its parameters (config path, dry
run, full refresh, sample) start as given here and can be edited in the Prefect UI per run or for
the deployment. docs/operations.md has the commands to start the server and a worker."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from crm_migrate.errors import MigrationError

DEFAULT_POOL = "crm-migrate"


@dataclass
class DeploySpec:
    config: Path
    name: str
    cron: str | None = None
    pool: str = DEFAULT_POOL
    dry_run: bool = False
    full_refresh: bool = False
    sample_size: int | None = None
    sample_where: str | None = None
    timezone: str | None = None
    phase: str | None = None
    cluster: str | None = None

    def parameters(self) -> dict:
        """The flow run's parameters (pipelines.flow.migrate), as the UI shows and edits them."""
        sample = self.sample_size is not None or self.sample_where is not None
        return {"config": str(self.config.resolve()), "dry_run": self.dry_run, "full_refresh": self.full_refresh,
                "sample": sample, "sample_size": self.sample_size, "sample_where": self.sample_where, "phase": self.phase,
                "cluster": self.cluster}


def api_url() -> str:
    """The Prefect server's API URL; refused when none is set (an ephemeral server would vanish with
    this process, taking the deployment and its schedule with it)."""
    from prefect.settings import PREFECT_API_URL

    url = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if not url:
        raise MigrationError("no Prefect server: PREFECT_API_URL is not set",
                             hint="start one with `prefect server start` and `export PREFECT_API_URL=http://127.0.0.1:4200/api` "
                                  "(docs/operations.md)")
    return url


def _check_cron(cron: str | None, timezone: str | None) -> None:
    """A cron string Prefect would refuse, said in our words before anything is registered."""
    if timezone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise MigrationError(f"'{timezone}' is not a time zone", hint="give an IANA name such as Asia/Shanghai or UTC") from None
    if cron is None:
        return
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValueError:
        raise MigrationError(f"'{cron}' is not a cron schedule" + (f" in time zone {timezone}" if timezone else ""),
                             hint="five fields: minute hour day month weekday, e.g. \"0 2 * * *\" for 02:00 daily; "
                                  "--timezone takes an IANA name such as Asia/Shanghai") from None


def _ensure_pool(name: str) -> None:
    """Create the process work pool `name` when the server has none of that name."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    async def ensure() -> None:
        async with get_client() as client:
            try:
                await client.read_work_pool(name)
            except ObjectNotFound:
                try:
                    await client.create_work_pool(WorkPoolCreate(name=name, type="process"))
                except ObjectAlreadyExists:
                    pass

    asyncio.run(ensure())


def _schedule(spec: DeploySpec):
    from prefect.schedules import Cron

    return [Cron(spec.cron, timezone=spec.timezone)] if spec.cron else None


def register(spec: DeploySpec) -> str:
    """Register (or update) the deployment on the server in PREFECT_API_URL; return its id."""
    from prefect.deployments.runner import EntrypointType

    from pipelines.flow import migrate

    _ready(spec)
    _ensure_pool(spec.pool)
    deployment_id = migrate.deploy(name=spec.name, work_pool_name=spec.pool, schedules=_schedule(spec), parameters=spec.parameters(),
                                   entrypoint_type=EntrypointType.MODULE_PATH, build=False, push=False, print_next_steps=False,
                                   description=f"crm-migrate: {spec.config.resolve()}", tags=["crm-migrate"])
    return str(deployment_id)


def serve(spec: DeploySpec) -> None:
    """Register the deployment and run its scheduled and manual runs from this process until stopped."""
    from pipelines.flow import migrate

    _ready(spec)
    migrate.serve(name=spec.name, schedules=_schedule(spec), parameters=spec.parameters(), tags=["crm-migrate"], print_starting_message=True)


def _ready(spec: DeploySpec) -> None:
    """Before anything is registered: a server is named, the schedule is valid, the server answers."""
    api_url()
    _check_cron(spec.cron, spec.timezone)
    _reachable()


def _reachable() -> None:
    """Stop with a clear message when the server does not answer (instead of Prefect's retries and traceback)."""
    import asyncio

    from prefect.client.orchestration import get_client

    async def ping() -> Exception | None:
        async with get_client() as client:
            return await client.api_healthcheck()

    problem = asyncio.run(ping())
    if problem is not None:
        raise MigrationError(f"the Prefect server at {api_url()} does not answer ({type(problem).__name__})",
                             hint="start it with `prefect server start` (docs/operations.md), or fix PREFECT_API_URL", transient=True)
