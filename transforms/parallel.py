"""Fan a pure function out over chunks, in this process or on a cluster, with the same result.

The transforms stay pure functions of frames; what they may spread is the part that is Python work
per item (a normalizer per distinct value, comparisons per group of candidate pairs). They call
`fan_out(fn, chunks, shared)`: without a cluster that is a list comprehension here; inside
`spread_over(mapper)` (set by the pipeline for `run --cluster`, pipelines/compute.py) the chunks
go to the cluster's workers and the results come back in chunk order, so the outcome is the same
list either way and every later step is unchanged (the same golden ids, the same ledger).

Context variables the transforms read (the trade vocabulary of `names.trade_words`) are carried to
the workers: `carry(var)` registers one, and its value on the caller's side is set around each chunk.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator, Protocol, Sequence


class Mapper(Protocol):
    """Runs `fn(chunk, shared)` for every chunk somewhere else; returns the results in chunk order."""

    workers: int
    spread_components: bool  # connected components by a pass over edges held on the workers (else gathered here)

    def map(self, fn: Callable[[Any, Any], Any], chunks: Sequence[Any], shared: Any) -> list[Any]: ...

    def place(self, chunks: Sequence[Any]) -> list[Any]: ...


_MAPPER: ContextVar[Mapper | None] = ContextVar("crm_migrate_mapper", default=None)
_CARRIED: list[ContextVar] = []


def carry(var: ContextVar) -> ContextVar:
    """Register a context variable whose value a chunk must see wherever it runs."""
    if var not in _CARRIED:
        _CARRIED.append(var)
    return var


@contextmanager
def spread_over(mapper: Mapper | None) -> Iterator[None]:
    """Inside the block, fan_out sends chunks to `mapper` (None: in this process)."""
    token = _MAPPER.set(mapper)
    try:
        yield
    finally:
        _MAPPER.reset(token)


def current() -> Mapper | None:
    return _MAPPER.get()


def workers() -> int:
    """How many workers a fan-out reaches now (1 without a cluster)."""
    mapper = _MAPPER.get()
    return mapper.workers if mapper is not None else 1


def _in_context(chunk: Any, job: tuple) -> Any:
    """On a worker: the caller's context variables set, then fn(chunk, shared)."""
    fn, shared, values = job
    tokens = [(var, var.set(value)) for var, value in zip(_CARRIED, values)]
    try:
        return fn(chunk, shared)
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def fan_out(fn: Callable[[Any, Any], Any], chunks: Sequence[Any], shared: Any = None) -> list[Any]:
    """[fn(chunk, shared) for chunk in chunks], on the cluster when one is set (and there is more
    than one chunk). `fn` must be a module-level function (or one cloudpickle can ship)."""
    mapper = _MAPPER.get()
    if mapper is None or len(chunks) < 2:
        return [fn(chunk, shared) for chunk in chunks]
    return mapper.map(_in_context, chunks, (fn, shared, [var.get() for var in _CARRIED]))


def place(chunks: Sequence[Any]) -> list[Any]:
    """Put chunks on the cluster's workers once, for several fan-outs over them (an iteration): the
    handles stand for the chunks in fan_out. Without a cluster the chunks are their own handles."""
    mapper = _MAPPER.get()
    return list(chunks) if mapper is None or len(chunks) < 2 else mapper.place(chunks)


CHUNKS_PER_WORKER = 4  # a few chunks per worker: a slow chunk does not hold the others up


def pieces(n: int, spread_from: int) -> list[tuple[int, int]]:
    """The [start, end) ranges n items are spread over the cluster in: a few per worker, each of at
    least a quarter of `spread_from`; one range (do it here) without a cluster or below `spread_from`."""
    if workers() < 2 or n < spread_from:
        return [(0, n)]
    return split(n, CHUNKS_PER_WORKER * workers(), spread_from // 4)


def split(n: int, parts: int, minimum: int) -> list[tuple[int, int]]:
    """[start, end) ranges cutting n items into up to `parts` pieces of at least `minimum` items."""
    parts = max(1, min(parts, n // max(minimum, 1)))
    bounds = [n * k // parts for k in range(parts + 1)]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a] or ([(0, n)] if n else [])
