"""Who may read and who may change an incident, decided by
:func:`steppe.sharing.policy.can_see_incident`, and the timeline every change appends to.

Reading: the owner's and the participants' users, the center's staff (never peers or
sensors). An incident the actor may not see is :class:`~steppe.errors.NotFound`, the same
as one that does not exist. Changing: the same people, with an acting role (analyst,
coordinator, org-admin, admin) — a reader gets :class:`~steppe.errors.Forbidden`.
Adding participants: only the owner's users and the center's staff.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, NotFound
from steppe.sharing.model import Actor, IncidentRights, OrgKind, Role
from steppe.sharing.policy import can_see_incident
from steppe.storage import timestamps
from steppe.storage.schema import incident_participants, incident_timeline, incidents

__all__ = [
    "WRITE_ROLES",
    "append_timeline",
    "incident_rights",
    "is_center_staff",
    "visible_incident",
    "writable_incident",
]

#: Roles that may change an incident they may see.
WRITE_ROLES = frozenset({Role.ANALYST, Role.COORDINATOR, Role.ORG_ADMIN, Role.ADMIN})


def is_center_staff(actor: Actor) -> bool:
    return actor.org_kind is OrgKind.COORDINATOR and bool(
        actor.roles & {Role.COORDINATOR, Role.ADMIN}
    )


def incident_rights(conn: Connection, owner_org_id: int, incident_id: str) -> IncidentRights:
    participants = conn.scalars(
        select(incident_participants.c.org_id).where(
            incident_participants.c.incident_id == incident_id
        )
    )
    return IncidentRights(owner_org_id, frozenset(participants))


def visible_incident(conn: Connection, actor: Actor, incident_id: str) -> Any:
    """The incident's row if ``actor`` may see it; NotFound otherwise."""
    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).one_or_none()
    if row is None or not can_see_incident(actor, incident_rights(conn, row.owner_org_id, row.id)):
        raise NotFound(f"no incident {incident_id}")
    return row


def writable_incident(conn: Connection, actor: Actor, incident_id: str) -> Any:
    """The incident's row if ``actor`` may change it (NotFound, or Forbidden for readers)."""
    row = visible_incident(conn, actor, incident_id)
    if not actor.roles & WRITE_ROLES:
        raise Forbidden(f"{actor.user_name} may read this incident but not change it")
    return row


def append_timeline(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    incident_id: str,
    kind: str,
    detail: dict[str, Any],
) -> int:
    """Append one entry (and the same to the audit trail); returns its id."""
    entry_id: int = conn.execute(
        incident_timeline.insert()
        .values(
            incident_id=incident_id,
            at=timestamps.now(),
            kind=kind,
            actor=actor.user_name,
            detail=orjson.dumps(detail).decode(),
        )
        .returning(incident_timeline.c.id)
    ).scalar_one()
    trail.record(conn, f"incident.{kind}", f"incident {incident_id}", detail)
    return entry_id
