"""Opening incidents and changing them; each change appends to the timeline.

>>> incident_id = open_incident(conn, trail, actor, title="Phishing wave", severity="high",
...                             participants=[kg.id], alert_ids=[alert_id],
...                             template="phishing", coordinated=True)  # doctest: +SKIP
>>> set_status(conn, trail, actor, incident_id, "investigating")       # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, select

from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, InputError
from steppe.response.incidents.access import (
    WRITE_ROLES,
    append_timeline,
    is_center_staff,
    writable_incident,
)
from steppe.response.incidents.evidence import add_alerts
from steppe.response.incidents.model import (
    IncidentStatus,
    TimelineKind,
    check_status,
    parse_severity,
)
from steppe.response.incidents.tasks import add_task
from steppe.response.incidents.templates import BUILTIN, TaskTemplate
from steppe.sharing.model import Actor, OrgKind, TlpLevel
from steppe.storage import timestamps
from steppe.storage.schema import (
    incident_comments,
    incident_participants,
    incidents,
    organisations,
)

__all__ = [
    "MAX_COMMENT",
    "add_comment",
    "add_participant",
    "open_incident",
    "set_status",
    "update_incident",
]

MAX_COMMENT = 10_000


def _title(title: str) -> str:
    title = title.strip()
    if not 1 <= len(title) <= 300:
        raise InputError("must be 1 to 300 characters", field="title")
    return title


def _description(text: str) -> str:
    if len(text) > 100_000:
        raise InputError("must be at most 100000 characters", field="description")
    return text


def open_incident(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    *,
    title: str,
    severity: str = "medium",
    tlp: TlpLevel = TlpLevel.AMBER,
    participants: Sequence[int] = (),
    alert_ids: Sequence[str] = (),
    description: str = "",
    template: str | None = None,
    coordinated: bool = False,
    templates: Mapping[str, TaskTemplate] | None = None,
) -> str:
    """Open an incident owned by ``actor``'s organisation; returns its id.

    ``participants`` are organisation ids that share it; ``alert_ids`` become evidence
    (alerts ``actor`` may read); ``template`` names a task template of ``templates``
    (default: the built-in ones) whose tasks are created open.
    """
    if not actor.roles & WRITE_ROLES or actor.org_kind is OrgKind.PEER:
        raise Forbidden(f"{actor.user_name} may not open incidents (needs an analyst role)")
    title = _title(title)
    severity = parse_severity(severity)
    tlp = TlpLevel(tlp)
    chosen: TaskTemplate | None = None
    if template is not None:
        known = BUILTIN if templates is None else templates
        chosen = known.get(template)
        if chosen is None:
            raise InputError(
                f"no task template {template!r}; known: {', '.join(sorted(known))}",
                field="template",
            )
    now = timestamps.now()
    incident_id = f"incident--{uuid.uuid4()}"
    conn.execute(
        incidents.insert().values(
            id=incident_id,
            title=title,
            description=_description(description),
            severity=severity,
            tlp=tlp.value,
            status=IncidentStatus.OPEN.value,
            coordinated=coordinated,
            owner_org_id=actor.org_id,
            template=template,
            created_by=actor.user_id,
            created_at=now,
            updated_at=now,
        )
    )
    append_timeline(
        conn,
        trail,
        actor,
        incident_id,
        TimelineKind.OPENED,
        {
            "title": title,
            "status": IncidentStatus.OPEN.value,
            "severity": severity,
            "tlp": tlp.value,
            "coordinated": coordinated,
            "template": template,
        },
    )
    for org_id in dict.fromkeys(participants):
        add_participant(conn, trail, actor, incident_id, org_id)
    if chosen is not None:
        for task_title in chosen.tasks:
            add_task(conn, trail, actor, incident_id, title=task_title)
    if alert_ids:
        add_alerts(conn, trail, actor, incident_id, alert_ids)
    return incident_id


def add_participant(
    conn: Connection, trail: AuditTrail, actor: Actor, incident_id: str, org_id: int
) -> None:
    """Share the incident with organisation ``org_id`` (a member or the center).

    Only the owner's users and the center's staff may. The newcomer sees the incident,
    its tasks, comments and timeline, and only the evidence it may see on its own."""
    row = writable_incident(conn, actor, incident_id)
    if row.owner_org_id != actor.org_id and not is_center_staff(actor):
        raise Forbidden("only the owner organisation and the center's staff add participants")
    org = conn.execute(
        select(organisations.c.id, organisations.c.name, organisations.c.kind).where(
            organisations.c.id == org_id
        )
    ).one_or_none()
    if org is None:
        raise InputError(f"no organisation {org_id}", field="participants")
    if org.kind == OrgKind.PEER:
        raise InputError(
            f"{org.name} is a peer center: incidents are shared with members only",
            field="participants",
        )
    if org.id == row.owner_org_id:
        return  # the owner always takes part
    known = conn.scalar(
        select(incident_participants.c.org_id).where(
            incident_participants.c.incident_id == incident_id,
            incident_participants.c.org_id == org_id,
        )
    )
    if known is not None:
        return
    conn.execute(
        incident_participants.insert().values(
            incident_id=incident_id, org_id=org_id, added_at=timestamps.now()
        )
    )
    _touch(conn, incident_id)
    append_timeline(
        conn,
        trail,
        actor,
        incident_id,
        TimelineKind.PARTICIPANT,
        {"organisation": org.name, "org_id": org.id},
    )


def set_status(
    conn: Connection, trail: AuditTrail, actor: Actor, incident_id: str, status: str
) -> None:
    """Move the incident to ``status`` if its state machine allows it (timeline kind
    ``status``, detail ``{"from": …, "to": …}`` — what playbooks poll for)."""
    row = writable_incident(conn, actor, incident_id)
    target = check_status(incident_id, row.status, str(status))
    conn.execute(
        incidents.update()
        .where(incidents.c.id == incident_id)
        .values(status=target.value, updated_at=timestamps.now())
    )
    append_timeline(
        conn,
        trail,
        actor,
        incident_id,
        TimelineKind.STATUS,
        {"from": row.status, "to": target.value},
    )


def update_incident(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    incident_id: str,
    *,
    title: str | None = None,
    description: str | None = None,
    severity: str | None = None,
    tlp: TlpLevel | None = None,
    coordinated: bool | None = None,
    status: str | None = None,
) -> None:
    """Change what is given; a severity change is its own timeline kind."""
    row = writable_incident(conn, actor, incident_id)
    changes: dict[str, object] = {}
    if title is not None and _title(title) != row.title:
        changes["title"] = _title(title)
    if description is not None and description != row.description:
        changes["description"] = _description(description)
    if tlp is not None and TlpLevel(tlp).value != row.tlp:
        changes["tlp"] = TlpLevel(tlp).value
    if coordinated is not None and coordinated != row.coordinated:
        changes["coordinated"] = coordinated
    if changes:
        conn.execute(
            incidents.update()
            .where(incidents.c.id == incident_id)
            .values(updated_at=timestamps.now(), **changes)
        )
        shown = {k: v for k, v in changes.items() if k != "description"}
        if "description" in changes:
            shown["description"] = "changed"
        append_timeline(conn, trail, actor, incident_id, TimelineKind.UPDATE, shown)
    if severity is not None and parse_severity(severity) != row.severity:
        conn.execute(
            incidents.update()
            .where(incidents.c.id == incident_id)
            .values(severity=severity, updated_at=timestamps.now())
        )
        append_timeline(
            conn,
            trail,
            actor,
            incident_id,
            TimelineKind.SEVERITY,
            {"from": row.severity, "to": severity},
        )
    if status is not None:
        set_status(conn, trail, actor, incident_id, status)


def add_comment(
    conn: Connection, trail: AuditTrail, actor: Actor, incident_id: str, text: str
) -> int:
    """A comment every participant sees; returns its id."""
    writable_incident(conn, actor, incident_id)
    text = text.strip()
    if not 1 <= len(text) <= MAX_COMMENT:
        raise InputError(f"must be 1 to {MAX_COMMENT} characters", field="text")
    comment_id: int = conn.execute(
        incident_comments.insert()
        .values(
            incident_id=incident_id,
            author_id=actor.user_id,
            created_at=timestamps.now(),
            text=text,
        )
        .returning(incident_comments.c.id)
    ).scalar_one()
    _touch(conn, incident_id)
    append_timeline(conn, trail, actor, incident_id, TimelineKind.COMMENT, {"comment": comment_id})
    return comment_id


def _touch(conn: Connection, incident_id: str) -> None:
    conn.execute(
        incidents.update().where(incidents.c.id == incident_id).values(updated_at=timestamps.now())
    )
