"""Writing alerts: idempotent, with sightings for the indicator's producer.

:func:`store_ioc_alerts` turns the matcher's hits into alerts. Hits of one indicator
(or Sigma rule) on one host (``host.name``, else ``source.ip``) within one aggregation
window (``STEPPE_ALERT_AGGREGATION_MINUTES``) are ONE alert with a count of events and
first/last seen (:func:`~steppe.alerts.model.aggregate_id`); without a host, or with
the window set to 0, each (event, indicator) is its own alert.

Every event folded into an alert leaves its key (:func:`~steppe.alerts.model.alert_id`
of event and indicator) in ``alert_events``. The key is inserted first, ``ON CONFLICT DO
NOTHING … RETURNING``: only events whose key this transaction wrote bump an alert, so
the same event detected twice — by the stream and by ``steppe detect``, or by a worker
that died mid-batch and was replayed, or by two workers at once on PostgreSQL — adds
nothing. Alerts are then upserted (``count = count + n``), which is atomic on both
databases. Each *new event* is a ``seen`` sighting of the indicator, recorded for its
producer (:func:`steppe.intel.sightings.add_sighting`), one sighting per indicator and
batch, naming the organisation only if it allows it (:func:`set_named`).

:class:`AlertStore` is the :class:`~steppe.detection.sigma.hits.AlertSink` the Sigma
engine writes to, so both kinds of alert land in one table.

    >>> with engine.begin() as conn:                                  # doctest: +SKIP
    ...     result = store_ioc_alerts(conn, trail, org_id, matcher.match_events(events, org_id, now))
    >>> result.new, result.aggregated, result.duplicates              # doctest: +SKIP
    (3, 9, 0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Insert, case, select
from sqlalchemy.dialects import postgresql, sqlite

from steppe.alerts.model import (
    AlertKind,
    aggregate_id,
    alert_host,
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
from steppe.storage.schema import alert_events, alerts, sighting_preferences

__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "AlertStore",
    "SightingPreference",
    "StoreResult",
    "named_preferences",
    "set_named",
    "sighting_preference",
    "store_ioc_alerts",
]

#: The aggregation window when none is given (STEPPE_ALERT_AGGREGATION_MINUTES's default).
DEFAULT_WINDOW_SECONDS = 3600

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
    """``new`` alerts created, events ``aggregated`` into alerts that existed, events
    that were already stored (``duplicates``), sightings recorded, ids of new alerts."""

    new: int = 0
    duplicates: int = 0
    sightings: int = 0
    ids: list[str] | None = None
    aggregated: int = 0


def _evidence(event: Mapping[str, Any]) -> str:
    return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def store_ioc_alerts(
    conn: Connection,
    trail: AuditTrail,
    org_id: int,
    found: Iterable[tuple[Mapping[str, Any], Sequence[EventHit]]],
    *,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> StoreResult:
    """Store the alerts of organisation ``org_id``'s events and the hits on them."""
    now = timestamps.now()
    rows: dict[str, dict[str, Any]] = {}  # by event key
    for event, hits in found:
        fingerprint = event_fingerprint(org_id, event)
        when = event_time(event)
        host = alert_host(event)
        evidence = _evidence(event)
        for hit in hits:
            ref = hit.hit.indicator
            key = alert_id(AlertKind.IOC, fingerprint, ref.stix_id)
            if key in rows:
                continue  # another field of the same event hit it: still one event
            grouped = aggregate_id(AlertKind.IOC, org_id, ref.stix_id, host, when, window_seconds)
            rows[key] = {
                "id": grouped or key,
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
                "host": host,
            }
    result, fresh_events = _store(conn, rows)
    result.sightings = _sightings(conn, trail, org_id, fresh_events)
    if fresh_events:
        trail.record(
            conn,
            "alert.ioc",
            f"organisation {org_id}",
            {"new": result.new, "aggregated": result.aggregated, "duplicates": result.duplicates},
        )
    return result


def _store(
    conn: Connection, rows: dict[str, dict[str, Any]]
) -> tuple[StoreResult, list[dict[str, Any]]]:
    """Key each event, then fold the events new to the store into their alerts."""
    result = StoreResult(ids=[])
    assert result.ids is not None
    fresh_events: list[dict[str, Any]] = []
    # Sorted, so concurrent writers lock keys and alerts in one order (no deadlock).
    keys = sorted(rows)
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        written = set(
            conn.scalars(
                _insert_ignoring_duplicates(conn, alert_events, "event_key").returning(
                    alert_events.c.event_key
                ),
                [
                    {"event_key": k, "alert_id": rows[k]["id"], "seen": rows[k]["first_seen"]}
                    for k in chunk
                ],
            )
        )
        result.duplicates += len(chunk) - len(written)
        fresh_events.extend(rows[k] for k in chunk if k in written)
    by_alert: dict[str, dict[str, Any]] = {}
    for row in sorted(fresh_events, key=lambda r: r["first_seen"]):
        known = by_alert.get(row["id"])
        if known is None:
            by_alert[row["id"]] = dict(row)
        else:
            known["count"] += 1
            known["last_seen"] = row["last_seen"]
    ids = sorted(by_alert)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        # Only for the report: a concurrent writer may create one of these meanwhile,
        # and the upsert below still folds both writers' events into one row.
        existing = set(conn.scalars(select(alerts.c.id).where(alerts.c.id.in_(chunk))))
        for alert in chunk:
            if alert in existing:
                result.aggregated += by_alert[alert]["count"]
            else:
                result.new += 1
                result.ids.append(alert)
        conn.execute(_upsert_alerts(conn), [by_alert[a] for a in chunk])
    return result, fresh_events


def _upsert_alerts(conn: Connection) -> Insert:
    stmt = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(alerts)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={
            "count": alerts.c.count + new["count"],
            "first_seen": case(
                (new.first_seen < alerts.c.first_seen, new.first_seen), else_=alerts.c.first_seen
            ),
            "last_seen": case(
                (new.last_seen > alerts.c.last_seen, new.last_seen), else_=alerts.c.last_seen
            ),
        },
    )


def _insert_ignoring_duplicates(conn: Connection, table: Any, key: str) -> Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=[key])
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])


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

    def __init__(
        self, engine: Engine, trail: AuditTrail, *, window_seconds: int = DEFAULT_WINDOW_SECONDS
    ) -> None:
        self.engine = engine
        self.trail = trail
        self.window_seconds = window_seconds

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
            host = alert_host(hit.event)
            grouped = aggregate_id(
                AlertKind.SIGMA, hit.organisation_id, what, host, when, self.window_seconds
            )
            rows[key] = {
                "id": grouped or key,
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
                "host": host,
            }
        if not rows:
            return
        with self.engine.begin() as conn:
            result, fresh = _store(conn, rows)
            if fresh:
                self.trail.record(
                    conn,
                    "alert.sigma",
                    "sigma hits",
                    {"new": result.new, "aggregated": result.aggregated},
                )
