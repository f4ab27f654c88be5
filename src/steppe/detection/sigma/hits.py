"""What a Sigma rule firing produces, and where it goes.

A :class:`SigmaHit` is one rule matching one event (or, for a correlation rule, one
window of events). The alert store (``steppe.alerts``, to come) implements
:class:`AlertSink`; until then :class:`MemoryAlertSink` collects hits for tests and the
scan command.

    >>> hit = SigmaHit(rule_id="5f4b…", title="Whoami", level="high",
    ...                tags=("attack.discovery", "attack.t1033"), event={"raw": {}},
    ...                organisation_id=3, time="2026-11-28T10:00:00.000000Z")
    >>> hit.attack_techniques
    ('T1033',)
    >>> sink = MemoryAlertSink(); sink.submit([hit]); len(sink.hits)
    1
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["AlertSink", "MemoryAlertSink", "SigmaHit"]

_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SigmaHit:
    """One rule matching; ``event`` is the matching event (the last one of a window for
    a correlation, whose other events are in ``related``)."""

    rule_id: str
    title: str
    level: str
    tags: tuple[str, ...]
    event: dict[str, Any]
    organisation_id: int | None = None
    time: str | None = None
    rule_path: str | None = None
    correlation: str | None = None  # the correlation type when a correlation rule fired
    group: tuple[tuple[str, Any], ...] = ()  # the group-by values of a correlation
    related: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    @property
    def attack_techniques(self) -> tuple[str, ...]:
        """The ATT&CK technique ids among the tags (``attack.t1059.001`` → ``T1059.001``)."""
        found = (_TECHNIQUE.match(tag) for tag in self.tags)
        return tuple(m.group(1).upper() for m in found if m)


class AlertSink(Protocol):
    """Where hits go; the alert store implements it (idempotently: the same hit twice is
    one alert)."""

    def submit(self, hits: Sequence[SigmaHit]) -> None: ...


class MemoryAlertSink:
    """Keeps hits in a list."""

    def __init__(self) -> None:
        self.hits: list[SigmaHit] = []

    def submit(self, hits: Sequence[SigmaHit]) -> None:
        self.hits.extend(hits)
