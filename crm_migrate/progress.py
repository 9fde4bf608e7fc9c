"""Progress of long work, reported from inside the stages without threading a callback through every
signature: a stage installs a sink (`reporting`), the loops deep inside it call `report(label, done,
total)`. With no sink installed (tests, library use) `report` does nothing. Like logging, this is an
observation channel: it never changes what a function computes.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

Sink = Callable[[str, int, "int | None", str], None]
_sink: ContextVar[Sink | None] = ContextVar("crm_migrate_progress", default=None)


def report(label: str, done: int, total: int | None = None, unit: str = "rows") -> None:
    """`done` of `total` units of the work `label` names (total None: not known in advance)."""
    sink = _sink.get()
    if sink is not None:
        sink(label, done, total, unit)


@contextmanager
def reporting(sink: Sink) -> Iterator[None]:
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)
