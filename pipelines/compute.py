"""`run --cluster`: the Dask cluster the data-parallel parts of a run go to (docs/scale.md).

`local:N` starts a LocalCluster of N worker processes for the run and closes it after;
`tcp://host:8786` connects to a running scheduler, whose workers must have crm-migrate installed
(the same version) and see the sources' paths. dask.distributed is used directly, not through
prefect-dask's DaskTaskRunner: the stages run one after another and hand frames of millions of rows
to each other, so shipping whole stages to workers would only move those frames about; what is
spread is the work inside a stage (transforms/parallel.py), and the stages stay Prefect tasks.
"""
from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from crm_migrate.errors import ConfigError, MigrationError

COMPONENTS = ("gather", "distributed")
WAIT_FOR_WORKERS_SECONDS = 30
_LOCAL = re.compile(r"local(?::(\d+))?")


@dataclass(frozen=True)
class ClusterSpec:
    address: str  # "local:N" or a scheduler address
    components: str = "gather"

    @property
    def local_workers(self) -> int | None:
        m = _LOCAL.fullmatch(self.address)
        return (int(m.group(1)) if m.group(1) else 2) if m else None


def parse_cluster(address: str, components: str = "gather", given_as: str = "--cluster") -> ClusterSpec:
    """Check a cluster address: local (2 workers) or local:N (N ≥ 1), or tcp://host:port (also
    tls://). `given_as` names where it was given, for the message (a ConfigError: exit 2)."""
    text = address.strip()
    m = _LOCAL.fullmatch(text)
    if m and (m.group(1) is None or int(m.group(1)) >= 1):
        return ClusterSpec(text, _components(components))
    tcp = re.fullmatch(r"(tcp|tls)://[^\s:/]+:(\d{1,5})", text)
    if tcp and 1 <= int(tcp.group(2)) <= 65535:
        return ClusterSpec(text, _components(components))
    raise ConfigError(f"{given_as} {address!r} is not a cluster address",
                      hint="use local:N to start N local worker processes (local:2), or tcp://HOST:8786 for a running Dask scheduler")


def for_run(address: str | None, components: str) -> ClusterSpec | None:
    """The run's cluster: `run --cluster` else `operations.cluster` (the caller passes the first
    given), with operations.cluster_components; None without either."""
    return parse_cluster(address, components) if address is not None else None


def _components(value: str) -> str:
    if value not in COMPONENTS:
        raise ConfigError(f"operations.cluster_components {value!r} is not one of {', '.join(COMPONENTS)}",
                             hint="gather: the scored edges are gathered for one clustering step; distributed: a connected-components pass on the workers")
    return value


class DaskMapper:
    """transforms/parallel.Mapper on a dask.distributed Client. Chunks, results and the shared
    argument travel as pickled bytes: dask walks a list argument element by element to look for
    futures inside it, which for a chunk of 10,000 strings costs far more than the work. The shared
    argument and placed chunks are the results of tasks that hold their bytes, not scattered data:
    when every worker holding them dies, the scheduler runs those tasks again on the workers that
    replace them (scattered data would be gone for good), and the fan-out goes on."""

    def __init__(self, client: Any, spread_components: bool) -> None:
        self.client = client
        self.workers = len(client.scheduler_info(n_workers=-1)["workers"])
        self.spread_components = spread_components

    def map(self, fn: Callable[[Any, Any], Any], chunks: Sequence[Any], shared: Any) -> list[Any]:
        import cloudpickle
        from distributed import Future

        with _lost_workers_said(), _large_tasks_expected():
            held = self.client.submit(_held, cloudpickle.dumps((fn, shared), protocol=5), pure=False)
            payloads = [c if isinstance(c, Future) else cloudpickle.dumps(c, protocol=5) for c in chunks]
            futures = self.client.map(_run, payloads, [held] * len(payloads), [held.key] * len(payloads), pure=False)
            try:
                return [cloudpickle.loads(r) for r in self.client.gather(futures)]
            finally:
                held.release()

    def place(self, chunks: Sequence[Any]) -> list[Any]:
        import cloudpickle

        with _lost_workers_said(), _large_tasks_expected():
            return [self.client.submit(_held, cloudpickle.dumps(c, protocol=5), pure=False) for c in chunks]


@contextmanager
def _lost_workers_said() -> Iterator[None]:
    """Dask's own errors when the cluster fails under a fan-out (a chunk that killed its worker again
    and again, out of memory most often; every worker gone for longer than the scheduler waits; the
    scheduler gone) as a MigrationError that says so; transient: a retry on a healthy cluster may
    pass. Errors of the spread work itself (an unreadable file: an OSError too) pass unchanged."""
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    try:
        yield
    except (FutureCancelledError, CommClosedError, KilledWorker) as exc:  # dask's own only: the work's errors come back as raised
        raise MigrationError(f"the Dask cluster failed under the run ({type(exc).__name__}): its workers or its scheduler were lost",
                             hint="see the workers' logs (memory: each needs about 0.8 GB per million records, docs/scale.md); "
                                  "run again when the cluster is up, or without --cluster", transient=True) from None


@contextmanager
def _large_tasks_expected() -> Iterator[None]:
    """The shared argument (the encoded features: 100 MB at a million records) rides in its task on
    purpose, so it can be rebuilt; dask's warning about a large graph would only alarm the user."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ll]arge graph.*")
        yield


def _held(payload: bytes) -> bytes:
    return payload


_UNPICKLED: dict[str, Any] = {}  # on a worker: the shared argument of the fan-out under way, by its key


def _run(chunk: bytes, shared: bytes, key: str) -> bytes:
    """On a worker: fn(chunk, shared), pickled."""
    import cloudpickle

    held = _UNPICKLED.get(key)
    if held is None:  # the first chunk of this fan-out here (a worker of several threads: each may unpickle it once)
        held = cloudpickle.loads(shared)
        _UNPICKLED.clear()
        _UNPICKLED[key] = held
    fn, argument = held
    return cloudpickle.dumps(fn(cloudpickle.loads(chunk), argument), protocol=5)


@contextmanager
def cluster(spec: ClusterSpec | None, progress: Callable[[str], None] = lambda _: None) -> Iterator[DaskMapper | None]:
    """The run's cluster for the `with` block (None: everything in this process)."""
    if spec is None:
        yield None
        return
    with _dask_logs_quiet(), _connected(spec) as client:
        try:  # a scheduler without workers would take every fan-out and fail it later
            client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_SECONDS)
        except TimeoutError:
            raise MigrationError(f"the Dask scheduler at {spec.address} has no workers",
                                 hint="start them: dask worker " + spec.address + " --nthreads 1 (docs/scale.md)", transient=True) from None
        mapper = DaskMapper(client, spec.components == "distributed")
        progress(f"cluster {spec.address}: {mapper.workers} worker{'s' if mapper.workers != 1 else ''}")
        yield mapper


@contextmanager
def _dask_logs_quiet() -> Iterator[None]:
    """distributed's INFO lines (scheduler, nannies) are not the run's news; its warnings are."""
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        yield
    finally:
        quiet.setLevel(level)


@contextmanager
def _connected(spec: ClusterSpec) -> Iterator[Any]:
    """A client of the started LocalCluster or of the running scheduler; both closed after."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise MigrationError("--cluster needs dask.distributed, which is not installed",
                             hint="pip install 'crm-migrate[scale]' (dask and distributed)") from None
    local = None
    try:
        if spec.local_workers is not None:
            # Processes, one thread each: the spread work is Python per value, which threads would serialise.
            try:
                local = LocalCluster(n_workers=spec.local_workers, threads_per_worker=1, processes=True,
                                     dashboard_address="127.0.0.1:0", silence_logs=50)  # its HTTP server on a free port: two runs never collide
            except RuntimeError:
                raise MigrationError(f"the local Dask workers of {spec.address} did not start",
                                     hint="a Python script that runs a migration with a local cluster must start it under "
                                          "`if __name__ == \"__main__\":` (the workers are new processes that import the script); "
                                          "the crm-migrate command does") from None
            client = Client(local)
        else:
            client = Client(spec.address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        if local is not None:
            local.close()
        raise MigrationError(f"cannot reach the Dask scheduler at {spec.address}: {type(exc).__name__}",
                             hint="start it (dask scheduler; dask worker tcp://HOST:8786 on each machine) or check the address and firewall",
                             transient=True) from None
    try:
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()
