"""``/alerts``: the triage queue (filters, bulk status and assignee, open an incident from
the chosen alerts); ``/alerts/{id}``: one alert with its evidence, comments and history.

Reads and writes go through :mod:`steppe.alerts.queries` and :mod:`steppe.alerts.triage`,
the same as the API: an alert the user may not read is not found, an indicator it may
not see is not named, and a reader may look but not change.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from steppe.alerts.model import SEVERITIES, AlertStatus
from steppe.alerts.queries import get_alert, list_alerts
from steppe.alerts.triage import (
    alert_history,
    comment_alert,
    list_alert_comments,
    set_alert_status,
    triage_alerts,
)
from steppe.errors import InputError
from steppe.response.incidents import open_incident
from steppe.response.incidents.templates import templates_by_name
from steppe.sharing import directory
from steppe.sharing.model import OrgKind, Role, TlpLevel
from steppe.web.deps import PageSession, WebConn, check_csrf, services, web_trail
from steppe.web.rendering import HtmlRoute, render
from steppe.web.sessions import WebSession

__all__ = ["router"]

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)

CsrfSession = Annotated[WebSession, Depends(check_csrf)]
_PAGE = 50
_WRITERS = frozenset({Role.ANALYST, Role.COORDINATOR, Role.ORG_ADMIN, Role.ADMIN})
_STATUSES = tuple(s.value for s in AlertStatus)


@router.get("/alerts")
def alerts_queue(
    request: Request,
    conn: WebConn,
    session: PageSession,
    status: Annotated[str, Query(max_length=20)] = "open",
    severity: Annotated[str, Query(max_length=20)] = "",
    organisation: Annotated[int | None, Query(ge=1)] = None,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    done: str = "",
) -> Response:
    actor = session.actor
    # "open" is the queue: what still needs a person (new and acknowledged).
    wanted = ["new", "acknowledged"] if status == "open" else [status] if status else []
    found = list_alerts(
        conn,
        actor,
        status=wanted,
        severity=severity or None,
        organisation=organisation,
        search=q or None,
        limit=_PAGE,
        offset=(page - 1) * _PAGE,
    )
    shown, total = found.items, found.total
    organisations = [o for o in directory.list_organisations(conn) if o.kind is OrgKind.MEMBER]
    return render(
        request,
        "alerts.html",
        session,
        alerts=shown,
        total=total,
        page=page,
        pages=max(1, -(-total // _PAGE)),
        status_filter=status,
        severity=severity,
        organisation=organisation,
        q=q,
        statuses=_STATUSES,
        severities=SEVERITIES,
        organisations=organisations,
        may_write=bool(actor.roles & _WRITERS),
        done=done,
    )


@router.post("/alerts/triage")
async def alerts_bulk(request: Request, session: CsrfSession) -> Response:
    form = await request.form()
    ids = [str(v) for v in form.getlist("ids")]
    action = str(form.get("action") or "")
    if not ids:
        raise InputError("choose at least one alert", field="ids")
    svc = services(request)
    actor = session.actor
    if action == "incident":
        title = str(form.get("title") or "").strip() or f"{len(ids)} alerts"
        with svc.engine.begin() as conn:
            incident_id = open_incident(
                conn,
                web_trail(request, actor),
                actor,
                title=title,
                severity=str(form.get("severity") or "medium"),
                tlp=TlpLevel.AMBER,
                alert_ids=ids,
                coordinated=Role.COORDINATOR in actor.roles,
                templates=templates_by_name(svc.settings.incident_templates_file),
            )
        return RedirectResponse(f"/incidents/{incident_id}?done=opened", status_code=303)
    if action not in _STATUSES and action != "assign":
        raise InputError(f"unknown action {action!r}", field="action")
    with svc.engine.begin() as conn:
        trail = web_trail(request, actor)
        if action == "assign":
            assignee = str(form.get("assignee") or "").strip() or None
            outcomes = triage_alerts(conn, trail, actor, ids, assignee=assignee)
        else:
            outcomes = triage_alerts(conn, trail, actor, ids, status=action)
    changed = sum(o.changed for o in outcomes)
    refused = [o for o in outcomes if not o.changed]
    note = f"{changed} alert{'s' if changed != 1 else ''} changed"
    if refused:
        note += f"; {len(refused)} not: {refused[0].error}"
    return RedirectResponse(f"/alerts?done={note}", status_code=303)


@router.get("/alerts/{alert_id}")
def alert_detail(
    request: Request, conn: WebConn, session: PageSession, alert_id: str, done: str = ""
) -> Response:
    actor = session.actor
    alert = get_alert(conn, actor, alert_id)
    return render(
        request,
        "alert.html",
        session,
        alert=alert,
        evidence=orjson.dumps(
            alert.event, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        ).decode(),
        comments=list_alert_comments(conn, actor, alert_id),
        history=alert_history(conn, actor, alert_id),
        statuses=_STATUSES,
        may_write=bool(actor.roles & _WRITERS),
        done=done,
    )


@router.post("/alerts/{alert_id}/status")
def alert_status(
    request: Request,
    session: CsrfSession,
    alert_id: str,
    status: Annotated[str, Form(max_length=20)],
) -> Response:
    with services(request).engine.begin() as conn:
        set_alert_status(conn, web_trail(request, session.actor), session.actor, alert_id, status)
    return RedirectResponse(f"/alerts/{alert_id}?done=now+{status}", status_code=303)


@router.post("/alerts/{alert_id}/comments")
def alert_comment(
    request: Request,
    session: CsrfSession,
    alert_id: str,
    text: Annotated[str, Form(max_length=10_000)],
) -> Response:
    with services(request).engine.begin() as conn:
        comment_alert(conn, web_trail(request, session.actor), session.actor, alert_id, text)
    return RedirectResponse(f"/alerts/{alert_id}?done=comment+added#comments", status_code=303)
