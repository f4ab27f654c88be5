"""``/telemetry``: what reaches the lake from each member — events a day, the last event,
what the lake holds — for the organisations the signed-in user may read
(:mod:`steppe.lake.overview`: their own; every member's for the center's staff, who also
see the lake's backlog and quarantine).

A member whose last event is old stands out: a sensor that stopped sending is the first
thing a monitoring center must notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from steppe.api.deps import services
from steppe.lake.overview import OrganisationTelemetry, TelemetryOverview, served_overview
from steppe.sharing import directory
from steppe.web.charts import SERIES_CLASSES, stacked_bars
from steppe.web.deps import PageSession, WebConn
from steppe.web.rendering import HtmlRoute, render

__all__ = ["SILENT_AFTER", "router"]

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)

#: An organisation whose last event is older than this is flagged as silent.
SILENT_AFTER = timedelta(hours=24)


@router.get("/telemetry")
def telemetry(
    request: Request,
    conn: WebConn,
    session: PageSession,
    days: int = Query(14, ge=1, le=90),
) -> Response:
    now = datetime.now(UTC)
    overview = served_overview(
        conn, services(request).settings, session.actor, today=now.date(), days=days
    )
    names = {org.id: org.name for org in directory.list_organisations(conn)}
    return render(request, "telemetry.html", session, **_context(overview, names, now, days))


@dataclass(frozen=True, slots=True)
class _Row:
    name: str
    css: str  # its colour in the chart
    org: OrganisationTelemetry
    age: str  # of its last event, in words
    silent: bool
    size: str  # of what the lake holds, in words


def _context(
    overview: TelemetryOverview, names: dict[int, str], now: datetime, days: int
) -> dict[str, Any]:
    rows: list[_Row] = []
    for org in sorted(overview.organisations, key=lambda o: names.get(o.organisation, "")):
        age = None if org.last_event is None else now - org.last_event
        rows.append(
            _Row(
                name=names.get(org.organisation, f"#{org.organisation}"),
                css=SERIES_CLASSES[len(rows) % len(SERIES_CLASSES)],
                org=org,
                age=_age(age),
                silent=age is None or age > SILENT_AFTER,
                size=_size(org.bytes),
            )
        )
    series = [
        (day.isoformat(), {row.name: row.org.per_day[index] for row in rows})
        for index, day in enumerate(overview.days)
    ]
    return {
        "days": days,
        "rows": rows,
        "total": sum(row.org.events for row in rows),
        "health": overview.health,
        "chart_svg": stacked_bars(
            series,
            [row.name for row in rows],
            f"Events per day over the last {days} days, by organisation",
            classes={row.name: row.css for row in rows},
        ),
    }


def _size(count: int) -> str:
    """Bytes in the largest unit that keeps a figure before the point: "950 B", "12 KB",
    "3.4 MB", "1.2 GB"."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            value = count / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{count} B"


def _age(age: timedelta | None) -> str:
    """How long ago, in the largest whole unit: "3 min", "5 h", "2 days"."""
    if age is None:
        return "never"
    seconds = int(age.total_seconds())
    if seconds < 0:
        return "in the future (a sensor clock ahead?)"
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172_800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
