"""/intel: import, search, read, update, revoke and bulk look-up of intelligence."""

from __future__ import annotations

import base64
import binascii
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select
from starlette.responses import Response

from steppe.api.deps import ActorDep, ConnDep, require_role, services, trail_for
from steppe.api.idempotency import request_fingerprint, run_idempotent
from steppe.api.schemas import (
    ImportOut,
    IntelPage,
    IntelRef,
    LookupIn,
    LookupInvalid,
    LookupMatchOut,
    LookupOut,
    SourceOut,
    StoredObjectOut,
)
from steppe.errors import Conflict, InputError, InvalidStix
from steppe.intel.config import IntelConfig
from steppe.intel.importer import ImportReport, Marking, import_objects
from steppe.intel.observables import ObservableType
from steppe.intel.provenance import Source, sources_of_objects
from steppe.intel.queries import (
    StoredObject,
    get_own_current,
    get_stored,
    list_objects,
    lookup_values,
)
from steppe.intel.remark import share_object
from steppe.intel.stix import read_bundle
from steppe.sharing import directory
from steppe.sharing.model import Actor, Distribution, Role, TlpLevel, parse_tlp
from steppe.storage import timestamps
from steppe.storage.engine import writing
from steppe.storage.schema import object_groups, sharing_groups

__all__ = ["router"]

router = APIRouter(prefix="/intel", tags=["intel"])

WRITERS = (Role.ANALYST, Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN)
_STIX_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "A STIX 2.1 bundle, or one STIX 2.1 object",
                    "additionalProperties": True,
                }
            }
        },
    }
}


async def _body(request: Request) -> bytes:
    return await request.body()


BodyDep = Annotated[bytes, Depends(_body)]
FingerprintDep = Annotated[str, Depends(request_fingerprint)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retry-safe key: a repeat is answered once"),
]


@router.post(
    "/objects",
    status_code=201,
    response_model=ImportOut,
    openapi_extra=_STIX_BODY,
    summary="Import a STIX 2.1 bundle as the caller's organisation",
    responses={422: {"description": "Bad input, located (field, line)"}},
)
def import_bundle(
    request: Request,
    actor: ActorDep,
    body: BodyDep,
    fingerprint: FingerprintDep,
    idempotency_key: IdempotencyKey = None,
    distribution: Distribution = Distribution.ORGANISATION,
    group: Annotated[list[str] | None, Query(description="Sharing group(s) for 'groups'")] = None,
    tlp: Annotated[str, Query(description="TLP for objects without their own marking")] = "amber",
) -> Response:
    require_role(actor, *WRITERS)
    level = parse_tlp(tlp, "query.tlp")
    objects = read_bundle(body, "request body")
    svc = services(request)

    def action(conn: Connection) -> tuple[int, Any]:
        owner = directory.get_organisation(conn, actor.org_id)
        groups = tuple(_group(conn, actor, name) for name in group or ())
        report = import_objects(
            conn,
            trail_for(request, actor),
            body,
            objects,
            owner=owner,
            marking=Marking(distribution, level, groups),
            source="request body",
            config=IntelConfig.from_settings(svc.settings),
        )
        return 201, _report(report)

    return run_idempotent(svc.engine, actor, idempotency_key, fingerprint, action)


@router.get("/objects", response_model=IntelPage, summary="Search intel the caller may see")
def search(
    conn: ConnDep,
    actor: ActorDep,
    value: Annotated[
        str | None, Query(max_length=4096, description="An IP, domain, URL, hash…")
    ] = None,
    value_type: Annotated[ObservableType | None, Query(alias="value_type")] = None,
    type: Annotated[
        str | None, Query(max_length=100, description="STIX type, e.g. indicator")
    ] = None,
    tag: Annotated[str | None, Query(max_length=200, description="A STIX label")] = None,
    modified_after: Annotated[datetime | None, Query()] = None,
    modified_before: Annotated[datetime | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> IntelPage:
    require_role(actor, *WRITERS, Role.READER)
    after = _decode_cursor(cursor)
    items = list_objects(
        conn,
        actor,
        value=value,
        kind=value_type,
        stix_type=type,
        label=tag,
        modified_after=_ts(modified_after, "modified_after"),
        modified_before=_ts(modified_before, "modified_before"),
        after_pk=after,
        limit=limit + 1,
    )
    more = len(items) > limit
    page = items[:limit]
    next_cursor = _encode_cursor(page[-1].pk) if more else None
    sources = sources_of_objects(conn, actor, [o.pk for o in page])
    return IntelPage(items=[_out(o, sources[o.pk]) for o in page], next_cursor=next_cursor)


@router.get(
    "/objects/{stix_id}",
    response_model=StoredObjectOut,
    summary="The current version of an object (404 when not visible)",
)
def read(conn: ConnDep, actor: ActorDep, stix_id: str) -> StoredObjectOut:
    require_role(actor, *WRITERS, Role.READER)
    stored = get_stored(conn, actor, stix_id)
    return _out(stored, sources_of_objects(conn, actor, [stored.pk])[stored.pk])


@router.put(
    "/objects/{stix_id}",
    response_model=StoredObjectOut,
    openapi_extra=_STIX_BODY,
    summary="Store a new version of one of the caller's organisation's objects",
)
def update(
    request: Request,
    actor: ActorDep,
    stix_id: str,
    body: BodyDep,
) -> StoredObjectOut:
    require_role(actor, *WRITERS)
    objects = read_bundle(body, "request body")
    if len(objects) != 1 or not isinstance(objects[0], dict):
        raise InvalidStix("send exactly one STIX object, not a bundle", source="request body")
    obj = objects[0]
    if obj.get("id") != stix_id:
        raise InvalidStix(f"id must be {stix_id!r}, as in the URL", field="id")
    return _new_version(request, actor, stix_id, body, obj)


@router.post(
    "/objects/{stix_id}/revoke",
    response_model=StoredObjectOut,
    summary="Revoke one of the caller's organisation's objects (a new, revoked version)",
)
def revoke(request: Request, actor: ActorDep, stix_id: str) -> StoredObjectOut:
    require_role(actor, *WRITERS)
    with services(request).engine.connect() as conn:
        current = get_own_current(conn, actor, stix_id)
    obj = dict(current.body)
    obj["revoked"] = True
    # Now, or just after the current version if that one is dated in the future.
    later = timestamps.parse(current.modified) + timedelta(milliseconds=1)
    moment = max(timestamps.now(), timestamps.format_ts(later))
    obj["modified"] = moment[:23] + "Z"  # STIX millisecond precision
    data = orjson.dumps(obj)
    return _new_version(request, actor, stix_id, data, obj)


class ShareIn(BaseModel):
    distribution: Distribution
    tlp: str = Field(description="clear, green, amber, amber+strict or red")
    groups: list[str] = Field(default_factory=list, max_length=100)


@router.post(
    "/objects/{stix_id}/share",
    response_model=StoredObjectOut,
    summary="Re-mark one of the caller's organisation's objects (a new version)",
)
def share(request: Request, actor: ActorDep, stix_id: str, body: ShareIn) -> StoredObjectOut:
    require_role(actor, *WRITERS)
    tlp = parse_tlp(body.tlp, "tlp")
    with writing(services(request).engine) as conn:
        share_object(
            conn,
            trail_for(request, actor),
            actor,
            stix_id,
            distribution=body.distribution,
            tlp=tlp,
            groups=body.groups,
            config=IntelConfig.from_settings(services(request).settings),
        )
    with services(request).engine.connect() as conn:
        stored = get_stored(conn, actor, stix_id)
        return _out(stored, sources_of_objects(conn, actor, [stored.pk])[stored.pk])


@router.post(
    "/lookup",
    response_model=LookupOut,
    summary="Bulk look-up: which of up to 10,000 values appear in intel the caller may see",
)
def lookup(conn: ConnDep, actor: ActorDep, body: LookupIn) -> LookupOut:
    require_role(actor, *WRITERS, Role.READER)
    result = lookup_values(conn, actor, body.values, body.type)
    return LookupOut(
        matches=[
            LookupMatchOut(
                index=m.index,
                value=m.value,
                type=m.type,
                canonical=m.canonical,
                objects=[
                    IntelRef(
                        stix_id=h.stix_id,
                        type=h.object_type,
                        name=h.name,
                        owner=h.owner,
                        distribution=h.distribution,
                        tlp=h.tlp,
                        confidence=h.confidence,
                        valid_until=h.valid_until,
                        revoked=h.revoked,
                    )
                    for h in m.objects
                ],
            )
            for m in result.matches
        ],
        invalid=[LookupInvalid(index=i, value=v, reason=r) for i, v, r in result.invalid],
        unmatched=result.unmatched,
    )


def _new_version(
    request: Request, actor: Actor, stix_id: str, data: bytes, obj: dict[str, Any]
) -> StoredObjectOut:
    engine = services(request).engine
    with writing(engine) as conn:
        current = get_own_current(conn, actor, stix_id)
        modified = obj.get("modified")
        if isinstance(modified, str):
            try:
                newer = timestamps.normalise(modified) > current.modified
            except ValueError:
                newer = True  # the importer reports the bad timestamp with its field
            if not newer:
                raise Conflict(
                    f"modified must be later than the current version's ({current.modified})"
                )
        groups = _groups_of(conn, current.pk)
        report = import_objects(
            conn,
            trail_for(request, actor),
            data,
            [obj],
            owner=directory.get_organisation(conn, actor.org_id),
            marking=Marking(Distribution(current.distribution), TlpLevel(current.tlp), groups),
            source="request body",
            config=IntelConfig.from_settings(services(request).settings),
        )
        if report.new_versions != 1:
            raise Conflict("the object was not stored as a new version")
    with engine.connect() as conn:
        return _out(get_stored(conn, actor, stix_id))


def _groups_of(conn: Connection, pk: int) -> tuple[directory.SharingGroup, ...]:
    names = conn.execute(
        select(sharing_groups.c.name)
        .join(object_groups, object_groups.c.group_id == sharing_groups.c.id)
        .where(object_groups.c.object_pk == pk)
    ).scalars()
    return tuple(directory.find_group(conn, n) for n in names)


def _group(conn: Connection, actor: Actor, name: str) -> directory.SharingGroup:
    """A group the caller's organisation is in or owns; others are answered as unknown."""
    return directory.group_for_marking(conn, actor, name, field="query.group")


def _ts(moment: datetime | None, field: str) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InputError("needs a time zone (e.g. 2026-01-01T00:00:00Z)", field=f"query.{field}")
    try:
        return timestamps.format_ts(moment)
    except OverflowError:
        raise InputError("is out of range", field=f"query.{field}") from None


def _encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"pk:{pk}".encode()).decode().rstrip("=")


_MAX_PK = 2**31  # object keys are 32-bit integers (PostgreSQL INTEGER)


def _decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind != "pk" or not number.isdigit() or len(number) > 10:
            raise ValueError(text)
        pk = int(number)
        if pk >= _MAX_PK:
            raise ValueError(text)
        return pk
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InputError("is not a cursor this API issued", field="query.cursor") from None


def _report(r: ImportReport) -> dict[str, Any]:
    return ImportOut(
        objects=r.objects,
        created=r.created,
        new_versions=r.new_versions,
        unchanged=r.unchanged,
        older_versions=r.older_versions,
        matchable=r.matchable,
        not_matchable=r.not_matchable,
        observables=r.observables,
        sha256=r.sha256,
    ).model_dump()


def _out(o: StoredObject, sources: list[Source] | None = None) -> StoredObjectOut:
    metadata = {f.name: getattr(o, f.name) for f in fields(o) if f.name not in ("pk", "body")}
    listed = [SourceOut(**s.as_dict()) for s in sources or ()]
    return StoredObjectOut(**metadata, object=o.body, sources=listed)
