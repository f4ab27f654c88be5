"""/alerts: detections on members' telemetry, as the caller may see them.

An alert is readable by its organisation's users and by the center's coordinators
(:func:`steppe.sharing.policy.can_read_telemetry`); it names its indicator only if the
caller may see that indicator. An alert the caller may not read answers 404, exactly
like one that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from steppe.alerts.model import AlertView
from steppe.alerts.queries import get_alert, list_alerts
from steppe.api.deps import ActorDep, ConnDep
from steppe.errors import InputError
from steppe.sharing.policy import require_reader
from steppe.storage import timestamps

__all__ = ["router"]

router = APIRouter(prefix="/alerts", tags=["alerts"])

Severity = Literal["low", "medium", "high", "critical"]


class AlertOut(BaseModel):
    id: str
    kind: str
    organisation: str
    org_id: int
    title: str
    severity: str
    status: str
    field: str | None
    observed: str | None
    matched: str | None  # the indicator value hit; null when the caller may not see it
    match_type: str | None
    indicator: str | None  # stix id; null when the caller may not see the indicator
    rule_id: str | None
    first_seen: str
    last_seen: str
    count: int  # events folded into the alert
    created_at: str
    host: str | None = None  # what aggregation grouped on (host.name, else source.ip)
    assignee: str | None = None  # user name
    updated_at: str | None = None  # last triage change
    event: dict[str, Any] | None = None  # the first event, as evidence


class AlertPageOut(BaseModel):
    items: list[AlertOut]
    total: int


def _ts(moment: datetime | None, field: str) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InputError("needs a time zone (e.g. 2026-01-01T00:00:00Z)", field=field)
    try:
        return timestamps.format_ts(moment)
    except OverflowError:
        raise InputError("is out of range", field=field) from None


def _out(view: AlertView) -> AlertOut:
    return AlertOut(**view.as_json())


@router.get("", response_model=AlertPageOut, summary="Alerts the caller may see, newest first")
def search_alerts(
    conn: ConnDep,
    actor: ActorDep,
    severity: Annotated[Severity | None, Query()] = None,
    kind: Annotated[Literal["ioc", "sigma"] | None, Query()] = None,
    status: Annotated[
        Literal["new", "acknowledged", "false-positive", "escalated", "closed"] | None, Query()
    ] = None,
    assignee: Annotated[str | None, Query(max_length=200, description="User name")] = None,
    organisation: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    since: Annotated[datetime | None, Query(description="Last seen at or after")] = None,
    q: Annotated[
        str | None, Query(max_length=500, description="Text in the value or indicator")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AlertPageOut:
    require_reader(actor)
    page = list_alerts(
        conn,
        actor,
        organisation=organisation,
        severity=severity,
        kind=kind,
        status=status,
        assignee=assignee,
        since=_ts(since, "since"),
        search=q,
        limit=limit,
        offset=offset,
    )
    return AlertPageOut(items=[_out(v) for v in page.items], total=page.total)


@router.get(
    "/{alert_id}",
    response_model=AlertOut,
    summary="One alert with its evidence (404 when not visible)",
)
def read_alert(
    conn: ConnDep,
    actor: ActorDep,
    alert_id: Annotated[str, Path(max_length=64)],
) -> AlertOut:
    require_reader(actor)
    return _out(get_alert(conn, actor, alert_id))
