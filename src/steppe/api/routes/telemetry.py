"""/telemetry: members' sensors submit events in bulk.

A request carries JSON lines or a JSON array (``Content-Encoding: gzip`` accepted), in
one of the formats the parsers know. The caller's organisation owns the events — a
``sensor`` token can only ever submit for its own. ``GET /telemetry/stats`` says, per
organisation the caller may read, how many events came each day and when the last one
did (:mod:`steppe.lake.overview`). 202 means durable: the events are in
the lake's spool and survive a crash. Bad lines are reported with their line numbers
and the good ones accepted; when the lake is full the whole request gets 429 with
``Retry-After`` and nothing of it is kept, so the sender simply retries it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from steppe.api.deps import ActorDep, ConnDep, SensorDep, require_role, services
from steppe.errors import InputError, Overloaded, PayloadTooLarge
from steppe.ingest.telemetry.intake import IntakeReport, gunzip_limited
from steppe.lake.overview import served_overview
from steppe.sharing import directory
from steppe.sharing.model import READ_ROLES, Role

__all__ = ["router"]

router = APIRouter(prefix="/telemetry", tags=["telemetry"])

SUBMITTERS = (Role.SENSOR, Role.ANALYST, Role.ORG_ADMIN, Role.ADMIN)

GZIP_MAGIC = b"\x1f\x8b"

BodyFormat = Literal["auto", "jsonl", "eve", "winjson", "zeek", "evtx"]


class ProblemOut(BaseModel):
    line: int | None
    field: str | None
    message: str


class TelemetryReceipt(BaseModel):
    accepted: int
    problems: int
    first_problems: list[ProblemOut]


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}


@router.post(
    "",
    status_code=202,
    response_model=TelemetryReceipt,
    openapi_extra=_BODY_DOC,
    summary="Submit telemetry events for the caller's organisation",
    responses={
        413: {"description": "Body larger than STEPPE_TELEMETRY_MAX_BODY_BYTES once inflated"},
        422: {"description": "Nothing in the body could be read (problems located by line)"},
        429: {"description": "The lake or the intake is full: retry after Retry-After"},
    },
)
async def submit(
    request: Request,
    actor: SensorDep,
    format: Annotated[
        BodyFormat, Query(description="Body format; auto detects it from the content")
    ] = "auto",
    content_encoding: Annotated[str | None, Header()] = None,
) -> TelemetryReceipt:
    require_role(actor, *SUBMITTERS)
    svc = services(request)
    gate: asyncio.Semaphore = request.app.state.telemetry_gate
    if gate.locked():  # checked before the body is read: overload costs no memory
        raise Overloaded("the telemetry intake is busy; retry shortly", retry_after=1)
    if svc.telemetry.started:
        svc.telemetry.lake.refuse_if_full()  # likewise: a full lake refuses unread bodies
    async with gate:
        limit = svc.settings.telemetry_max_body_bytes
        body = await _read_limited(request, limit)
        if body[:2] == GZIP_MAGIC or (
            content_encoding and content_encoding.strip().lower() in ("gzip", "x-gzip")
        ):
            # Inflated here, against the limit, whatever the header says: a zip bomb
            # must not reach the parser.
            body = gunzip_limited(body, limit)
        elif content_encoding and content_encoding.strip().lower() != "identity":
            raise InputError(
                f"Content-Encoding {content_encoding!r} is not supported (use gzip)",
                field="Content-Encoding",
            )
        report = await run_in_threadpool(
            _ingest, request, actor.org_id, actor.user_name, body, format
        )
    if report.events == 0 and report.problems:
        first = report.first_problems[0]
        raise InputError(
            f"no event could be read ({report.problems} problems); first: {first.message}",
            source="request body",
            line=first.line,
            field=first.field,
        )
    return TelemetryReceipt(
        accepted=report.events,
        problems=report.problems,
        first_problems=[
            ProblemOut(line=p.line, field=p.field, message=p.message) for p in report.first_problems
        ],
    )


def _ingest(request: Request, org_id: int, observer: str, body: bytes, fmt: str) -> IntakeReport:
    telemetry = services(request).telemetry
    return telemetry.intake.ingest_request(org_id, body, fmt, observer=observer)


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"telemetry body is larger than {limit} bytes: split it")
        chunks.append(chunk)
    return b"".join(chunks)


class OrganisationStatsOut(BaseModel):
    organisation_id: int
    organisation: str
    events_per_day: list[int] = Field(description="Events of each day of `days`, oldest first")
    events: int = Field(description="Events in the window")
    last_event: datetime | None = Field(description="The latest event time held")
    days_held: int = Field(description="Day partitions in the lake, all of them")
    files: int
    bytes: int
    retention_days: int


class LakeHealthOut(BaseModel):
    spool_segments: int
    spool_bytes: int = Field(description="Accepted, not yet written to Parquet")
    quarantined_segments: int


class TelemetryStatsOut(BaseModel):
    days: list[date]
    organisations: list[OrganisationStatsOut]
    health: LakeHealthOut | None = Field(description="The center's staff only")


@router.get(
    "/stats",
    response_model=TelemetryStatsOut,
    summary="Events per day and the last event of each organisation the caller may read",
)
def stats(
    request: Request,
    conn: ConnDep,
    actor: ActorDep,
    days: Annotated[int, Query(ge=1, le=90, description="Days in the window")] = 14,
) -> TelemetryStatsOut:
    require_role(actor, *READ_ROLES)
    names = {org.id: org.name for org in directory.list_organisations(conn)}
    overview = served_overview(
        conn, services(request).settings, actor, today=datetime.now(UTC).date(), days=days
    )
    return TelemetryStatsOut(
        days=list(overview.days),
        organisations=[
            OrganisationStatsOut(
                organisation_id=o.organisation,
                organisation=names.get(o.organisation, f"#{o.organisation}"),
                events_per_day=list(o.per_day),
                events=o.events,
                last_event=o.last_event,
                days_held=o.days_held,
                files=o.files,
                bytes=o.bytes,
                retention_days=o.retention_days,
            )
            for o in overview.organisations
        ],
        health=(
            None
            if overview.health is None
            else LakeHealthOut(
                spool_segments=overview.health.spool_segments,
                spool_bytes=overview.health.spool_bytes,
                quarantined_segments=overview.health.quarantined_segments,
            )
        ),
    )
