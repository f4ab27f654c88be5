"""Reading alerts, only through the policy.

An alert is part of its organisation's telemetry: a reader sees it when
:func:`steppe.sharing.policy.can_read_telemetry` allows reading that organisation's
telemetry (its own users; the center's coordinators). It names its indicator (stix id
and the value that matched) only if the reader may see that indicator now
(:func:`steppe.sharing.policy.visible_filter`, the SQL twin of ``can_see``) — a member
whose group membership ended keeps its alert but no longer learns the indicator.

    >>> page = list_alerts(conn, actor, severity="high", limit=20)    # doctest: +SKIP
    >>> get_alert(conn, actor, page.items[0].id).event["dns.question.name"]  # doctest: +SKIP
    'c2.evil.example'
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Select, func, select

from steppe.alerts.model import SEVERITIES, AlertStatus, AlertView
from steppe.errors import InputError, NotFound
from steppe.sharing.model import Actor
from steppe.sharing.policy import can_read_telemetry, require_reader, visible_filter
from steppe.storage.schema import alerts, intel_objects, organisations, users

__all__ = [
    "AlertPage",
    "get_alert",
    "list_alerts",
    "readable_organisations",
    "resolve_alert_id",
    "visible_indicator_pks",
]

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class AlertPage:
    items: list[AlertView]
    total: int


def readable_organisations(conn: Connection, actor: Actor) -> list[int]:
    """Organisations whose alerts ``actor`` may read (decided by the policy, per org)."""
    org_ids = conn.scalars(select(organisations.c.id).order_by(organisations.c.id))
    return [o for o in org_ids if can_read_telemetry(actor, o)]


def _base(conn: Connection, actor: Actor) -> Select[Any]:
    require_reader(actor)
    return (
        select(
            alerts,
            organisations.c.name.label("organisation"),
            users.c.name.label("assignee_name"),
        )
        .select_from(
            alerts.join(organisations, organisations.c.id == alerts.c.org_id).outerjoin(
                users, users.c.id == alerts.c.assignee_id
            )
        )
        .where(alerts.c.org_id.in_(readable_organisations(conn, actor)))
    )


def list_alerts(
    conn: Connection,
    actor: Actor,
    *,
    organisation: int | None = None,
    severity: str | None = None,
    kind: str | None = None,
    since: str | None = None,
    search: str | None = None,
    status: str | Collection[str] | None = None,
    assignee: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> AlertPage:
    """Alerts ``actor`` may read, newest first, without their evidence.

    ``status`` is one status or several (the triage queue: new and acknowledged).
    ``search`` finds the text in the observed value or, where the reader may see the
    indicator, in the matched value or indicator id.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
    if offset < 0:
        raise InputError(f"must not be negative, got {offset}", field="offset")
    if severity is not None and severity not in SEVERITIES:
        raise InputError(f"must be one of {', '.join(SEVERITIES)}", field="severity")
    statuses = [status] if isinstance(status, str) else list(status or ())
    if any(one not in set(AlertStatus) for one in statuses):
        raise InputError(f"must be one of {', '.join(AlertStatus)}", field="status")
    query = _base(conn, actor)
    if statuses:
        query = query.where(alerts.c.status.in_(statuses))
    if assignee is not None:
        query = query.where(users.c.name == assignee)
    if organisation is not None:
        query = query.where(alerts.c.org_id == organisation)
    if severity is not None:
        query = query.where(alerts.c.severity == severity)
    if kind is not None:
        query = query.where(alerts.c.kind == kind)
    if since is not None:
        query = query.where(alerts.c.last_seen >= since)
    query = query.order_by(alerts.c.last_seen.desc(), alerts.c.id)
    if not search:
        total = conn.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = conn.execute(query.limit(limit).offset(offset)).all()
        named = visible_indicator_pks(conn, actor, {r.indicator_pk for r in rows})
        return AlertPage([_view(r, named, evidence=False) for r in rows], total)
    # The matched value and indicator may be searched only where the reader may see
    # them, which SQL alone cannot tell here: filter the views.
    rows = conn.execute(query).all()
    named = visible_indicator_pks(conn, actor, {r.indicator_pk for r in rows})
    needle = search.lower()
    views = [v for v in (_view(r, named, evidence=False) for r in rows) if _mentions(v, needle)]
    return AlertPage(views[offset : offset + limit], len(views))


def _mentions(view: AlertView, needle: str) -> bool:
    texts = (view.observed, view.matched, view.indicator, view.rule_id, view.title)
    return any(t is not None and needle in t.lower() for t in texts)


def get_alert(conn: Connection, actor: Actor, alert_id: str) -> AlertView:
    """One alert with its evidence; NotFound when absent or not readable (same error)."""
    row = conn.execute(_base(conn, actor).where(alerts.c.id == alert_id)).one_or_none()
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    return _view(row, visible_indicator_pks(conn, actor, {row.indicator_pk}), evidence=True)


def resolve_alert_id(conn: Connection, actor: Actor, prefix: str) -> str:
    """The full id of the one readable alert whose id starts with ``prefix`` (listings
    show 12 characters); ``prefix`` itself when none or several do."""
    if len(prefix) >= 64:
        return prefix
    found = conn.scalars(
        select(alerts.c.id)
        .where(
            alerts.c.id.startswith(prefix, autoescape=True),
            alerts.c.org_id.in_(readable_organisations(conn, actor)),
        )
        .limit(2)
    ).all()
    return str(found[0]) if len(found) == 1 else prefix


def visible_indicator_pks(conn: Connection, actor: Actor, pks: set[int | None]) -> set[int]:
    """Of the indicator ``pks`` (None ignored), those ``actor`` may see now."""
    wanted = sorted(pk for pk in pks if pk is not None)
    found: set[int] = set()
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        found.update(
            conn.scalars(
                select(intel_objects.c.pk).where(
                    intel_objects.c.pk.in_(chunk), visible_filter(actor, intel_objects)
                )
            )
        )
    return found


def _view(row: Any, named: set[int], *, evidence: bool) -> AlertView:
    shown = row.indicator_pk is not None and row.indicator_pk in named
    return AlertView(
        id=row.id,
        kind=row.kind,
        organisation=row.organisation,
        org_id=row.org_id,
        title=row.title,
        severity=row.severity,
        status=row.status,
        field=row.field,
        observed=row.observed,
        matched=row.matched if shown else None,
        match_type=row.match_type,
        indicator=row.indicator_stix_id if shown else None,
        rule_id=row.rule_id,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        count=row.count,
        created_at=row.created_at,
        host=row.host,
        assignee=row.assignee_name,
        updated_at=row.updated_at,
        event=orjson.loads(row.event) if evidence else None,
    )
