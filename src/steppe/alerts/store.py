"""Writing alerts: idempotent, with sightings for the indicator's producer.

:func:`store_ioc_alerts` turns the matcher's hits into one alert per (event,
indicator); ids are deterministic (:func:`~steppe.alerts.model.alert_id`), so the same
event detected twice — by the stream and by ``steppe detect``, or by a worker that died
mid-batch and was replayed — adds nothing. Each *new* alert is a ``seen`` sighting of
the indicator, recorded for its producer (:func:`steppe.intel.sightings.add_sighting`),
one sighting per indicator and batch, naming the organisation only if it allows it
(:func:`set_named`).

:class:`AlertStore` is the :class:`~steppe.detection.sigma.hits.AlertSink` the Sigma
engine writes to, so both kinds of alert land in one table.

    >>> with engine.begin() as conn:                                  # doctest: +SKIP
    ...     result = store_ioc_alerts(conn, trail, org_id, matcher.match_events(events, org_id, now))
    >>> result.new, result.duplicates                                 # doctest: +SKIP
    (12, 0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Insert, select
from sqlalchemy.dialects import postgresql, sqlite

from steppe.alerts.model import (
    AlertKind,
    alert_id,
    event_fingerprint,
    event_time,
    severity,
)
from steppe.audit.trail import AuditTrail
from steppe.detection.ioc.matcher import EventHit
from steppe.detection.sigma.hits import SigmaHit
from steppe.intel.sightings import SightingType, add_sighting
from steppe.storage import timestamps
from steppe.storage.schema import alerts, sighting_preferences

__all__ = [
    "AlertStore",
    "SightingPreference",
    "StoreResult",
    "named_preferences",
    "set_named",
    "sighting_preference",
    "store_ioc_alerts",
]

_CHUNK = 500
_SIGMA_SEVERITY = {
    "informational": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}


@dataclass
class StoreResult:
    new: int = 0
    duplicates: int = 0
    sightings: int = 0
    ids: list[str] | None = None


def _evidence(event: Mapping[str, Any]) -> str:
    return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def store_ioc_alerts(
    conn: Connection,
    trail: AuditTrail,
    org_id: int,
    found: Iterable[tuple[Mapping[str, Any], Sequence[EventHit]]],
) -> StoreResult:
    """Store the alerts of organisation ``org_id``'s events and the hits on them."""
    now = timestamps.now()
    rows: dict[str, dict[str, Any]] = {}
    for event, hits in found:
        fingerprint = event_fingerprint(org_id, event)
        when = event_time(event)
        evidence = _evidence(event)
        for hit in hits:
            ref = hit.hit.indicator
            key = alert_id(AlertKind.IOC, fingerprint, ref.stix_id)
            if key in rows:
                rows[key]["count"] += 1  # another field of the same event hit it
                continue
            rows[key] = {
                "id": key,
                "kind": AlertKind.IOC.value,
                "org_id": org_id,
                "indicator_pk": ref.pk,
                "indicator_stix_id": ref.stix_id,
                "rule_id": None,
                "title": f"{hit.hit.kind} indicator hit in {hit.field}",
                "field": hit.field,
                "observed": hit.hit.observed,
                "matched": hit.hit.value,
                "match_type": hit.hit.kind,
                "severity": severity(ref.confidence, ref.score, ref.tlp),
                "status": "new",
                "event": evidence,
                "event_fingerprint": fingerprint,
                "first_seen": when,
                "last_seen": when,
                "count": 1,
                "created_at": now,
            }
    result = _insert_new(conn, list(rows.values()))
    new_rows = [rows[i] for i in result.ids or ()]
    result.sightings = _sightings(conn, trail, org_id, new_rows)
    if new_rows:
        trail.record(
            conn,
            "alert.ioc",
            f"organisation {org_id}",
            {"new": result.new, "duplicates": result.duplicates},
        )
    return result


def _insert_new(conn: Connection, rows: list[dict[str, Any]]) -> StoreResult:
    result = StoreResult(ids=[])
    assert result.ids is not None
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        ids = [r["id"] for r in chunk]
        existing = set(conn.scalars(select(alerts.c.id).where(alerts.c.id.in_(ids))))
        fresh = [r for r in chunk if r["id"] not in existing]
        result.duplicates += len(chunk) - len(fresh)
        if fresh:
            # A concurrent worker may have written the same alert since the check.
            conn.execute(_insert_ignoring_duplicates(conn), fresh)
            result.new += len(fresh)
            result.ids.extend(r["id"] for r in fresh)
    return result


def _insert_ignoring_duplicates(conn: Connection) -> Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(alerts).on_conflict_do_nothing(index_elements=["id"])
    return sqlite.insert(alerts).on_conflict_do_nothing(index_elements=["id"])


def _sightings(conn: Connection, trail: AuditTrail, org_id: int, rows: list[dict[str, Any]]) -> int:
    by_indicator: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_indicator.setdefault(row["indicator_pk"], []).append(row)
    if not by_indicator:
        return 0
    named = named_preferences(conn).get(org_id, False)
    for pk, group in by_indicator.items():
        add_sighting(
            conn,
            trail,
            object_pk=pk,
            org_id=org_id,
            type=SightingType.SEEN,
            count=len(group),
            first_seen=min(r["first_seen"] for r in group),
            last_seen=max(r["last_seen"] for r in group),
            source=group[0]["id"],
            named=named,
        )
    return len(by_indicator)


def named_preferences(conn: Connection) -> dict[int, bool]:
    """Organisation id → whether its sightings may name it (absent: not named)."""
    rows = conn.execute(select(sighting_preferences.c.org_id, sighting_preferences.c.named))
    return {r.org_id: bool(r.named) for r in rows}


@dataclass(frozen=True, slots=True)
class SightingPreference:
    """Whether an organisation's sightings may name it, and since when (None: never set,
    so not named)."""

    org_id: int
    named: bool
    updated_at: str | None


def sighting_preference(conn: Connection, org_id: int) -> SightingPreference:
    row = conn.execute(
        select(sighting_preferences).where(sighting_preferences.c.org_id == org_id)
    ).first()
    if row is None:
        return SightingPreference(org_id, False, None)
    return SightingPreference(org_id, bool(row.named), row.updated_at)


def set_named(conn: Connection, trail: AuditTrail, org_id: int, named: bool) -> None:
    """Let (or stop letting) producers learn that ``org_id`` sighted their intel."""
    now = timestamps.now()
    done = conn.execute(
        sighting_preferences.update()
        .where(sighting_preferences.c.org_id == org_id)
        .values(named=named, updated_at=now)
    )
    if not done.rowcount:
        conn.execute(
            sighting_preferences.insert().values(org_id=org_id, named=named, updated_at=now)
        )
    trail.record(conn, "alert.sighting-preference", f"organisation {org_id}", {"named": named})


class AlertStore:
    """The alert table as an :class:`~steppe.detection.sigma.hits.AlertSink`."""

    def __init__(self, engine: Engine, trail: AuditTrail) -> None:
        self.engine = engine
        self.trail = trail

    def submit(self, hits: Sequence[SigmaHit]) -> None:
        """Store Sigma hits (those without an organisation cannot be owned: skipped)."""
        now = timestamps.now()
        rows: dict[str, dict[str, Any]] = {}
        for hit in hits:
            if hit.organisation_id is None:
                continue
            fingerprint = event_fingerprint(hit.organisation_id, hit.event)
            what = f"{hit.rule_id}\x1f{hit.group!r}"
            key = alert_id(AlertKind.SIGMA, fingerprint, what)
            when = hit.time or event_time(hit.event)
            rows[key] = {
                "id": key,
                "kind": AlertKind.SIGMA.value,
                "org_id": hit.organisation_id,
                "indicator_pk": None,
                "indicator_stix_id": None,
                "rule_id": hit.rule_id,
                "title": hit.title,
                "field": None,
                "observed": None,
                "matched": None,
                "match_type": None,
                "severity": _SIGMA_SEVERITY.get(hit.level, "medium"),
                "status": "new",
                "event": _evidence(hit.event),
                "event_fingerprint": fingerprint,
                "first_seen": when,
                "last_seen": when,
                "count": 1,
                "created_at": now,
            }
        if not rows:
            return
        with self.engine.begin() as conn:
            result = _insert_new(conn, list(rows.values()))
            if result.new:
                self.trail.record(conn, "alert.sigma", "sigma hits", {"new": result.new})
