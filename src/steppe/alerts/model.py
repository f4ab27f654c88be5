"""What an alert is: its deterministic id, the event fingerprint, and its severity.

>>> severity(confidence=90, score=None, tlp="amber")
'high'
>>> severity(confidence=90, score=None, tlp="red")
'critical'
>>> alert_id("ioc", "f" * 64, "indicator--1") == alert_id("ioc", "f" * 64, "indicator--1")
True
>>> check_transition("abc", "closed", "acknowledged")  # reopening is allowed
>>> check_transition("abc", "closed", "escalated")
Traceback (most recent call last):
...
steppe.errors.InvalidTransition: alert abc is closed: it may become acknowledged, not escalated
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from steppe.errors import InvalidTransition
from steppe.ingest.telemetry.model import ECS_COLUMNS
from steppe.storage import timestamps

__all__ = [
    "SEVERITIES",
    "TRANSITIONS",
    "AlertKind",
    "AlertStatus",
    "AlertView",
    "aggregate_id",
    "alert_host",
    "alert_id",
    "check_transition",
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


class AlertStatus(StrEnum):
    """Where an alert is in triage."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"  # someone is looking at it
    FALSE_POSITIVE = "false-positive"  # benign: the indicator gets a false-positive sighting
    ESCALATED = "escalated"  # handed to an incident
    CLOSED = "closed"  # handled


_S = AlertStatus
#: The allowed moves. Closed and false-positive alerts are reopened as acknowledged.
TRANSITIONS: dict[AlertStatus, frozenset[AlertStatus]] = {
    _S.NEW: frozenset({_S.ACKNOWLEDGED, _S.FALSE_POSITIVE, _S.ESCALATED, _S.CLOSED}),
    _S.ACKNOWLEDGED: frozenset({_S.FALSE_POSITIVE, _S.ESCALATED, _S.CLOSED}),
    _S.ESCALATED: frozenset({_S.ACKNOWLEDGED, _S.FALSE_POSITIVE, _S.CLOSED}),
    _S.FALSE_POSITIVE: frozenset({_S.ACKNOWLEDGED}),
    _S.CLOSED: frozenset({_S.ACKNOWLEDGED}),
}


def check_transition(alert: str, current: str, wanted: str) -> None:
    """Raise :class:`~steppe.errors.InvalidTransition` unless ``current`` → ``wanted``
    is allowed (both are :class:`AlertStatus` values)."""
    allowed = TRANSITIONS[AlertStatus(current)]
    if AlertStatus(wanted) in allowed:
        return
    if wanted == current:
        raise InvalidTransition(f"alert {alert} is already {current}")
    choices = " or ".join(sorted(allowed))
    raise InvalidTransition(f"alert {alert} is {current}: it may become {choices}, not {wanted}")


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


def alert_host(event: Mapping[str, Any]) -> str | None:
    """What aggregation groups on: ``host.name``, else ``source.ip`` (None if neither)."""
    for name in ("host.name", "source.ip"):
        value = event.get(name)
        if value is not None and str(value):
            return str(value)[:300]
    return None


def aggregate_id(
    kind: str, org_id: int, what: str, host: str | None, when: str, window_seconds: int
) -> str | None:
    """The id of the alert that gathers this rule's or indicator's hits on ``host``
    within the fixed window holding ``when``; None when events are not aggregated
    (window 0, or no host to group on).

    Windows are aligned on the epoch rather than opened by the first event, so the id is
    a function of the event alone: detection in any order, or again, lands each event in
    the same alert.

    >>> a = aggregate_id("ioc", 3, "indicator--1", "10.0.0.1", "2026-01-09T10:00:01.000000Z", 3600)
    >>> a == aggregate_id("ioc", 3, "indicator--1", "10.0.0.1", "2026-01-09T10:59:59.000000Z", 3600)
    True
    >>> a == aggregate_id("ioc", 3, "indicator--1", "10.0.0.1", "2026-01-09T11:00:00.000000Z", 3600)
    False
    """
    if window_seconds <= 0 or host is None:
        return None
    bucket = int(timestamps.parse(when).timestamp()) // window_seconds
    key = f"{kind}\x1fagg\x1f{org_id}\x1f{host}\x1f{window_seconds}:{bucket}\x1f{what}"
    return hashlib.sha256(key.encode()).hexdigest()


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
    host: str | None = None
    assignee: str | None = None  # user name
    updated_at: str | None = None
    event: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}
        if self.event is None:
            out.pop("event")
        return out
