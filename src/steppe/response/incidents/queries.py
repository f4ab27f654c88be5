"""Reading incidents, only through the policy.

Listing uses :func:`steppe.sharing.policy.incident_filter` (the SQL twin of
:func:`~steppe.sharing.policy.can_see_incident`); one incident is checked with
:func:`~steppe.sharing.policy.can_see_incident` itself. The timeline leaves out entries
about evidence the reader may not see (:mod:`~steppe.response.incidents.evidence`).

    >>> page = list_incidents(conn, actor, status="open")   # doctest: +SKIP
    >>> get_incident(conn, actor, page.items[0].id).participants  # doctest: +SKIP
    ['KG-CERT']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Select, func, select

from steppe.errors import InputError
from steppe.response.incidents.access import visible_incident
from steppe.response.incidents.evidence import visible_evidence_ids
from steppe.response.incidents.model import (
    SEVERITIES,
    CommentView,
    IncidentPage,
    IncidentStatus,
    IncidentView,
    TaskStatus,
    TimelineEntry,
    TimelineKind,
)
from steppe.sharing.model import Actor
from steppe.sharing.policy import incident_filter, require_reader
from steppe.storage.schema import (
    incident_comments,
    incident_participants,
    incident_tasks,
    incident_timeline,
    incidents,
    organisations,
    users,
)

__all__ = [
    "MAX_LIMIT",
    "get_incident",
    "list_comments",
    "list_incidents",
    "resolve_incident_id",
    "timeline",
]

MAX_LIMIT = 1000
_PREFIX = "incident--"


def _base(actor: Actor) -> Select[Any]:
    require_reader(actor)
    return (
        select(
            incidents,
            organisations.c.name.label("owner"),
            users.c.name.label("creator"),
        )
        .select_from(
            incidents.join(organisations, organisations.c.id == incidents.c.owner_org_id).join(
                users, users.c.id == incidents.c.created_by
            )
        )
        .where(incident_filter(actor, incidents))
    )


def list_incidents(
    conn: Connection,
    actor: Actor,
    *,
    status: str | None = None,
    severity: str | None = None,
    coordinated: bool | None = None,
    organisation: int | None = None,
    search: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> IncidentPage:
    """Incidents ``actor`` may see, last changed first. ``organisation`` keeps those it
    owns or takes part in; ``search`` looks in titles."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
    if offset < 0:
        raise InputError(f"must not be negative, got {offset}", field="offset")
    query = _base(actor)
    if status is not None:
        if status not in set(IncidentStatus):
            raise InputError(f"must be one of {', '.join(IncidentStatus)}", field="status")
        query = query.where(incidents.c.status == status)
    if severity is not None:
        if severity not in SEVERITIES:
            raise InputError(f"must be one of {', '.join(SEVERITIES)}", field="severity")
        query = query.where(incidents.c.severity == severity)
    if coordinated is not None:
        query = query.where(incidents.c.coordinated == coordinated)
    if organisation is not None:
        takes_part = select(incident_participants.c.incident_id).where(
            incident_participants.c.org_id == organisation
        )
        query = query.where(
            (incidents.c.owner_org_id == organisation) | incidents.c.id.in_(takes_part)
        )
    if search:
        query = query.where(incidents.c.title.icontains(search, autoescape=True))
    total = conn.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = conn.execute(
        query.order_by(incidents.c.updated_at.desc(), incidents.c.id).limit(limit).offset(offset)
    ).all()
    return IncidentPage(_views(conn, rows), total)


def _views(conn: Connection, rows: Sequence[Any]) -> list[IncidentView]:
    ids = [r.id for r in rows]
    names: dict[str, list[str]] = {}
    open_tasks: dict[str, int] = {}
    if ids:
        for p in conn.execute(
            select(incident_participants.c.incident_id, organisations.c.name)
            .join(organisations, organisations.c.id == incident_participants.c.org_id)
            .where(incident_participants.c.incident_id.in_(ids))
            .order_by(organisations.c.name)
        ):
            names.setdefault(p.incident_id, []).append(p.name)
        open_tasks = {
            t.incident_id: t.n
            for t in conn.execute(
                select(incident_tasks.c.incident_id, func.count().label("n"))
                .where(
                    incident_tasks.c.incident_id.in_(ids),
                    incident_tasks.c.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS]),
                )
                .group_by(incident_tasks.c.incident_id)
            )
        }
    return [
        IncidentView(
            id=r.id,
            title=r.title,
            description=r.description,
            severity=r.severity,
            tlp=r.tlp,
            status=r.status,
            coordinated=bool(r.coordinated),
            owner=r.owner,
            owner_org_id=r.owner_org_id,
            participants=names.get(r.id, []),
            template=r.template,
            created_by=r.creator,
            created_at=r.created_at,
            updated_at=r.updated_at,
            open_tasks=open_tasks.get(r.id, 0),
        )
        for r in rows
    ]


def get_incident(conn: Connection, actor: Actor, incident_id: str) -> IncidentView:
    """One incident; NotFound when absent or not visible (the same error)."""
    require_reader(actor)
    visible_incident(conn, actor, incident_id)
    row = conn.execute(_base(actor).where(incidents.c.id == incident_id)).one()
    return _views(conn, [row])[0]


def resolve_incident_id(conn: Connection, actor: Actor, text: str) -> str:
    """The full id of the one visible incident whose uuid starts with ``text`` (with or
    without ``incident--``); ``text`` itself when none or several do."""
    prefix = text if text.startswith(_PREFIX) else _PREFIX + text
    if len(prefix) >= len(_PREFIX) + 36:
        return prefix
    found = conn.scalars(
        select(incidents.c.id)
        .where(
            incidents.c.id.startswith(prefix, autoescape=True),
            incident_filter(actor, incidents),
        )
        .limit(2)
    ).all()
    return str(found[0]) if len(found) == 1 else text


def list_comments(conn: Connection, actor: Actor, incident_id: str) -> list[CommentView]:
    visible_incident(conn, actor, incident_id)
    rows = conn.execute(
        select(
            incident_comments,
            users.c.name.label("author"),
            organisations.c.name.label("organisation"),
        )
        .join(users, users.c.id == incident_comments.c.author_id)
        .join(organisations, organisations.c.id == users.c.organisation_id)
        .where(incident_comments.c.incident_id == incident_id)
        .order_by(incident_comments.c.id)
    )
    return [
        CommentView(r.id, r.incident_id, r.author, r.organisation, r.created_at, r.text)
        for r in rows
    ]


def timeline(
    conn: Connection, actor: Actor, incident_id: str, *, after: int = 0
) -> list[TimelineEntry]:
    """The timeline, oldest first, after entry id ``after``; entries about evidence the
    reader may not see are left out."""
    visible_incident(conn, actor, incident_id)
    shown = visible_evidence_ids(conn, actor, incident_id)
    rows = conn.execute(
        select(incident_timeline)
        .where(incident_timeline.c.incident_id == incident_id, incident_timeline.c.id > after)
        .order_by(incident_timeline.c.id)
    )
    entries = []
    for r in rows:
        detail = orjson.loads(r.detail)
        if r.kind == TimelineKind.EVIDENCE and detail.get("evidence") not in shown:
            continue
        entries.append(TimelineEntry(r.id, r.incident_id, r.at, r.kind, r.actor, detail))
    return entries
