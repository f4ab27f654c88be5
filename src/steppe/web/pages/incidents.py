"""``/incidents``: the incident board (a column per status); ``/incidents/{id}``: one
incident — participants, tasks, timeline, comments and evidence — and the forms that
move it along.

Everything reads through :mod:`steppe.response.incidents` (the policy's
``can_see_incident`` and each evidence item's own rights): a participant sees the
incident, and of its evidence only what it may see on its own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from steppe.response.incidents import add_participant, set_status
from steppe.response.incidents.evidence import add_intel, add_note, list_evidence
from steppe.response.incidents.model import STATUS_TRANSITIONS, IncidentStatus
from steppe.response.incidents.queries import get_incident, list_comments, list_incidents, timeline
from steppe.response.incidents.store import add_comment, open_incident
from steppe.response.incidents.tasks import add_task, list_tasks, update_task
from steppe.response.incidents.templates import templates_by_name
from steppe.sharing import directory
from steppe.sharing.model import Distribution, OrgKind, Role, TlpLevel, parse_tlp
from steppe.web.deps import PageSession, WebConn, check_csrf, services, web_trail
from steppe.web.rendering import HtmlRoute, render
from steppe.web.sessions import WebSession

__all__ = ["router"]

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)

CsrfSession = Annotated[WebSession, Depends(check_csrf)]
_WRITERS = frozenset({Role.ANALYST, Role.COORDINATOR, Role.ORG_ADMIN, Role.ADMIN})
_SEVERITIES = ("low", "medium", "high", "critical")


@router.get("/incidents")
def incident_board(
    request: Request,
    conn: WebConn,
    session: PageSession,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    actor = session.actor
    page = list_incidents(conn, actor, search=q or None, limit=500)
    columns = {s.value: [i for i in page.items if i.status == s.value] for s in IncidentStatus}
    svc = services(request)
    return render(
        request,
        "incidents.html",
        session,
        columns=columns,
        total=page.total,
        q=q,
        may_write=bool(actor.roles & _WRITERS),
        severities=_SEVERITIES,
        tlps=[t.value for t in TlpLevel],
        templates=sorted(templates_by_name(svc.settings.incident_templates_file)),
    )


@router.post("/incidents")
def incident_open(
    request: Request,
    session: CsrfSession,
    title: Annotated[str, Form(min_length=1, max_length=300)],
    severity: Annotated[str, Form(max_length=20)] = "medium",
    tlp: Annotated[str, Form(max_length=20)] = "amber",
    template: Annotated[str, Form(max_length=100)] = "",
    description: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    svc = services(request)
    actor = session.actor
    with svc.engine.begin() as conn:
        incident_id = open_incident(
            conn,
            web_trail(request, actor),
            actor,
            title=title,
            severity=severity,
            tlp=parse_tlp(tlp, "tlp"),
            description=description,
            template=template or None,
            coordinated=Role.COORDINATOR in actor.roles,
            templates=templates_by_name(svc.settings.incident_templates_file),
        )
    return RedirectResponse(f"/incidents/{incident_id}?done=opened", status_code=303)


@router.get("/incidents/{incident_id}")
def incident_detail(
    request: Request, conn: WebConn, session: PageSession, incident_id: str, done: str = ""
) -> Response:
    actor = session.actor
    incident = get_incident(conn, actor, incident_id)
    organisations = [
        o
        for o in directory.list_organisations(conn)
        if o.kind is not OrgKind.PEER
        and o.name not in incident.participants
        and o.id != incident.owner_org_id
    ]
    return render(
        request,
        "incident.html",
        session,
        incident=incident,
        tasks=list_tasks(conn, actor, incident_id),
        comments=list_comments(conn, actor, incident_id),
        evidence=list_evidence(conn, actor, incident_id),
        entries=timeline(conn, actor, incident_id),
        next_statuses=sorted(s.value for s in STATUS_TRANSITIONS[IncidentStatus(incident.status)]),
        organisations=organisations,
        may_write=bool(actor.roles & _WRITERS),
        may_invite=bool(actor.roles & _WRITERS)
        and (incident.owner_org_id == actor.org_id or actor.org_kind is OrgKind.COORDINATOR),
        distributions=[d.value for d in Distribution],
        tlps=[t.value for t in TlpLevel],
        done=done,
    )


def _back(incident_id: str, note: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/incidents/{incident_id}?done={note}{anchor}", status_code=303)


@router.post("/incidents/{incident_id}/status")
def incident_status(
    request: Request,
    session: CsrfSession,
    incident_id: str,
    status: Annotated[str, Form(max_length=20)],
) -> Response:
    with services(request).engine.begin() as conn:
        set_status(conn, web_trail(request, session.actor), session.actor, incident_id, status)
    return _back(incident_id, f"now+{status}")


@router.post("/incidents/{incident_id}/participants")
def incident_participant(
    request: Request,
    session: CsrfSession,
    incident_id: str,
    organisation: Annotated[str, Form(min_length=1, max_length=200)],
) -> Response:
    with services(request).engine.begin() as conn:
        org = directory.find_organisation(conn, organisation)
        add_participant(conn, web_trail(request, session.actor), session.actor, incident_id, org.id)
    return _back(incident_id, f"{org.name}+takes+part", "#participants")


@router.post("/incidents/{incident_id}/tasks")
def incident_task(
    request: Request,
    session: CsrfSession,
    incident_id: str,
    title: Annotated[str, Form(min_length=1, max_length=300)],
    assignee_org: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    with services(request).engine.begin() as conn:
        add_task(
            conn,
            web_trail(request, session.actor),
            session.actor,
            incident_id,
            title=title,
            assignee_org=assignee_org or None,
        )
    return _back(incident_id, "task+added", "#tasks")


@router.post("/incidents/{incident_id}/tasks/{task_id}")
def incident_task_status(
    request: Request,
    session: CsrfSession,
    incident_id: str,
    task_id: int,
    status: Annotated[str, Form(max_length=20)],
) -> Response:
    with services(request).engine.begin() as conn:
        update_task(
            conn,
            web_trail(request, session.actor),
            session.actor,
            incident_id,
            task_id,
            status=status,
        )
    return _back(incident_id, f"task+{task_id}+{status}", "#tasks")


@router.post("/incidents/{incident_id}/comments")
def incident_comment(
    request: Request,
    session: CsrfSession,
    incident_id: str,
    text: Annotated[str, Form(max_length=20_000)],
) -> Response:
    with services(request).engine.begin() as conn:
        add_comment(conn, web_trail(request, session.actor), session.actor, incident_id, text)
    return _back(incident_id, "comment+added", "#comments")


@router.post("/incidents/{incident_id}/evidence")
def incident_evidence(
    request: Request,
    session: CsrfSession,
    incident_id: str,
    title: Annotated[str, Form(max_length=300)] = "",
    body: Annotated[str, Form(max_length=100_000)] = "",
    stix_id: Annotated[str, Form(max_length=300)] = "",
    distribution: Annotated[Distribution, Form()] = Distribution.ORGANISATION,
    tlp: Annotated[str, Form(max_length=20)] = "amber",
    groups: Annotated[list[str] | None, Form()] = None,
) -> Response:
    actor = session.actor
    with services(request).engine.begin() as conn:
        trail = web_trail(request, actor)
        if stix_id.strip():
            add_intel(conn, trail, actor, incident_id, stix_id.strip())
        else:
            add_note(
                conn,
                trail,
                actor,
                incident_id,
                title=title,
                body=body,
                distribution=distribution,
                tlp=parse_tlp(tlp, "tlp"),
                groups=groups or (),
            )
    return _back(incident_id, "evidence+added", "#evidence")
