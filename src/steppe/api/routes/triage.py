"""/alerts triage: status, assignee, comments, history, bulk changes.

Who may: the users who may read the alert (its organisation's, the center's staff) and
hold an acting role (analyst, coordinator, org-admin, admin). An alert the caller may
not read answers 404, exactly like one that does not exist; a reader gets 403; a move
the state machine does not allow gets 409.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from steppe.alerts import triage
from steppe.alerts.queries import get_alert
from steppe.api.deps import ActorDep, ConnDep, services, trail_for
from steppe.api.routes.alerts import AlertOut
from steppe.errors import InputError
from steppe.sharing.policy import require_reader
from steppe.storage.engine import writing

__all__ = ["router"]

router = APIRouter(prefix="/alerts", tags=["triage"])

Status = Literal["new", "acknowledged", "false-positive", "escalated", "closed"]
AlertId = Annotated[str, Path(max_length=64)]


class AlertPatch(BaseModel):
    status: Status | None = None
    assignee: str | None = Field(
        default=None, max_length=200, description="A user name; null takes the alert back"
    )


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=triage.MAX_COMMENT)


class AlertCommentOut(BaseModel):
    id: int
    alert_id: str
    author: str
    created_at: str
    text: str


class HistoryOut(BaseModel):
    at: str
    actor: str
    action: str
    detail: dict[str, Any]


class BulkTriageIn(BaseModel):
    ids: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1, max_length=triage.MAX_BULK
    )
    status: Status | None = None
    assignee: str | None = Field(default=None, max_length=200)


class OutcomeOut(BaseModel):
    id: str
    changed: bool
    error: str | None


class BulkTriageOut(BaseModel):
    changed: int
    outcomes: list[OutcomeOut]


@router.patch("/{alert_id}", response_model=AlertOut, summary="Triage one alert")
def patch_alert(request: Request, actor: ActorDep, alert_id: AlertId, body: AlertPatch) -> AlertOut:
    """Set the status and/or the assignee (send ``"assignee": null`` to unassign)."""
    require_reader(actor)
    given = body.model_fields_set
    if "status" not in given and "assignee" not in given:
        raise InputError("give a status, an assignee or both", field="body")
    trail = trail_for(request, actor)
    with writing(services(request).engine) as conn:
        if body.status is not None:
            triage.set_alert_status(conn, trail, actor, alert_id, body.status)
        elif "status" in given:
            raise InputError("must not be null", field="status")
        if "assignee" in given:
            triage.assign_alert(conn, trail, actor, alert_id, body.assignee)
        view = get_alert(conn, actor, alert_id)
    return AlertOut(**view.as_json())


@router.get(
    "/{alert_id}/comments", response_model=list[AlertCommentOut], summary="An alert's comments"
)
def read_comments(conn: ConnDep, actor: ActorDep, alert_id: AlertId) -> list[AlertCommentOut]:
    require_reader(actor)
    return [
        AlertCommentOut(**vars_of(c)) for c in triage.list_alert_comments(conn, actor, alert_id)
    ]


@router.post(
    "/{alert_id}/comments",
    status_code=201,
    response_model=AlertCommentOut,
    summary="Comment on an alert",
)
def add_comment(
    request: Request, actor: ActorDep, alert_id: AlertId, body: CommentIn
) -> AlertCommentOut:
    require_reader(actor)
    with writing(services(request).engine) as conn:
        comment = triage.comment_alert(conn, trail_for(request, actor), actor, alert_id, body.text)
    return AlertCommentOut(**vars_of(comment))


@router.get(
    "/{alert_id}/history",
    response_model=list[HistoryOut],
    summary="Every triage change of an alert",
)
def read_history(conn: ConnDep, actor: ActorDep, alert_id: AlertId) -> list[HistoryOut]:
    require_reader(actor)
    return [HistoryOut(**vars_of(h)) for h in triage.alert_history(conn, actor, alert_id)]


@router.post("/triage", response_model=BulkTriageOut, summary="Triage many alerts at once")
def bulk_triage(request: Request, actor: ActorDep, body: BulkTriageIn) -> BulkTriageOut:
    """One status and/or assignee for many alerts; each is reported (an alert that may
    not move, or that the caller may not see, is left as it is and says why)."""
    require_reader(actor)
    kwargs: dict[str, Any] = {"status": body.status}
    if "assignee" in body.model_fields_set:
        kwargs["assignee"] = body.assignee
    with writing(services(request).engine) as conn:
        outcomes = triage.triage_alerts(conn, trail_for(request, actor), actor, body.ids, **kwargs)
    return BulkTriageOut(
        changed=sum(o.changed for o in outcomes),
        outcomes=[OutcomeOut(id=o.alert_id, changed=o.changed, error=o.error) for o in outcomes],
    )


def vars_of(value: Any) -> dict[str, Any]:
    """A slotted dataclass's fields as a dict."""
    return {name: getattr(value, name) for name in value.__slots__}
