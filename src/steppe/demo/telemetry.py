"""Sample telemetry for the demo: a few events per member that touch the demo intel.

Each member's sensors "see" every sample feed's example value (a DNS query for a
domain, a connection to an address, a file with a hash, a URL), plus benign traffic.
Written to the lake and matched like any telemetry, so each member gets alerts only
for the intel it may see — the demo shows that table.

    >>> events = sample_events(["softupdates.info", "203.0.113.7"], "2026-11-28T10:00:00.000000Z")
    >>> [sorted(k for k in e if k not in ("@timestamp", "raw")) for e in events][:2]
    [['dns.question.name', 'event.dataset', 'source.ip'], ['destination.ip', 'event.dataset', 'source.ip']]
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from steppe.alerts.detect import DetectReport, detect_lake
from steppe.audit.trail import AuditTrail
from steppe.detection.ioc import build_index
from steppe.errors import InvalidObservable
from steppe.intel.guess import canonical_observable
from steppe.intel.observables import ObservableType
from steppe.lake import EventLake
from steppe.storage import timestamps

__all__ = ["replay_sample_telemetry", "sample_events"]

_BENIGN = ("updates.example.org", "198.51.100.20", "intranet.example.net")


def _event(kind: ObservableType, value: str, when: str, n: int) -> dict[str, Any] | None:
    base: dict[str, Any] = {"@timestamp": when, "source.ip": f"10.0.0.{10 + n}"}
    if kind is ObservableType.DOMAIN:
        return {**base, "event.dataset": "zeek.dns", "dns.question.name": f"www.{value}",
                "raw": {"query": f"www.{value}"}}  # fmt: skip
    if kind in (ObservableType.IPV4, ObservableType.IPV6):
        return {**base, "event.dataset": "zeek.conn", "destination.ip": value, "raw": {}}
    if kind is ObservableType.URL:
        return {**base, "event.dataset": "proxy", "url.full": value, "raw": {}}
    if kind in (ObservableType.MD5, ObservableType.SHA1, ObservableType.SHA256):
        return {**base, "event.dataset": "edr.file", f"file.hash.{kind.value}": value,
                "file.name": "invoice.exe", "raw": {}}  # fmt: skip
    return None


def sample_events(values: Iterable[str], when: str) -> list[dict[str, Any]]:
    """One event per value a sensor could see (others skipped), then benign traffic."""
    events = []
    for n, value in enumerate([*values, *_BENIGN]):
        try:
            kind, canonical = canonical_observable(value)
        except InvalidObservable:
            continue  # a name or a CVE: nothing a sensor reports
        event = _event(kind, canonical, when, n)
        if event is not None:
            events.append(event)
    return events


def replay_sample_telemetry(
    engine: Engine,
    trail: AuditTrail,
    lake_root: Path,
    examples: Iterable[str],
    org_ids: Iterable[int],
) -> DetectReport:
    """Write the sample events for every organisation to the lake, then detect on them."""
    now = timestamps.now()
    events = sample_events(examples, now)
    lake = EventLake(lake_root)
    lake.start(background=False)
    try:
        for org_id in org_ids:
            lake.accept(org_id, events)
    finally:
        lake.close()
    with engine.connect() as conn:
        index = build_index(conn, now)
    return detect_lake(engine, trail, lake_root, index, since=now, now=now)
