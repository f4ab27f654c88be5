"""/incidents: cases that may span members, as the caller may see them.

An incident is visible to the users of its owner and participant organisations and to
the center's staff (:func:`steppe.sharing.policy.can_see_incident`); anything else
answers 404, like an incident that does not exist. Changing it needs an acting role
(analyst, coordinator, org-admin, admin); only the owner and the center's staff add
participants. Evidence keeps its own rights: each caller gets only the items it may see.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection
from starlette.responses import Response

from steppe.api.deps import ActorDep, ConnDep, services, trail_for
from steppe.api.idempotency import request_fingerprint, run_idempotent
from steppe.errors import InputError, NotFound
from steppe.response.incidents import add_alerts, add_participant, open_incident
from steppe.response.incidents.evidence import MAX_NOTE, add_intel, add_note, list_evidence
from steppe.response.incidents.model import IncidentView
from steppe.response.incidents.queries import (
    get_incident,
    list_comments,
    list_incidents,
    timeline,
)
from steppe.response.incidents.store import MAX_COMMENT, add_comment, update_incident
from steppe.response.incidents.tasks import add_task, list_tasks, update_task
from steppe.response.incidents.templates import load_templates, templates_by_name
from steppe.sharing import directory
from steppe.sharing.model import Distribution, TlpLevel
from steppe.sharing.policy import require_reader
from steppe.storage.engine import writing

__all__ = ["router"]

router = APIRouter(prefix="/incidents", tags=["incidents"])

FingerprintDep = Annotated[str, Depends(request_fingerprint)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retry-safe key: a repeat is answered once"),
]
IncidentId = Annotated[str, Path(max_length=60, description="incident--<uuid>")]
Severity = Literal["low", "medium", "high", "critical"]
Status = Literal["open", "investigating", "contained", "resolved", "closed"]
Tlp = Literal["clear", "green", "amber", "amber+strict", "red"]
OrgName = Annotated[str, Field(min_length=1, max_length=200)]


class IncidentIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=100_000)
    severity: Severity = "medium"
    tlp: Tlp = "amber"
    coordinated: bool = False
    participants: list[OrgName] = Field(default=[], max_length=100)
    alert_ids: list[Annotated[str, Field(max_length=64)]] = Field(default=[], max_length=1000)
    template: str | None = Field(default=None, max_length=100)


class IncidentPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=100_000)
    severity: Severity | None = None
    tlp: Tlp | None = None
    coordinated: bool | None = None
    status: Status | None = None


class IncidentOut(BaseModel):
    id: str
    title: str
    description: str
    severity: str
    tlp: str
    status: str
    coordinated: bool
    owner: str
    owner_org_id: int
    participants: list[str]
    template: str | None
    created_by: str
    created_at: str
    updated_at: str
    open_tasks: int


class IncidentPageOut(BaseModel):
    items: list[IncidentOut]
    total: int


class ParticipantIn(BaseModel):
    organisation: OrgName


class TaskIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    assignee_org: str | None = Field(default=None, max_length=200)
    assignee: str | None = Field(default=None, max_length=200, description="A user name")
    due: str | None = Field(default=None, max_length=40, description="RFC 3339 time")


class TaskPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    status: Literal["open", "in-progress", "done", "cancelled"] | None = None
    assignee_org: str | None = Field(default=None, max_length=200)
    assignee: str | None = Field(default=None, max_length=200)
    due: str | None = Field(default=None, max_length=40)


class TaskOut(BaseModel):
    id: int
    incident_id: str
    title: str
    assignee_org: str | None
    assignee: str | None
    status: str
    due: str | None
    created_at: str
    updated_at: str


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_COMMENT)


class CommentOut(BaseModel):
    id: int
    incident_id: str
    author: str
    organisation: str
    created_at: str
    text: str


class EvidenceIn(BaseModel):
    """An alert (``alert_id``), an intel object (``stix_id``) or a note (``title``,
    ``body`` and its own marking)."""

    kind: Literal["alert", "intel", "note"]
    alert_id: str | None = Field(default=None, max_length=64)
    stix_id: str | None = Field(default=None, max_length=300)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    body: str = Field(default="", max_length=MAX_NOTE)
    distribution: Literal["organisation", "groups", "community"] = "organisation"
    tlp: Tlp = "amber"
    groups: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=50)


class EvidenceOut(BaseModel):
    id: int
    kind: str
    alert_id: str | None
    stix_id: str | None
    title: str
    body: str | None
    owner: str | None
    distribution: str | None
    tlp: str | None
    added_by: str
    added_at: str


class TimelineOut(BaseModel):
    id: int
    incident_id: str
    at: str
    kind: str
    actor: str
    detail: dict[str, Any]


class TemplateOut(BaseModel):
    name: str
    description: str
    tasks: list[str]


def _out(view: IncidentView) -> IncidentOut:
    return IncidentOut(**view.as_json())


def _org_id(conn: Connection, name: str, field: str) -> int:
    try:
        return directory.find_organisation(conn, name).id
    except NotFound:  # the body named it: bad input, not a missing resource
        raise InputError(f"no organisation named {name!r}", field=field) from None


@router.get("", response_model=IncidentPageOut, summary="Incidents the caller may see")
def search_incidents(
    conn: ConnDep,
    actor: ActorDep,
    status: Annotated[Status | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    coordinated: Annotated[bool | None, Query()] = None,
    organisation: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="Owned by or taking part")
    ] = None,
    q: Annotated[str | None, Query(max_length=300, description="Text in the title")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> IncidentPageOut:
    require_reader(actor)
    page = list_incidents(
        conn,
        actor,
        status=status,
        severity=severity,
        coordinated=coordinated,
        organisation=organisation,
        search=q,
        limit=limit,
        offset=offset,
    )
    return IncidentPageOut(items=[_out(v) for v in page.items], total=page.total)


@router.post("", status_code=201, response_model=IncidentOut, summary="Open an incident")
def create_incident(
    request: Request,
    actor: ActorDep,
    body: IncidentIn,
    fingerprint: FingerprintDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Open an incident owned by the caller's organisation, from alerts or by hand."""
    require_reader(actor)
    settings = services(request).settings

    def action(conn: Connection) -> tuple[int, Any]:
        participants = [_org_id(conn, n, "participants") for n in body.participants]
        incident_id = open_incident(
            conn,
            trail_for(request, actor),
            actor,
            title=body.title,
            severity=body.severity,
            tlp=TlpLevel(body.tlp),
            participants=participants,
            alert_ids=body.alert_ids,
            description=body.description,
            template=body.template,
            coordinated=body.coordinated,
            templates=templates_by_name(settings.incident_templates_file),
        )
        return 201, _out(get_incident(conn, actor, incident_id)).model_dump()

    return run_idempotent(services(request).engine, actor, idempotency_key, fingerprint, action)


@router.get("/templates", response_model=list[TemplateOut], summary="Task templates")
def read_templates(request: Request, actor: ActorDep) -> list[TemplateOut]:
    require_reader(actor)
    found = load_templates(services(request).settings.incident_templates_file)
    return [TemplateOut(name=t.name, description=t.description, tasks=list(t.tasks)) for t in found]


@router.get("/{incident_id}", response_model=IncidentOut, summary="One incident")
def read_incident(conn: ConnDep, actor: ActorDep, incident_id: IncidentId) -> IncidentOut:
    require_reader(actor)
    return _out(get_incident(conn, actor, incident_id))


@router.patch("/{incident_id}", response_model=IncidentOut, summary="Change an incident")
def patch_incident(
    request: Request, actor: ActorDep, incident_id: IncidentId, body: IncidentPatch
) -> IncidentOut:
    require_reader(actor)
    with writing(services(request).engine) as conn:
        update_incident(
            conn,
            trail_for(request, actor),
            actor,
            incident_id,
            title=body.title,
            description=body.description,
            severity=body.severity,
            tlp=None if body.tlp is None else TlpLevel(body.tlp),
            coordinated=body.coordinated,
            status=body.status,
        )
        return _out(get_incident(conn, actor, incident_id))


@router.post(
    "/{incident_id}/participants",
    status_code=201,
    response_model=IncidentOut,
    summary="Share an incident with an organisation",
)
def post_participant(
    request: Request, actor: ActorDep, incident_id: IncidentId, body: ParticipantIn
) -> IncidentOut:
    require_reader(actor)
    with writing(services(request).engine) as conn:
        org_id = _org_id(conn, body.organisation, "organisation")
        add_participant(conn, trail_for(request, actor), actor, incident_id, org_id)
        return _out(get_incident(conn, actor, incident_id))


@router.get("/{incident_id}/tasks", response_model=list[TaskOut], summary="An incident's tasks")
def read_tasks(conn: ConnDep, actor: ActorDep, incident_id: IncidentId) -> list[TaskOut]:
    require_reader(actor)
    return [TaskOut(**t.as_json()) for t in list_tasks(conn, actor, incident_id)]


@router.post("/{incident_id}/tasks", status_code=201, response_model=TaskOut, summary="Add a task")
def post_task(request: Request, actor: ActorDep, incident_id: IncidentId, body: TaskIn) -> TaskOut:
    require_reader(actor)
    with writing(services(request).engine) as conn:
        task_id = add_task(
            conn,
            trail_for(request, actor),
            actor,
            incident_id,
            title=body.title,
            assignee_org=body.assignee_org,
            assignee=body.assignee,
            due=body.due,
        )
        return next(
            TaskOut(**t.as_json()) for t in list_tasks(conn, actor, incident_id) if t.id == task_id
        )


@router.patch("/{incident_id}/tasks/{task_id}", response_model=TaskOut, summary="Change a task")
def patch_task(
    request: Request,
    actor: ActorDep,
    incident_id: IncidentId,
    task_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: TaskPatch,
) -> TaskOut:
    """Change what is sent; send ``null`` to clear an assignee or a due time."""
    require_reader(actor)
    given = body.model_fields_set
    kwargs: dict[str, Any] = {
        k: getattr(body, k) for k in ("assignee_org", "assignee", "due") if k in given
    }
    with writing(services(request).engine) as conn:
        update_task(
            conn,
            trail_for(request, actor),
            actor,
            incident_id,
            task_id,
            status=body.status,
            title=body.title,
            **kwargs,
        )
        return next(
            TaskOut(**t.as_json()) for t in list_tasks(conn, actor, incident_id) if t.id == task_id
        )


@router.get(
    "/{incident_id}/comments", response_model=list[CommentOut], summary="An incident's comments"
)
def read_comments(conn: ConnDep, actor: ActorDep, incident_id: IncidentId) -> list[CommentOut]:
    require_reader(actor)
    return [CommentOut(**c.as_json()) for c in list_comments(conn, actor, incident_id)]


@router.post(
    "/{incident_id}/comments", status_code=201, response_model=CommentOut, summary="Comment"
)
def post_comment(
    request: Request, actor: ActorDep, incident_id: IncidentId, body: CommentIn
) -> CommentOut:
    require_reader(actor)
    with writing(services(request).engine) as conn:
        comment_id = add_comment(conn, trail_for(request, actor), actor, incident_id, body.text)
        return next(
            CommentOut(**c.as_json())
            for c in list_comments(conn, actor, incident_id)
            if c.id == comment_id
        )


@router.get(
    "/{incident_id}/evidence",
    response_model=list[EvidenceOut],
    summary="The evidence the caller may see",
)
def read_evidence(conn: ConnDep, actor: ActorDep, incident_id: IncidentId) -> list[EvidenceOut]:
    require_reader(actor)
    return [EvidenceOut(**e.as_json()) for e in list_evidence(conn, actor, incident_id)]


@router.post(
    "/{incident_id}/evidence",
    status_code=201,
    response_model=list[EvidenceOut],
    summary="Add evidence (answers with the evidence the caller may see)",
)
def post_evidence(
    request: Request, actor: ActorDep, incident_id: IncidentId, body: EvidenceIn
) -> list[EvidenceOut]:
    require_reader(actor)
    trail = trail_for(request, actor)
    with writing(services(request).engine) as conn:
        if body.kind == "alert":
            if body.alert_id is None:
                raise InputError("an alert needs alert_id", field="alert_id")
            add_alerts(conn, trail, actor, incident_id, [body.alert_id])
        elif body.kind == "intel":
            if body.stix_id is None:
                raise InputError("intel needs stix_id", field="stix_id")
            add_intel(conn, trail, actor, incident_id, body.stix_id)
        else:
            if body.title is None:
                raise InputError("a note needs a title", field="title")
            add_note(
                conn,
                trail,
                actor,
                incident_id,
                title=body.title,
                body=body.body,
                distribution=Distribution(body.distribution),
                tlp=TlpLevel(body.tlp),
                groups=body.groups,
            )
        return [EvidenceOut(**e.as_json()) for e in list_evidence(conn, actor, incident_id)]


@router.get(
    "/{incident_id}/timeline",
    response_model=list[TimelineOut],
    summary="What happened, oldest first",
)
def read_timeline(
    conn: ConnDep,
    actor: ActorDep,
    incident_id: IncidentId,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="Entries after this id")] = 0,
) -> list[TimelineOut]:
    require_reader(actor)
    return [TimelineOut(**e.as_json()) for e in timeline(conn, actor, incident_id, after=after)]
