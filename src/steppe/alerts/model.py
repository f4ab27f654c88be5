"""What an alert is: its deterministic id, the event fingerprint, and its severity.

>>> severity(confidence=90, score=None, tlp="amber")
'high'
>>> severity(confidence=90, score=None, tlp="red")
'critical'
>>> alert_id("ioc", "f" * 64, "indicator--1") == alert_id("ioc", "f" * 64, "indicator--1")
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from steppe.ingest.telemetry.model import ECS_COLUMNS
from steppe.storage import timestamps

__all__ = [
    "SEVERITIES",
    "AlertKind",
    "AlertView",
    "alert_id",
    "event_fingerprint",
    "event_time",
    "severity",
]

SEVERITIES = ("low", "medium", "high", "critical")

# Fields that say when and how an event was received, not what happened: the same event
# read back from the lake or redelivered by the broker must get the same fingerprint.
_NOT_FINGERPRINTED = frozenset({"event.ingested", "raw", "organisation"})
_FINGERPRINTED = tuple(name for name, _ in ECS_COLUMNS if name not in _NOT_FINGERPRINTED)


class AlertKind(StrEnum):
    IOC = "ioc"
    SIGMA = "sigma"


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return timestamps.format_ts(value)
    return str(value)


def event_fingerprint(org_id: int, event: Mapping[str, Any]) -> str:
    """sha256 hex of the event's normalised fields (the same from broker and lake)."""
    parts = [str(org_id)]
    for name in _FINGERPRINTED:
        value = event.get(name)
        if value is not None:
            parts.append(f"{name}={_text(value)}")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def event_time(event: Mapping[str, Any]) -> str:
    """The event's ``@timestamp`` as a stored timestamp (now if it has none)."""
    value = event.get("@timestamp")
    if isinstance(value, datetime):
        return timestamps.format_ts(value)
    if isinstance(value, str) and value:
        try:
            return timestamps.normalise(value)
        except ValueError:
            pass
    return timestamps.now()


def alert_id(kind: str, fingerprint: str, what: str) -> str:
    """The id of the alert for one event and one indicator (stix id) or rule (id)."""
    return hashlib.sha256(f"{kind}\x1f{fingerprint}\x1f{what}".encode()).hexdigest()


def severity(confidence: int | None, score: float | None, tlp: str) -> str:
    """From the indicator's current score (decayed confidence) and its TLP.

    Score ≥ 75 is high, ≥ 50 medium, else low; intel held as closely as TLP:RED or
    AMBER+STRICT is usually about a targeted operation, one level up.
    """
    value = score if score is not None else (confidence if confidence is not None else 50)
    level = 2 if value >= 75 else 1 if value >= 50 else 0
    if tlp in ("red", "amber+strict"):
        level += 1
    return SEVERITIES[level]


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as one reader may see it: the indicator is named only if the reader may
    see it (``indicator`` and ``matched`` are None otherwise)."""

    id: str
    kind: str
    organisation: str
    org_id: int
    title: str
    severity: str
    status: str
    field: str | None
    observed: str | None
    matched: str | None
    match_type: str | None
    indicator: str | None
    rule_id: str | None
    first_seen: str
    last_seen: str
    count: int
    created_at: str
    event: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}
        if self.event is None:
            out.pop("event")
        return out
