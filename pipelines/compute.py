"""`run --cluster`: the Dask cluster the data-parallel parts of a run go to (docs/scale.md).

`local:N` starts a LocalCluster of N worker processes for the run and closes it after;
`tcp://host:8786` connects to a running scheduler, whose workers must have crm-migrate installed
(the same version) and see the sources' paths. dask.distributed is used directly, not through
prefect-dask's DaskTaskRunner: the stages run one after another and hand frames of millions of rows
to each other, so shipping whole stages to workers would only move those frames about; what is
spread is the work inside a stage (transforms/parallel.py), and the stages stay Prefect tasks.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from crm_migrate.errors import MigrationError

COMPONENTS = ("gather", "distributed")
_LOCAL = re.compile(r"local(?::(\d+))?")


@dataclass(frozen=True)
class ClusterSpec:
    address: str  # "local:N" or a scheduler address
    components: str = "gather"

    @property
    def local_workers(self) -> int | None:
        m = _LOCAL.fullmatch(self.address)
        return (int(m.group(1)) if m.group(1) else 2) if m else None


def parse_cluster(address: str, components: str = "gather") -> ClusterSpec:
    """Check a --cluster value: local:N (N ≥ 1) or tcp://host:port (also tls://)."""
    text = address.strip()
    m = _LOCAL.fullmatch(text)
    if m and (m.group(1) is None or int(m.group(1)) >= 1):
        return ClusterSpec(text, _components(components))
    if re.fullmatch(r"(tcp|tls)://[^\s:/]+:\d{1,5}", text):
        return ClusterSpec(text, _components(components))
    raise MigrationError(f"--cluster {address!r} is not a cluster address",
                         hint="use local:N to start N local worker processes (local:2), or tcp://HOST:8786 for a running Dask scheduler")


def for_run(address: str | None, components: str) -> ClusterSpec | None:
    """The run's cluster: `run --cluster` else `operations.cluster` (the caller passes the first
    given), with operations.cluster_components; None without either."""
    return parse_cluster(address, components) if address else None


def _components(value: str) -> str:
    if value not in COMPONENTS:
        raise MigrationError(f"operations.cluster_components {value!r} is not one of {', '.join(COMPONENTS)}",
                             hint="gather: the scored edges are gathered for one clustering step; distributed: a connected-components pass on the workers")
    return value


class DaskMapper:
    """transforms/parallel.Mapper on a dask.distributed Client. Chunks, results and the shared
    argument travel as pickled bytes: dask walks a list argument element by element to look for
    futures inside it, which for a chunk of 10,000 strings costs far more than the work. The shared
    argument is scattered to every worker once per fan-out and unpickled once per worker."""

    def __init__(self, client: Any, spread_components: bool) -> None:
        self.client = client
        self.workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
        self.spread_components = spread_components

    def map(self, fn: Callable[[Any, Any], Any], chunks: Sequence[Any], shared: Any) -> list[Any]:
        import cloudpickle
        from distributed import Future

        [held] = self.client.scatter([cloudpickle.dumps((fn, shared), protocol=5)], broadcast=True, hash=False)
        try:
            payloads = [c if isinstance(c, Future) else cloudpickle.dumps(c, protocol=5) for c in chunks]
            futures = self.client.map(_run, payloads, [held] * len(payloads), [held.key] * len(payloads), pure=False)
            return [cloudpickle.loads(r) for r in self.client.gather(futures)]
        finally:
            held.release()

    def place(self, chunks: Sequence[Any]) -> list[Any]:
        import cloudpickle

        return self.client.scatter([cloudpickle.dumps(c, protocol=5) for c in chunks], hash=False)


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
        mapper = DaskMapper(client, spec.components == "distributed")
        progress(f"cluster {spec.address}: {mapper.workers} worker{'s' if mapper.workers != 1 else ''}")
        yield mapper
    finally:
        client.close()
        if local is not None:
            local.close()
