"""/blocklists: the caller's organisation's named lists of indicators to enforce.

Lists are private to their organisation: another organisation's list answers 404,
like one that does not exist. Adding needs the analyst role or above and only takes
indicators the caller may see; every change is in the audit trail.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from steppe.api.deps import ActorDep, ConnDep, services, trail_for
from steppe.api.schemas import _In
from steppe.response.blocklists import (
    Blocklist,
    add_to_blocklist,
    create_blocklist,
    find_blocklist,
    list_blocklists,
    list_entries,
    remove_from_blocklist,
)
from steppe.storage.engine import writing

__all__ = ["router"]

router = APIRouter(prefix="/blocklists", tags=["blocklists"])

Name = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
StixId = Annotated[str, Path(min_length=1, max_length=300)]


class BlocklistIn(_In):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = Field(default="", max_length=2000)


class EntriesIn(_In):
    indicator_ids: list[str] = Field(min_length=1, max_length=10_000)
    reason: str = Field(default="", max_length=2000)


class BlocklistOut(BaseModel):
    name: str
    description: str
    created_at: str
    created_by: str
    entries: int


class EntryOut(BaseModel):
    stix_id: str
    added_at: str
    added_by: str
    reason: str


class BlocklistDetailOut(BlocklistOut):
    items: list[EntryOut]


class ChangedOut(BaseModel):
    changed: int


def _out(b: Blocklist) -> BlocklistOut:
    return BlocklistOut(
        name=b.name,
        description=b.description,
        created_at=b.created_at,
        created_by=b.created_by,
        entries=b.entries,
    )


@router.get("", response_model=list[BlocklistOut], summary="The caller's organisation's lists")
def lists(conn: ConnDep, actor: ActorDep) -> list[BlocklistOut]:
    return [_out(b) for b in list_blocklists(conn, actor)]


@router.post("", status_code=201, response_model=BlocklistOut, summary="Create a blocklist")
def create(request: Request, actor: ActorDep, body: BlocklistIn) -> BlocklistOut:
    with writing(services(request).engine) as conn:
        made = create_blocklist(conn, trail_for(request, actor), actor, body.name, body.description)
    return _out(made)


@router.get(
    "/{name}", response_model=BlocklistDetailOut, summary="A blocklist and its active entries"
)
def show(conn: ConnDep, actor: ActorDep, name: Name) -> BlocklistDetailOut:
    found = find_blocklist(conn, actor, name)
    items = [
        EntryOut(stix_id=e.stix_id, added_at=e.added_at, added_by=e.added_by, reason=e.reason)
        for e in list_entries(conn, actor, name)
    ]
    return BlocklistDetailOut(**_out(found).model_dump(), items=items)


@router.post(
    "/{name}/entries",
    response_model=ChangedOut,
    summary="Add indicators the caller may see (creates the list if missing)",
)
def add(request: Request, actor: ActorDep, name: Name, body: EntriesIn) -> ChangedOut:
    with writing(services(request).engine) as conn:
        added = add_to_blocklist(
            conn, trail_for(request, actor), actor, name, body.indicator_ids, body.reason
        )
    return ChangedOut(changed=added)


@router.delete(
    "/{name}/entries/{stix_id}",
    response_model=ChangedOut,
    summary="Remove an indicator from a blocklist (kept in its history)",
)
def remove(request: Request, actor: ActorDep, name: Name, stix_id: StixId) -> ChangedOut:
    with writing(services(request).engine) as conn:
        removed = remove_from_blocklist(conn, trail_for(request, actor), actor, name, [stix_id])
    return ChangedOut(changed=removed)
