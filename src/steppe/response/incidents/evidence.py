"""Evidence: items that keep their own access rights inside an incident.

- an **alert** is shown to whoever may read its organisation's telemetry
  (:func:`steppe.sharing.policy.can_read_telemetry`);
- an **intel** object (by stix id) to whoever may see it
  (:func:`steppe.sharing.policy.visible_filter`);
- a **note** carries its own marking — owner organisation, distribution, TLP, sharing
  groups — decided by :func:`steppe.sharing.policy.can_see`.

Seeing the incident is not enough: each participant sees only the items it may, so
adding a participant exposes nothing it could not already see. Hidden items are not
counted either (a count would tell a participant that something it may not see exists),
and their timeline entries are left out (:mod:`~steppe.response.incidents.queries`).

    >>> add_alerts(conn, trail, actor, incident_id, [alert_id])              # doctest: +SKIP
    1
    >>> add_note(conn, trail, actor, incident_id, title="Call with ISP", body="…",
    ...          distribution=Distribution.ORGANISATION, tlp=TlpLevel.RED)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from steppe.alerts.triage import escalate_into
from steppe.audit.trail import AuditTrail
from steppe.errors import InputError, NotFound
from steppe.response.incidents.access import (
    append_timeline,
    visible_incident,
    writable_incident,
)
from steppe.response.incidents.model import EvidenceKind, EvidenceView, TimelineKind
from steppe.sharing.model import Actor, Distribution, ObjectRights, TlpLevel
from steppe.sharing.policy import can_read_telemetry, can_see, check_marking, visible_filter
from steppe.storage import timestamps
from steppe.storage.schema import (
    alerts,
    incident_evidence,
    incident_evidence_groups,
    intel_objects,
    organisations,
    sharing_groups,
    users,
)

__all__ = [
    "MAX_NOTE",
    "add_alerts",
    "add_intel",
    "add_note",
    "list_evidence",
    "visible_evidence_ids",
]

MAX_NOTE = 100_000
_MAX_ALERTS = 1000


def _insert(conn: Connection, actor: Actor, incident_id: str, **values: Any) -> int:
    evidence_id: int = conn.execute(
        incident_evidence.insert()
        .values(
            incident_id=incident_id, added_by=actor.user_id, added_at=timestamps.now(), **values
        )
        .returning(incident_evidence.c.id)
    ).scalar_one()
    return evidence_id


def add_alerts(
    conn: Connection, trail: AuditTrail, actor: Actor, incident_id: str, alert_ids: Sequence[str]
) -> int:
    """Attach alerts ``actor`` may read; returns how many were not attached already.

    An alert the actor may not read is NotFound (nothing is attached). A new or
    acknowledged alert becomes ``escalated``.
    """
    writable_incident(conn, actor, incident_id)
    wanted = list(dict.fromkeys(alert_ids))
    if len(wanted) > _MAX_ALERTS:
        raise InputError(f"at most {_MAX_ALERTS} alerts at once", field="alert_ids")
    found = {
        r.id: r.org_id
        for r in conn.execute(select(alerts.c.id, alerts.c.org_id).where(alerts.c.id.in_(wanted)))
    }
    for alert_id in wanted:
        if alert_id not in found or not can_read_telemetry(actor, found[alert_id]):
            raise NotFound(f"no alert {alert_id}")
    attached = set(
        conn.scalars(
            select(incident_evidence.c.alert_id).where(
                incident_evidence.c.incident_id == incident_id,
                incident_evidence.c.alert_id.in_(wanted),
            )
        )
    )
    added = 0
    for alert_id in wanted:
        if alert_id in attached:
            continue
        evidence_id = _insert(
            conn, actor, incident_id, kind=EvidenceKind.ALERT.value, alert_id=alert_id
        )
        append_timeline(
            conn,
            trail,
            actor,
            incident_id,
            TimelineKind.EVIDENCE,
            {"evidence": evidence_id, "kind": EvidenceKind.ALERT.value},
        )
        escalate_into(conn, trail, actor, alert_id, incident_id)
        added += 1
    return added


def add_intel(
    conn: Connection, trail: AuditTrail, actor: Actor, incident_id: str, stix_id: str
) -> int:
    """Attach an intel object ``actor`` may see (by stix id); returns the evidence id."""
    writable_incident(conn, actor, incident_id)
    if not _visible_stix_ids(conn, actor, [stix_id]):
        raise NotFound(f"no intel object {stix_id}")
    evidence_id = _insert(conn, actor, incident_id, kind=EvidenceKind.INTEL.value, stix_id=stix_id)
    append_timeline(
        conn,
        trail,
        actor,
        incident_id,
        TimelineKind.EVIDENCE,
        {"evidence": evidence_id, "kind": EvidenceKind.INTEL.value},
    )
    return evidence_id


def add_note(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    incident_id: str,
    *,
    title: str,
    body: str = "",
    distribution: Distribution = Distribution.ORGANISATION,
    tlp: TlpLevel = TlpLevel.AMBER,
    groups: Iterable[str] = (),
) -> int:
    """Attach a note owned by ``actor``'s organisation, marked on its own (sharing
    groups by name); returns the evidence id."""
    writable_incident(conn, actor, incident_id)
    title = title.strip()
    if not 1 <= len(title) <= 300:
        raise InputError("must be 1 to 300 characters", field="title")
    if len(body) > MAX_NOTE:
        raise InputError(f"must be at most {MAX_NOTE} characters", field="body")
    group_ids = _group_ids(conn, groups)
    check_marking(distribution, tlp, group_ids)
    evidence_id = _insert(
        conn,
        actor,
        incident_id,
        kind=EvidenceKind.NOTE.value,
        title=title,
        body=body,
        owner_org_id=actor.org_id,
        distribution=distribution.value,
        tlp=tlp.value,
    )
    if group_ids:
        conn.execute(
            incident_evidence_groups.insert(),
            [{"evidence_id": evidence_id, "group_id": g} for g in sorted(group_ids)],
        )
    append_timeline(
        conn,
        trail,
        actor,
        incident_id,
        TimelineKind.EVIDENCE,
        {"evidence": evidence_id, "kind": EvidenceKind.NOTE.value},
    )
    return evidence_id


def _group_ids(conn: Connection, names: Iterable[str]) -> set[int]:
    wanted = set(names)
    if not wanted:
        return set()
    found = {
        r.name: r.id
        for r in conn.execute(
            select(sharing_groups.c.id, sharing_groups.c.name).where(
                sharing_groups.c.name.in_(wanted)
            )
        )
    }
    missing = sorted(wanted - set(found))
    if missing:
        raise InputError(f"no sharing group named {missing[0]!r}", field="groups")
    return set(found.values())


def _visible_stix_ids(conn: Connection, actor: Actor, stix_ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(stix_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 1000):
        found.update(
            conn.scalars(
                select(intel_objects.c.stix_id).where(
                    intel_objects.c.stix_id.in_(wanted[start : start + 1000]),
                    intel_objects.c.is_current,
                    visible_filter(actor, intel_objects),
                )
            )
        )
    return found


def _rows(conn: Connection, incident_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(
                incident_evidence,
                alerts.c.org_id.label("alert_org_id"),
                alerts.c.title.label("alert_title"),
                users.c.name.label("adder"),
                organisations.c.name.label("owner_name"),
            )
            .select_from(
                incident_evidence.outerjoin(alerts, alerts.c.id == incident_evidence.c.alert_id)
                .join(users, users.c.id == incident_evidence.c.added_by)
                .outerjoin(organisations, organisations.c.id == incident_evidence.c.owner_org_id)
            )
            .where(incident_evidence.c.incident_id == incident_id)
            .order_by(incident_evidence.c.id)
        )
    )


def _note_groups(conn: Connection, evidence_ids: list[int]) -> dict[int, frozenset[int]]:
    found: dict[int, set[int]] = {}
    if evidence_ids:
        rows = conn.execute(
            select(incident_evidence_groups).where(
                incident_evidence_groups.c.evidence_id.in_(evidence_ids)
            )
        )
        for r in rows:
            found.setdefault(r.evidence_id, set()).add(r.group_id)
    return {k: frozenset(v) for k, v in found.items()}


def _visible(conn: Connection, actor: Actor, rows: list[Any]) -> list[Any]:
    stix = _visible_stix_ids(conn, actor, (r.stix_id for r in rows if r.kind == "intel"))
    groups = _note_groups(conn, [r.id for r in rows if r.kind == "note"])
    shown = []
    for r in rows:
        if r.kind == EvidenceKind.ALERT:
            ok = bool(can_read_telemetry(actor, r.alert_org_id))
        elif r.kind == EvidenceKind.INTEL:
            ok = r.stix_id in stix
        else:
            rights = ObjectRights(
                r.owner_org_id,
                Distribution(r.distribution),
                TlpLevel(r.tlp),
                groups.get(r.id, frozenset()),
            )
            ok = bool(can_see(actor, rights))
        if ok:
            shown.append(r)
    return shown


def visible_evidence_ids(conn: Connection, actor: Actor, incident_id: str) -> set[int]:
    """Ids of the incident's evidence ``actor`` may see (the caller has checked that
    ``actor`` may see the incident)."""
    return {r.id for r in _visible(conn, actor, _rows(conn, incident_id))}


def list_evidence(conn: Connection, actor: Actor, incident_id: str) -> list[EvidenceView]:
    """The evidence ``actor`` may see, oldest first (NotFound if the incident is not
    visible to ``actor``)."""
    visible_incident(conn, actor, incident_id)
    return [
        EvidenceView(
            id=r.id,
            kind=r.kind,
            alert_id=r.alert_id,
            stix_id=r.stix_id,
            title=r.alert_title if r.kind == EvidenceKind.ALERT else (r.title or r.stix_id),
            body=r.body,
            owner=r.owner_name,
            distribution=r.distribution,
            tlp=r.tlp,
            added_by=r.adder,
            added_at=r.added_at,
        )
        for r in _visible(conn, actor, _rows(conn, incident_id))
    ]
