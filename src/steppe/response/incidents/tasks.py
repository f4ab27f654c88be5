"""Tasks of an incident: a title, who does it (an organisation taking part, or one of its
users), a status and a due time.

    >>> task_id = add_task(conn, trail, actor, incident_id, title="Isolate host",
    ...                    assignee="bek", due="2026-12-01T12:00:00Z")  # doctest: +SKIP
    >>> update_task(conn, trail, actor, incident_id, task_id, status="done")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from steppe.audit.trail import AuditTrail
from steppe.errors import InputError, NotFound
from steppe.response.incidents.access import (
    append_timeline,
    incident_rights,
    visible_incident,
    writable_incident,
)
from steppe.response.incidents.model import (
    TaskStatus,
    TaskView,
    TimelineKind,
    check_task_status,
)
from steppe.sharing import directory
from steppe.sharing.model import Actor
from steppe.sharing.policy import can_see_incident
from steppe.storage import timestamps
from steppe.storage.schema import incident_tasks, organisations, users

__all__ = ["add_task", "list_tasks", "update_task"]

_UNSET: Any = object()


def _due(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return timestamps.normalise(value)
    except ValueError:
        raise InputError(f"{value!r} is not an RFC 3339 time", field="due") from None


def _assignee(
    conn: Connection, incident: Any, org_name: str | None, user_name: str | None
) -> tuple[int | None, int | None]:
    """(org id, user id) of who does the task; they must be able to see the incident."""
    org_id: int | None = None
    user_id: int | None = None
    rights = incident_rights(conn, incident.owner_org_id, incident.id)
    if user_name is not None:
        try:
            who = directory.load_actor(conn, user_name)
        except NotFound:
            raise InputError(f"no user named {user_name!r}", field="assignee") from None
        if not can_see_incident(who, rights):
            raise InputError(
                f"{user_name} cannot see this incident: add their organisation first",
                field="assignee",
            )
        user_id, org_id = who.user_id, who.org_id
    if org_name is not None:
        org = directory.find_organisation(conn, org_name)
        if org_id is not None and org.id != org_id:
            raise InputError(f"{user_name} is not a user of {org_name}", field="assignee_org")
        if org.id != rights.owner_org_id and org.id not in rights.participant_org_ids:
            raise InputError(
                f"{org_name} does not take part in this incident", field="assignee_org"
            )
        org_id = org.id
    return org_id, user_id


def add_task(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    incident_id: str,
    *,
    title: str,
    assignee_org: str | None = None,
    assignee: str | None = None,
    due: str | None = None,
) -> int:
    """Add an open task; returns its id."""
    incident = writable_incident(conn, actor, incident_id)
    title = title.strip()
    if not 1 <= len(title) <= 300:
        raise InputError("must be 1 to 300 characters", field="title")
    org_id, user_id = _assignee(conn, incident, assignee_org, assignee)
    now = timestamps.now()
    task_id: int = conn.execute(
        incident_tasks.insert()
        .values(
            incident_id=incident_id,
            title=title,
            assignee_org_id=org_id,
            assignee_user_id=user_id,
            status=TaskStatus.OPEN.value,
            due=_due(due),
            created_at=now,
            updated_at=now,
        )
        .returning(incident_tasks.c.id)
    ).scalar_one()
    append_timeline(
        conn,
        trail,
        actor,
        incident_id,
        TimelineKind.TASK,
        {"task": task_id, "title": title, "status": TaskStatus.OPEN.value},
    )
    return task_id


def update_task(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    incident_id: str,
    task_id: int,
    *,
    status: str | None = None,
    title: str | None = None,
    assignee_org: str | None = _UNSET,
    assignee: str | None = _UNSET,
    due: str | None = _UNSET,
) -> None:
    """Change a task; leave an argument out to keep it, pass None to clear it."""
    incident = writable_incident(conn, actor, incident_id)
    row = conn.execute(
        select(incident_tasks).where(
            incident_tasks.c.id == task_id, incident_tasks.c.incident_id == incident_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no task {task_id} in incident {incident_id}")
    changes: dict[str, Any] = {}
    if status is not None:
        changes["status"] = check_task_status(task_id, row.status, status).value
    if title is not None:
        title = title.strip()
        if not 1 <= len(title) <= 300:
            raise InputError("must be 1 to 300 characters", field="title")
        changes["title"] = title
    if assignee_org is not _UNSET or assignee is not _UNSET:
        org_id, user_id = _assignee(
            conn,
            incident,
            None if assignee_org is _UNSET else assignee_org,
            None if assignee is _UNSET else assignee,
        )
        changes.update(assignee_org_id=org_id, assignee_user_id=user_id)
    if due is not _UNSET:
        changes["due"] = _due(due)
    if not changes:
        return
    conn.execute(
        incident_tasks.update()
        .where(incident_tasks.c.id == task_id)
        .values(updated_at=timestamps.now(), **changes)
    )
    detail = {"task": task_id, "title": changes.get("title", row.title)}
    detail.update({k: v for k, v in changes.items() if k in ("status", "due")})
    if "assignee_org_id" in changes:
        detail["assigned"] = True
    append_timeline(conn, trail, actor, incident_id, TimelineKind.TASK, detail)


def list_tasks(conn: Connection, actor: Actor, incident_id: str) -> list[TaskView]:
    """The incident's tasks, in the order they were added."""
    visible_incident(conn, actor, incident_id)
    rows = conn.execute(
        select(
            incident_tasks,
            organisations.c.name.label("org_name"),
            users.c.name.label("user_name"),
        )
        .select_from(
            incident_tasks.outerjoin(
                organisations, organisations.c.id == incident_tasks.c.assignee_org_id
            ).outerjoin(users, users.c.id == incident_tasks.c.assignee_user_id)
        )
        .where(incident_tasks.c.incident_id == incident_id)
        .order_by(incident_tasks.c.id)
    )
    return [
        TaskView(
            id=r.id,
            incident_id=r.incident_id,
            title=r.title,
            assignee_org=r.org_name,
            assignee=r.user_name,
            status=r.status,
            due=r.due,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]
