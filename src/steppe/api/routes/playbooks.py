"""/playbooks and /playbook-runs: the playbooks of this center and what they did.

A playbook and its runs are visible to its organisation's users and to the center's
staff (:func:`steppe.sharing.policy.can_see_playbook`); others get 404, as for one
that does not exist. What a run was about (the alert, the intel) is shown only to the
playbook's own organisation.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import Connection

from steppe.api.deps import ActorDep, ConnDep, services, trail_for
from steppe.api.problems import problem
from steppe.errors import InvalidPlaybook, NotFound, PayloadTooLarge
from steppe.response.playbooks import Playbook, PlaybookLibrary, load_playbook
from steppe.response.playbooks.loader import check_references
from steppe.response.playbooks.runs import RunView, get_run, list_runs, retry_run
from steppe.sharing import directory
from steppe.sharing.model import Actor
from steppe.sharing.policy import can_see_playbook, require_reader
from steppe.storage.engine import writing

__all__ = ["router"]

router = APIRouter(tags=["playbooks"])

RunStatus = Literal["pending", "running", "ok", "failed", "retrying", "dead"]
_MAX_PLAYBOOK_BYTES = 256 * 1024
_YAML_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/yaml": {"schema": {"type": "string"}}},
    }
}


async def _body(request: Request) -> bytes:
    return await request.body()


BodyDep = Annotated[bytes, Depends(_body)]


class ActionOut(BaseModel):
    type: str
    retries: int
    backoff: float


class PlaybookOut(BaseModel):
    name: str
    owner: str
    description: str
    enabled: bool
    trigger: str
    conditions: list[str]
    backfill_seconds: float
    actions: list[ActionOut]
    file: str | None
    yaml: str | None = None


class ValidationOut(BaseModel):
    valid: bool
    playbook: PlaybookOut


class RunActionOut(BaseModel):
    position: int
    type: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: str | None
    last_error: str | None
    result: dict[str, Any] | None


class RunOut(BaseModel):
    id: int
    playbook: str
    organisation: str
    trigger: str
    item_key: str
    status: str
    created_at: str
    updated_at: str
    item: dict[str, Any] | None  # the trigger item: only for the playbook's organisation
    actions: list[RunActionOut]


class RunPageOut(BaseModel):
    items: list[RunOut]
    total: int


def library(request: Request) -> PlaybookLibrary:
    found: PlaybookLibrary = request.app.state.playbook_library
    found.refresh()
    return found


def _visible(conn: Connection, actor: Actor, playbook: Playbook) -> bool:
    try:
        owner = directory.find_organisation(conn, playbook.owner)
    except NotFound:
        return False
    return bool(can_see_playbook(actor, owner.id))


def _out(playbook: Playbook, *, yaml: bool = False) -> PlaybookOut:
    return PlaybookOut(
        name=playbook.name,
        owner=playbook.owner,
        description=playbook.description,
        enabled=playbook.enabled,
        trigger=playbook.trigger.kind.value,
        conditions=[c.describe for c in playbook.trigger.conditions],
        backfill_seconds=playbook.trigger.backfill.total_seconds(),
        actions=[
            ActionOut(type=a.type, retries=a.retries, backoff=a.backoff) for a in playbook.actions
        ],
        file=FilePath(playbook.source).name if playbook.source else None,
        yaml=playbook.text if yaml else None,
    )


def _run_out(run: RunView) -> RunOut:
    return RunOut(**run.as_json())


@router.get("/playbooks", response_model=list[PlaybookOut], summary="Playbooks the caller may see")
def list_playbooks(request: Request, conn: ConnDep, actor: ActorDep) -> list[PlaybookOut]:
    require_reader(actor)
    return [_out(p) for p in library(request).playbooks() if _visible(conn, actor, p)]


@router.get(
    "/playbooks/{name}",
    response_model=PlaybookOut,
    summary="One playbook with its YAML (404 when not visible)",
)
def read_playbook(
    request: Request,
    conn: ConnDep,
    actor: ActorDep,
    name: Annotated[str, Path(max_length=200)],
) -> PlaybookOut:
    require_reader(actor)
    try:
        playbook = library(request).get(name)
    except NotFound:
        playbook = None
    if playbook is None or not _visible(conn, actor, playbook):
        raise NotFound(f"no playbook named {name!r}")
    return _out(playbook, yaml=True)


@router.post(
    "/playbooks/validate",
    response_model=ValidationOut,
    openapi_extra=_YAML_BODY,
    summary="Check a playbook (YAML body); 422 lists every problem with its line",
)
def validate_playbook(request: Request, actor: ActorDep, body: BodyDep) -> Any:
    require_reader(actor)
    if len(body) > _MAX_PLAYBOOK_BYTES:
        raise PayloadTooLarge(f"a playbook is at most {_MAX_PLAYBOOK_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPlaybook("the body is not UTF-8 text", source="request body") from None
    try:
        playbook = load_playbook(text, source="request body")
        with services(request).engine.connect() as conn:
            problems = check_references(conn, playbook)
    except InvalidPlaybook as exc:
        problems = exc.problems
    if problems:
        errors = [
            {k: v for k, v in (("message", p.message), ("field", p.field), ("line", p.line),
                               ("source", p.source)) if v is not None}
            for p in problems
        ]  # fmt: skip
        detail = f"{len(problems)} problem(s); first: {problems[0]}"
        return problem(422, detail, instance=request.url.path, errors=errors)
    return ValidationOut(valid=True, playbook=_out(playbook))


@router.get(
    "/playbook-runs",
    response_model=RunPageOut,
    summary="Runs of playbooks the caller may see, newest first",
)
def search_runs(
    conn: ConnDep,
    actor: ActorDep,
    playbook: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> RunPageOut:
    page = list_runs(conn, actor, playbook=playbook, status=status, limit=limit, offset=offset)
    return RunPageOut(items=[_run_out(r) for r in page.items], total=page.total)


@router.get(
    "/playbook-runs/{run_id}",
    response_model=RunOut,
    summary="One run with its actions' attempts (404 when not visible)",
)
def read_run(
    conn: ConnDep, actor: ActorDep, run_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> RunOut:
    return _run_out(get_run(conn, actor, run_id))


@router.post(
    "/playbook-runs/{run_id}/retry",
    response_model=RunOut,
    summary="Try a run's failed and dead actions again",
)
def retry(
    request: Request, actor: ActorDep, run_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> RunOut:
    with writing(services(request).engine) as conn:
        return _run_out(retry_run(conn, trail_for(request, actor), actor, run_id))
