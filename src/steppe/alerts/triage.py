"""Triage: moving alerts through their states, assigning them, commenting on them.

Who may triage an alert: whoever may read it (:func:`steppe.sharing.policy.can_read_telemetry`
for its organisation — its own users, the center's staff) and holds a role that acts
(analyst, coordinator, org-admin, admin). An alert the actor may not read is
:class:`~steppe.errors.NotFound`, exactly as when reading it; a reader may read but not
triage (:class:`~steppe.errors.Forbidden`). The states and their moves are in
:data:`steppe.alerts.model.TRANSITIONS`; a move they do not allow is
:class:`~steppe.errors.InvalidTransition` (HTTP 409).

Every change lands in the alert's history (``alert_history``, read with
:func:`alert_history`) and in the audit trail. Marking an IOC alert false-positive records
a ``false-positive`` sighting of its indicator for the indicator's producer.

    >>> set_alert_status(conn, trail, actor, alert_id, "acknowledged")  # doctest: +SKIP
    >>> assign_alert(conn, trail, actor, alert_id, "ana")               # doctest: +SKIP
    >>> triage_alerts(conn, trail, actor, ids, status="closed")         # doctest: +SKIP
    [TriageOutcome(alert_id='…', changed=True, error=None), …]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, select

from steppe.alerts.model import AlertStatus, check_transition
from steppe.alerts.store import named_preferences
from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, InputError, NotFound, SteppeError
from steppe.intel.sightings import SightingType, add_sighting
from steppe.sharing import directory
from steppe.sharing.model import Actor, Role
from steppe.sharing.policy import can_read_telemetry
from steppe.storage import timestamps
from steppe.storage.schema import alert_comments, alerts, intel_objects, users
from steppe.storage.schema import alert_history as history_table

__all__ = [
    "MAX_BULK",
    "MAX_COMMENT",
    "TRIAGE_ROLES",
    "AlertComment",
    "HistoryEntry",
    "TriageOutcome",
    "alert_history",
    "assign_alert",
    "comment_alert",
    "escalate_into",
    "list_alert_comments",
    "set_alert_status",
    "triage_alerts",
]

#: Roles that may change an alert they may read.
TRIAGE_ROLES = frozenset({Role.ANALYST, Role.COORDINATOR, Role.ORG_ADMIN, Role.ADMIN})
MAX_COMMENT = 10_000
MAX_BULK = 1000

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class AlertComment:
    id: int
    alert_id: str
    author: str
    created_at: str
    text: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: str
    actor: str
    action: str  # status, assignee, comment, incident
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TriageOutcome:
    """What bulk triage did to one alert: ``error`` says why it did not change."""

    alert_id: str
    changed: bool
    error: str | None = None


def _readable_row(conn: Connection, actor: Actor, alert_id: str) -> Any:
    row = conn.execute(
        select(
            alerts.c.id,
            alerts.c.org_id,
            alerts.c.status,
            alerts.c.kind,
            alerts.c.indicator_pk,
            alerts.c.assignee_id,
            alerts.c.first_seen,
            alerts.c.last_seen,
            alerts.c.count,
        ).where(alerts.c.id == alert_id)
    ).one_or_none()
    if row is None or not can_read_telemetry(actor, row.org_id):
        raise NotFound(f"no alert {alert_id}")
    return row


def _writable_row(conn: Connection, actor: Actor, alert_id: str) -> Any:
    row = _readable_row(conn, actor, alert_id)
    if not actor.roles & TRIAGE_ROLES:
        raise Forbidden(f"{actor.user_name} may read alerts but not triage them (a reader)")
    return row


def _record(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    alert_id: str,
    action: str,
    detail: dict[str, Any],
) -> None:
    now = timestamps.now()
    conn.execute(
        history_table.insert().values(
            alert_id=alert_id,
            at=now,
            actor=actor.user_name,
            action=action,
            detail=orjson.dumps(detail).decode(),
        )
    )
    trail.record(conn, f"alert.{action}", f"alert {alert_id}", detail)


def set_alert_status(
    conn: Connection, trail: AuditTrail, actor: Actor, alert_id: str, status: str
) -> None:
    """Move the alert to ``status`` if its state machine allows it."""
    wanted = _parse_status(status)
    row = _writable_row(conn, actor, alert_id)
    check_transition(alert_id[:12], row.status, wanted)
    conn.execute(
        alerts.update()
        .where(alerts.c.id == alert_id)
        .values(status=wanted.value, updated_at=timestamps.now())
    )
    _record(conn, trail, actor, alert_id, "status", {"from": row.status, "to": wanted.value})
    if wanted is AlertStatus.FALSE_POSITIVE:
        _false_positive_sighting(conn, trail, row)


def _parse_status(status: str) -> AlertStatus:
    try:
        return AlertStatus(status)
    except ValueError:
        raise InputError(
            f"{status!r} is not a triage state; use one of {', '.join(AlertStatus)}",
            field="status",
        ) from None


def _false_positive_sighting(conn: Connection, trail: AuditTrail, row: Any) -> None:
    """Tell the indicator's producer it hit something benign (if it still exists)."""
    if row.indicator_pk is None:
        return  # a Sigma alert: no indicator to tell
    exists = conn.scalar(select(intel_objects.c.pk).where(intel_objects.c.pk == row.indicator_pk))
    if exists is None:
        return
    add_sighting(
        conn,
        trail,
        object_pk=row.indicator_pk,
        org_id=row.org_id,
        type=SightingType.FALSE_POSITIVE,
        count=max(1, min(row.count, 1_000_000)),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        source=row.id,
        named=named_preferences(conn).get(row.org_id, False),
    )


def assign_alert(
    conn: Connection, trail: AuditTrail, actor: Actor, alert_id: str, assignee: str | None
) -> None:
    """Give the alert to user ``assignee`` (by name; None takes it back from anyone).

    The assignee must be able to read the alert: a user of its organisation, or of the
    center's staff."""
    row = _writable_row(conn, actor, alert_id)
    user_id = None if assignee is None else _assignee_id(conn, assignee, row.org_id)
    conn.execute(
        alerts.update()
        .where(alerts.c.id == alert_id)
        .values(assignee_id=user_id, updated_at=timestamps.now())
    )
    _record(conn, trail, actor, alert_id, "assignee", {"assignee": assignee})


def _assignee_id(conn: Connection, name: str, org_id: int) -> int:
    try:
        who = directory.load_actor(conn, name)
    except NotFound:
        raise InputError(f"no user named {name!r}", field="assignee") from None
    if not can_read_telemetry(who, org_id) or not who.roles & TRIAGE_ROLES:
        raise InputError(
            f"{name} cannot work this alert: the assignee must be an analyst of the "
            "alert's organisation or of the center's staff",
            field="assignee",
        )
    return who.user_id


def comment_alert(
    conn: Connection, trail: AuditTrail, actor: Actor, alert_id: str, text: str
) -> AlertComment:
    """Add a comment (1 to :data:`MAX_COMMENT` characters) by ``actor``."""
    text = text.strip()
    if not 1 <= len(text) <= MAX_COMMENT:
        raise InputError(f"must be 1 to {MAX_COMMENT} characters", field="text")
    _writable_row(conn, actor, alert_id)
    now = timestamps.now()
    comment_id = conn.execute(
        alert_comments.insert()
        .values(alert_id=alert_id, author_id=actor.user_id, created_at=now, text=text)
        .returning(alert_comments.c.id)
    ).scalar_one()
    _record(conn, trail, actor, alert_id, "comment", {"comment": comment_id})
    return AlertComment(comment_id, alert_id, actor.user_name, now, text)


def list_alert_comments(conn: Connection, actor: Actor, alert_id: str) -> list[AlertComment]:
    """The alert's comments, oldest first (NotFound when the alert is not readable)."""
    _readable_row(conn, actor, alert_id)
    rows = conn.execute(
        select(alert_comments, users.c.name.label("author"))
        .join(users, users.c.id == alert_comments.c.author_id)
        .where(alert_comments.c.alert_id == alert_id)
        .order_by(alert_comments.c.id)
    )
    return [AlertComment(r.id, r.alert_id, r.author, r.created_at, r.text) for r in rows]


def alert_history(conn: Connection, actor: Actor, alert_id: str) -> list[HistoryEntry]:
    """Every triage change of the alert, oldest first."""
    _readable_row(conn, actor, alert_id)
    rows = conn.execute(
        select(history_table)
        .where(history_table.c.alert_id == alert_id)
        .order_by(history_table.c.id)
    )
    return [HistoryEntry(r.at, r.actor, r.action, orjson.loads(r.detail)) for r in rows]


def triage_alerts(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    alert_ids: Sequence[str],
    *,
    status: str | None = None,
    assignee: str | None = _UNSET,
) -> list[TriageOutcome]:
    """Set one status and/or assignee on many alerts (at most :data:`MAX_BULK`).

    Each alert is done on its own (in a savepoint): one that may not move, or may not be
    seen, is reported in its outcome and the others still change. Leave ``assignee``
    out to keep each alert's; pass None to unassign.
    """
    if status is None and assignee is _UNSET:
        raise InputError("give a status, an assignee or both", field="status")
    if not 1 <= len(alert_ids) <= MAX_BULK:
        raise InputError(f"give 1 to {MAX_BULK} alert ids", field="ids")
    if status is not None:
        _parse_status(status)
    outcomes: list[TriageOutcome] = []
    for alert_id in dict.fromkeys(alert_ids):
        try:
            with conn.begin_nested():
                if status is not None:
                    set_alert_status(conn, trail, actor, alert_id, status)
                if assignee is not _UNSET:
                    assign_alert(conn, trail, actor, alert_id, assignee)
        except SteppeError as exc:
            if isinstance(exc, InputError) and exc.field == "assignee":
                raise  # the same for every alert: say it once
            outcomes.append(TriageOutcome(alert_id, False, exc.message))
        else:
            outcomes.append(TriageOutcome(alert_id, True))
    return outcomes


def escalate_into(
    conn: Connection, trail: AuditTrail, actor: Actor, alert_id: str, incident_id: str
) -> None:
    """Note that the alert went into an incident; a new or acknowledged alert becomes
    escalated (for the incident package; the caller has checked the actor may write)."""
    row = _readable_row(conn, actor, alert_id)
    detail: dict[str, Any] = {"incident": incident_id}
    if row.status in (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED):
        conn.execute(
            alerts.update()
            .where(alerts.c.id == alert_id)
            .values(status=AlertStatus.ESCALATED.value, updated_at=timestamps.now())
        )
        detail.update({"from": row.status, "to": AlertStatus.ESCALATED.value})
    _record(conn, trail, actor, alert_id, "incident", detail)
