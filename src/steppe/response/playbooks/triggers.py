"""Finding trigger items by polling, from a persistent cursor per playbook.

Each source reads the rows after the playbook's cursor in a fixed order — alerts by
``(created_at, id)``, intel objects by ``(imported_at, pk)`` — only those the playbook's
organisation may see (through :mod:`steppe.sharing.policy`), and turns each into an
:class:`~steppe.response.playbooks.model.Item`. Rows younger than the settle time are
left for the next poll, so that a transaction still writing older rows has committed.

    >>> items, cursor = ALERTS.fetch(conn, actor, cursor, until=now, limit=500)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection, and_, or_, select

from steppe.alerts.queries import get_alert, readable_organisations
from steppe.errors import NotFound
from steppe.intel.bodies import body_of_row
from steppe.intel.queries import get_stored
from steppe.intel.sightings import scores_for
from steppe.response.incidents.access import visible_incident
from steppe.response.incidents.model import TimelineKind
from steppe.response.playbooks.model import Item, TriggerKind
from steppe.sharing.model import Actor
from steppe.sharing.policy import visible_filter
from steppe.storage.schema import (
    alerts,
    incident_timeline,
    intel_objects,
    observables,
    organisations,
)

__all__ = [
    "SOURCES",
    "AlertSource",
    "Cursor",
    "IncidentStatusSource",
    "IntelSource",
    "TriggerSource",
]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a playbook's trigger stopped: the last row examined, matching or not."""

    after_ts: str | None
    after_key: str


class TriggerSource(Protocol):
    kind: TriggerKind

    def fetch(
        self, conn: Connection, actor: Actor, cursor: Cursor, *, until: str, limit: int
    ) -> tuple[list[Item], Cursor]:
        """Up to ``limit`` items after ``cursor`` (created up to ``until``), and the new cursor."""


def _indicator_facts(conn: Connection, actor: Actor, stix_id: str | None) -> dict[str, Any]:
    """Labels, TLP and score of an indicator the actor may see (nothing otherwise)."""
    none: dict[str, Any] = {"labels": [], "tlp": None, "score": None}
    if stix_id is None:
        return none
    try:
        stored = get_stored(conn, actor, stix_id)
    except NotFound:  # withdrawn since the alert was read
        return none
    score = scores_for(conn, [stored.pk]).get(stored.pk)
    return {
        "labels": list(stored.body.get("labels") or []),
        "tlp": stored.tlp,
        "score": None if score is None else round(score.score, 1),
    }


class AlertSource:
    """New alerts of organisations whose telemetry the playbook's organisation may read."""

    kind = TriggerKind.ALERT

    def fetch(
        self, conn: Connection, actor: Actor, cursor: Cursor, *, until: str, limit: int
    ) -> tuple[list[Item], Cursor]:
        c = alerts.c
        after = c.created_at > (cursor.after_ts or "")
        if cursor.after_ts is not None:
            after = or_(after, and_(c.created_at == cursor.after_ts, c.id > cursor.after_key))
        rows = conn.execute(
            select(c.id, c.created_at)
            .where(
                after,
                c.created_at <= until,
                c.org_id.in_(readable_organisations(conn, actor)),
            )
            .order_by(c.created_at, c.id)
            .limit(limit)
        ).all()
        items = []
        for row in rows:
            view = get_alert(conn, actor, row.id)  # names the indicator only if visible
            alert = view.as_json()
            alert.update(_indicator_facts(conn, actor, view.indicator))
            facts = {k: v for k, v in alert.items() if k != "event"}
            items.append(
                Item(
                    key=f"alert:{view.id}",
                    context={"alert": alert},
                    facts=facts,
                    group_key=(
                        f"indicator:{view.indicator}"
                        if view.indicator
                        else f"rule:{view.rule_id}"
                        if view.rule_id
                        else f"observed:{view.observed}"
                    ),
                    alert_ids=(view.id,),
                    indicator_ids=(view.indicator,) if view.indicator else (),
                )
            )
        if not rows:
            return items, cursor
        return items, Cursor(rows[-1].created_at, rows[-1].id)


class IntelSource:
    """New current, unrevoked intel objects the playbook's organisation may see."""

    kind = TriggerKind.INTEL

    def fetch(
        self, conn: Connection, actor: Actor, cursor: Cursor, *, until: str, limit: int
    ) -> tuple[list[Item], Cursor]:
        o = intel_objects
        after_pk = int(cursor.after_key) if cursor.after_key else -1
        after = o.c.imported_at > (cursor.after_ts or "")
        if cursor.after_ts is not None:
            after = or_(after, and_(o.c.imported_at == cursor.after_ts, o.c.pk > after_pk))
        rows = conn.execute(
            select(
                o.c.pk,
                o.c.stix_id,
                o.c.type,
                o.c.name,
                o.c.tlp,
                o.c.distribution,
                o.c.confidence,
                o.c.valid_from,
                o.c.valid_until,
                o.c.imported_at,
                o.c.body,
                o.c.created,  # with the columns above, what a feed indicator's body is made of
                o.c.modified,
                o.c.revoked,
                organisations.c.name.label("owner"),
            )
            .select_from(o.join(organisations, organisations.c.id == o.c.owner_org_id))
            .where(
                after,
                o.c.imported_at <= until,
                o.c.is_current.is_(True),
                o.c.revoked.is_(False),
                visible_filter(actor, o),
            )
            .order_by(o.c.imported_at, o.c.pk)
            .limit(limit)
        ).all()
        if not rows:
            return [], cursor
        pks = [r.pk for r in rows]
        values: dict[int, list[dict[str, str]]] = {}
        for pk, kind, value in conn.execute(
            select(observables.c.object_pk, observables.c.type, observables.c.value)
            .where(observables.c.object_pk.in_(pks))
            .order_by(observables.c.id)
        ):
            values.setdefault(pk, []).append({"type": kind, "value": value})
        scores = scores_for(conn, pks)
        items = []
        for r in rows:
            body = body_of_row(r)
            score = scores.get(r.pk)
            intel = {
                "id": r.stix_id,
                "type": r.type,
                "name": r.name,
                "description": body.get("description"),
                "owner": r.owner,
                "tlp": r.tlp,
                "distribution": r.distribution,
                "labels": list(body.get("labels") or []),
                "confidence": r.confidence,
                "score": None if score is None else round(score.score, 1),
                "pattern": body.get("pattern"),
                "valid_from": r.valid_from,
                "valid_until": r.valid_until,
                "observables": values.get(r.pk, []),
                "imported_at": r.imported_at,
            }
            facts = {
                **{k: v for k, v in intel.items() if k not in ("observables", "owner")},
                "organisation": r.owner,
                "observable_types": sorted({v["type"] for v in values.get(r.pk, [])}),
            }
            items.append(
                Item(
                    key=f"intel:{r.pk}",
                    context={"intel": intel},
                    facts=facts,
                    group_key=f"indicator:{r.stix_id}",
                    indicator_ids=(r.stix_id,),
                )
            )
        return items, Cursor(rows[-1].imported_at, str(rows[-1].pk))


class IncidentStatusSource:
    """Status changes (and openings) on the incidents' timeline, of incidents the
    playbook's organisation may see (:func:`steppe.sharing.policy.can_see_incident`)."""

    kind = TriggerKind.INCIDENT_STATUS

    def fetch(
        self, conn: Connection, actor: Actor, cursor: Cursor, *, until: str, limit: int
    ) -> tuple[list[Item], Cursor]:
        t = incident_timeline.c
        query = select(t.id, t.incident_id, t.at, t.kind, t.actor, t.detail).where(
            t.kind.in_((TimelineKind.STATUS.value, TimelineKind.OPENED.value))
        )
        if cursor.after_key:
            query = query.where(t.id > int(cursor.after_key))
        else:  # a fresh cursor: from its moment
            query = query.where(t.at > (cursor.after_ts or ""))
        rows = conn.execute(query.order_by(t.id).limit(limit)).all()
        # Ids are handed out before commit: stop at the first entry too young to be sure
        # that every lower id has committed.
        settled = []
        for row in rows:
            if row.at > until:
                break
            settled.append(row)
        items = []
        for row in settled:
            try:
                incident = visible_incident(conn, actor, row.incident_id)
            except NotFound:
                continue
            detail = orjson.loads(row.detail)
            status = detail.get("to") or detail.get("status")
            facts = {
                "id": row.incident_id,
                "title": incident.title,
                "severity": incident.severity,
                "tlp": incident.tlp,
                "status": status,
                "previous": detail.get("from"),
                "at": row.at,
                "actor": row.actor,
            }
            items.append(
                Item(
                    key=f"incident-status:{row.id}",
                    context={"incident": facts},
                    facts=facts,
                    group_key=f"incident:{row.incident_id}",
                )
            )
        if not settled:
            return items, cursor
        return items, Cursor(settled[-1].at, str(settled[-1].id))


#: Trigger kind → where its items come from.
SOURCES: dict[TriggerKind, TriggerSource] = {
    TriggerKind.ALERT: AlertSource(),
    TriggerKind.INTEL: IntelSource(),
    TriggerKind.INCIDENT_STATUS: IncidentStatusSource(),
}
