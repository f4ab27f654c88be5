"""``/intel``: search the intel the user may see; ``/intel/{id}``: one object with its
marking, sources, correlations, sightings and ATT&CK techniques; its owner re-marks it
(shares it with a group) from there.

Every figure on these pages comes from the same queries as the API, which filter
through the sharing policy: an object the user may not see is "not found", exactly as
one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from steppe.errors import InputError, InvalidObservable
from steppe.intel.attack import technique_of_tag
from steppe.intel.config import IntelConfig
from steppe.intel.correlation import related
from steppe.intel.provenance import sources_of_objects
from steppe.intel.queries import get_stored, list_objects
from steppe.intel.remark import groups_of_object, share_object
from steppe.intel.sightings import list_sightings, scores_for
from steppe.sharing import directory
from steppe.sharing.model import Distribution, TlpLevel, parse_tlp
from steppe.web.deps import PageSession, WebConn, check_csrf, services, web_trail
from steppe.web.rendering import HtmlRoute, render
from steppe.web.sessions import WebSession

__all__ = ["router"]

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)

_PAGE = 50
_STIX_TYPES = ("indicator", "malware", "threat-actor", "campaign", "attack-pattern", "report")


@router.get("/intel")
def intel_search(
    request: Request,
    conn: WebConn,
    session: PageSession,
    q: Annotated[str, Query(max_length=2000)] = "",
    type: Annotated[str, Query(max_length=50)] = "",
) -> Response:
    value = q.strip()
    error = None
    objects: list[Any] = []
    try:
        objects = list_objects(
            conn,
            session.actor,
            value=value or None,
            stix_type=type or None,
            limit=_PAGE,
        )
    except (InvalidObservable, InputError) as exc:
        error = exc.message
    scores = scores_for(conn, [o.pk for o in objects])
    return render(
        request,
        "intel.html",
        session,
        q=value,
        type=type,
        types=_STIX_TYPES,
        objects=objects,
        scores=scores,
        error=error,
        limit=_PAGE,
    )


def _labels(body: dict[str, Any]) -> tuple[list[str], list[Any]]:
    labels = [str(label) for label in body.get("labels") or ()]
    techniques = [t for t in (technique_of_tag(label) for label in labels) if t is not None]
    return labels, techniques


@router.get("/intel/{stix_id}")
def intel_object(
    request: Request, conn: WebConn, session: PageSession, stix_id: str, shared: str = ""
) -> Response:
    actor = session.actor
    stored = get_stored(conn, actor, stix_id)
    labels, techniques = _labels(stored.body)
    groups = [g for g in directory.groups_visible_to(conn, actor) if g.actor_is_member]
    own_org = directory.get_organisation(conn, actor.org_id).name
    return render(
        request,
        "intel_object.html",
        session,
        obj=stored,
        score=scores_for(conn, [stored.pk]).get(stored.pk),
        sources=sources_of_objects(conn, actor, [stored.pk])[stored.pk],
        related=related(conn, actor, stix_id, limit=50),
        sightings=list_sightings(conn, actor, stix_id),
        labels=labels,
        techniques=techniques,
        is_owner=stored.owner == own_org,
        groups=groups,
        shared_with=groups_of_object(conn, stored.pk),
        distributions=[d.value for d in Distribution],
        tlps=[t.value for t in TlpLevel],
        shared=shared,
    )


@router.post("/intel/{stix_id}/share")
def intel_share(
    request: Request,
    session: Annotated[WebSession, Depends(check_csrf)],
    stix_id: str,
    distribution: Annotated[Distribution, Form()],
    tlp: Annotated[str, Form(max_length=20)],
    groups: Annotated[list[str] | None, Form()] = None,
) -> Response:
    level = parse_tlp(tlp, "tlp")
    svc = services(request)
    with svc.engine.begin() as conn:
        share_object(
            conn,
            web_trail(request, session.actor),
            session.actor,
            stix_id,
            distribution=distribution,
            tlp=level,
            groups=groups or (),
            config=IntelConfig.from_settings(svc.settings),
        )
    return RedirectResponse(f"/intel/{stix_id}?shared=1", status_code=303)
