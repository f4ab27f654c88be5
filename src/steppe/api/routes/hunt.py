"""/hunt: SQL over the telemetry the caller may read — the sandboxed DuckDB hunt of
`steppe hunt` (:func:`steppe.lake.hunt.hunt`) over HTTP.

The query sees one view, ``events``: the lake partitions of the organisations
:func:`~steppe.sharing.policy.can_read_telemetry` lets the caller read (its own; every
member's for the center's staff). Rows are capped (``limit``, at most
``STEPPE_HUNT_MAX_ROWS``; ``truncated`` says when more existed), the query is stopped
after ``STEPPE_HUNT_TIMEOUT_SECONDS``, and SQL that fails — a syntax error, an unknown
column, a reach for files or extensions, a timeout — is a 422 with DuckDB's message.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from steppe.api.deps import ActorDep, require_role, services
from steppe.api.schemas import _In
from steppe.errors import InputError
from steppe.lake.hunt import hunt as run_hunt
from steppe.sharing.model import READ_ROLES

__all__ = ["router"]

router = APIRouter(prefix="/hunt", tags=["telemetry"])


class HuntIn(_In):
    sql: str = Field(
        min_length=1,
        max_length=100_000,
        description='SQL over the view `events`, e.g. SELECT "source.ip", count(*) FROM events '
        "GROUP BY 1",
    )
    limit: int | None = Field(
        default=None, gt=0, description="Most rows returned; default and cap STEPPE_HUNT_MAX_ROWS"
    )


class HuntOut(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]] = Field(description="One object per row, column → value")
    truncated: bool = Field(description="More rows existed than `limit`")
    limit: int
    organisations: list[int] = Field(description="Ids of the organisations whose events were read")
    note: str | None


@router.post("", response_model=HuntOut, summary="Run SQL over the telemetry the caller may read")
async def hunt(request: Request, actor: ActorDep, body: HuntIn) -> HuntOut:
    require_role(actor, *READ_ROLES)
    settings = services(request).settings
    cap = settings.hunt_max_rows
    if body.limit is not None and body.limit > cap:
        raise InputError(f"at most {cap} rows (STEPPE_HUNT_MAX_ROWS)", field="limit")
    result = await run_in_threadpool(  # DuckDB works on its own threads; keep the loop free
        run_hunt,
        actor,
        body.sql,
        settings.resolved_lake_dir(),
        limit=body.limit or cap,
        timeout_seconds=settings.hunt_timeout_seconds,
    )
    return HuntOut(**result.as_json(), note=result.note)
