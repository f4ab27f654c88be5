"""``/sharing`` (groups, members, hidden rosters), ``/feeds`` (their health) and
``/audit`` (the hash-chained log, for instance admins).

Groups are shown as :func:`steppe.sharing.directory.groups_visible_to` decides — a
hidden roster stays hidden from members — and changed under the same rules as the API
(:func:`~steppe.sharing.directory.check_may_create_group`,
:func:`~steppe.sharing.directory.check_may_manage_group`). A feed's URL and last error
show only to those who manage it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from steppe.audit import log
from steppe.errors import Forbidden
from steppe.ingest.feeds.fetch import limits_from
from steppe.ingest.feeds.pull import pull_feed
from steppe.intel.config import IntelConfig
from steppe.intel.feeds import can_manage, find_feed, list_feeds, require_manager
from steppe.sharing import directory
from steppe.sharing.model import OrgKind, Role
from steppe.web.deps import PageSession, WebConn, check_csrf, services, web_trail
from steppe.web.rendering import HtmlRoute, render
from steppe.web.sessions import WebSession

__all__ = ["router"]

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)

CsrfSession = Annotated[WebSession, Depends(check_csrf)]


@router.get("/sharing")
def sharing(request: Request, conn: WebConn, session: PageSession, done: str = "") -> Response:
    actor = session.actor
    groups = directory.groups_visible_to(conn, actor)
    manageable = set()
    for view in groups:
        try:
            directory.check_may_manage_group(actor, directory.find_group(conn, view.name))
        except Forbidden:
            continue
        manageable.add(view.name)
    may_create = bool(actor.roles & {Role.ADMIN, Role.COORDINATOR, Role.ORG_ADMIN})
    organisations = [o for o in directory.list_organisations(conn) if o.kind is not OrgKind.PEER]
    return render(
        request,
        "sharing.html",
        session,
        groups=groups,
        manageable=manageable,
        may_create=may_create,
        organisations=organisations,
        own_org=directory.get_organisation(conn, actor.org_id),
        staff=bool(actor.roles & {Role.ADMIN, Role.COORDINATOR}),
        done=done,
    )


@router.post("/sharing/groups")
def sharing_add_group(
    request: Request,
    session: CsrfSession,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    description: Annotated[str, Form(max_length=500)] = "",
    owner: Annotated[str, Form(max_length=200)] = "",
    hidden_roster: Annotated[bool, Form()] = False,
) -> Response:
    actor = session.actor
    with services(request).engine.begin() as conn:
        trail = web_trail(request, actor)
        org = (
            directory.find_organisation(conn, owner)
            if owner
            else directory.get_organisation(conn, actor.org_id)
        )
        directory.check_may_create_group(actor, org.id)
        group = directory.add_group(
            conn, trail, name, org, hidden_roster=hidden_roster, description=description
        )
        directory.add_group_member(conn, trail, group, org)
    return RedirectResponse(f"/sharing?done=created+{group.name}", status_code=303)


@router.post("/sharing/groups/{name}/members")
def sharing_add_member(
    request: Request,
    session: CsrfSession,
    name: str,
    organisation: Annotated[str, Form(min_length=1, max_length=200)],
) -> Response:
    actor = session.actor
    with services(request).engine.begin() as conn:
        group = directory.visible_group(conn, actor, name)
        directory.check_may_manage_group(actor, group)
        org = directory.find_organisation(conn, organisation)
        directory.add_group_member(conn, web_trail(request, actor), group, org)
    return RedirectResponse(f"/sharing?done=added+{org.name}+to+{group.name}", status_code=303)


@router.get("/feeds")
def feeds(request: Request, conn: WebConn, session: PageSession, done: str = "") -> Response:
    actor = session.actor
    shown = list_feeds(conn, actor)
    return render(
        request,
        "feeds.html",
        session,
        feeds=shown,
        managed={f.name for f in shown if can_manage(actor, f)},
        done=done,
    )


@router.post("/feeds/{name}/pull")
def feeds_pull(request: Request, session: CsrfSession, name: str) -> Response:
    svc = services(request)
    with svc.engine.connect() as conn:
        feed = find_feed(conn, name, session.actor)
    require_manager(session.actor, feed.owner_org_id)
    result = pull_feed(
        svc.engine,
        web_trail(request, session.actor),
        feed.name,
        limits=limits_from(svc.settings),
        config=IntelConfig.from_settings(svc.settings),
    )
    return RedirectResponse(f"/feeds?done=pulled+{feed.name}:+{result.status}", status_code=303)


@router.get("/audit")
def audit(
    request: Request,
    conn: WebConn,
    session: PageSession,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    verify: bool = False,
) -> Response:
    if Role.ADMIN not in session.actor.roles:
        raise Forbidden("the audit log is for instance admins")
    report = log.verify(conn, services(request).secret_key) if verify else None
    return render(
        request, "audit.html", session, entries=log.recent(conn, limit), report=report, limit=limit
    )
