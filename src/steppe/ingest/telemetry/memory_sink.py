"""An in-memory :class:`~steppe.ingest.telemetry.model.EventSink`, for tests and demos.

It keeps what it accepted per organisation, and can be told to be full, in which case
:meth:`MemorySink.accept` raises :class:`~steppe.errors.Overloaded` and keeps nothing,
as a real sink does::

    >>> sink = MemorySink()
    >>> sink.accept(1, [{"@timestamp": "2026-11-28T10:00:00.000000Z", "raw": {}}])
    >>> sink.count(1)
    1
    >>> sink.full = True
    >>> sink.accept(1, [{"@timestamp": "2026-11-28T10:00:00.000000Z", "raw": {}}])
    Traceback (most recent call last):
    ...
    steppe.errors.Overloaded: the in-memory sink is full

``capacity`` makes it full by itself once it holds that many events.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from steppe.errors import Overloaded
from steppe.ingest.telemetry.model import NormalisedEvent

__all__ = ["MemorySink"]


class MemorySink:
    """Accepted events by organisation id; thread-safe."""

    def __init__(self, *, capacity: int | None = None) -> None:
        self.capacity = capacity
        self.full = False
        self.refusals = 0
        self._events: dict[int, list[NormalisedEvent]] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def accept(self, organisation_id: int, events: Sequence[NormalisedEvent]) -> None:
        with self._lock:
            held = sum(len(v) for v in self._events.values())
            if self.full or (self.capacity is not None and held + len(events) > self.capacity):
                self.refusals += 1
                raise Overloaded("the in-memory sink is full", retry_after=0.05)
            self._events.setdefault(organisation_id, []).extend(events)
            self._changed.notify_all()

    def events(self, organisation_id: int) -> list[NormalisedEvent]:
        with self._lock:
            return list(self._events.get(organisation_id, ()))

    def count(self, organisation_id: int | None = None) -> int:
        """Events held for one organisation, or for all."""
        with self._lock:
            if organisation_id is None:
                return sum(len(v) for v in self._events.values())
            return len(self._events.get(organisation_id, ()))

    def organisations(self) -> set[int]:
        with self._lock:
            return set(self._events)

    def wait_for(self, total: int, timeout: float) -> bool:
        """Block until at least ``total`` events are held (all organisations); False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: sum(len(v) for v in self._events.values()) >= total, timeout
            )
