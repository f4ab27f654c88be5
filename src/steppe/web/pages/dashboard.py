"""``/dashboard``: the region's situation — alerts over time and by member, the top
indicators and rules, open incidents, feed health — for what the signed-in user may read.

The live part refreshes itself every 30 s (``/dashboard/live``, a fragment) when
scripts run; without them the page is complete as served.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import Connection
from starlette.responses import Response

from steppe.alerts.model import SEVERITIES
from steppe.alerts.stats import situation
from steppe.intel.feeds import list_feeds
from steppe.response.incidents.queries import list_incidents
from steppe.sharing import directory
from steppe.sharing.model import Actor, OrgKind
from steppe.web.charts import stacked_bars
from steppe.web.deps import PageSession, WebConn
from steppe.web.regionmap import SHAPES_PATH, region_map, world_shapes
from steppe.web.rendering import HtmlRoute, render

__all__ = ["router"]

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)

_OPEN_INCIDENTS = ("open", "investigating", "contained")


def _context(conn: Connection, actor: Actor, days: int) -> dict[str, Any]:
    figures = situation(conn, actor, days=days)
    members = [
        o for o in directory.list_organisations(conn) if o.kind is OrgKind.MEMBER and o.country
    ]
    by_country = {m.country: m.alerts for m in figures.by_member if m.country}
    labels: dict[str, str] = {}
    links: dict[str, str] = {}
    for org in members:
        assert org.country is not None
        count = by_country.get(org.country)
        shown = (
            f"{count} alert{'s' if count != 1 else ''}"
            if count is not None
            else "no alerts you may read"
        )
        labels[org.country] = f"{org.name} ({org.country}): {shown}"
        if count:
            links[org.country] = f"/alerts?organisation={org.id}"
    feeds = list_feeds(conn, actor)
    incidents = [
        i for i in list_incidents(conn, actor, limit=200).items if i.status in _OPEN_INCIDENTS
    ]
    return {
        "incidents": incidents[:10],
        "incidents_open": len(incidents),
        "days": days,
        "figures": figures,
        "severities": SEVERITIES,
        "timeline_svg": stacked_bars(
            [(d.day, d.by_severity) for d in figures.per_day],
            SEVERITIES,
            f"Alerts per day over the last {days} days, by severity",
        ),
        "map_svg": region_map(by_country, labels, links=links),
        "feeds": feeds,
        "feeds_failing": [f for f in feeds if f.last_status == "error"],
    }


@router.get("/dashboard")
def dashboard(
    request: Request,
    conn: WebConn,
    session: PageSession,
    days: int = Query(14, ge=1, le=90),
) -> Response:
    return render(request, "dashboard.html", session, **_context(conn, session.actor, days))


@router.get("/dashboard/live")
def dashboard_live(
    request: Request,
    conn: WebConn,
    session: PageSession,
    days: int = Query(14, ge=1, le=90),
) -> Response:
    return render(request, "_dashboard_live.html", session, **_context(conn, session.actor, days))


@router.get(SHAPES_PATH)
def world_map_shapes() -> Response:
    """The countries' shapes every map ``<use>``s: public data from the
    ``pygal_maps_world`` wheel, the same for everyone, so no session is needed. The
    maps ask for it with the shapes' hash in the URL, so it may be cached for good."""
    return Response(
        world_shapes(),
        media_type="image/svg+xml",
        headers={"cache-control": "public, max-age=31536000, immutable"},
    )
