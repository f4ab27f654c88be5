"""/exports/{format}: what the caller's organisation may enforce, streamed.

The selection (visibility, activity, warninglists, TLP ceiling) is
:mod:`steppe.response.exports`'s; this route plans the export — so a bad format,
cursor or blocklist answers problem+json before any byte — then streams it from its
own connection, chunk by chunk. The cursor for the next incremental export is in the
``X-Steppe-Cursor`` header, and ``X-Steppe-Export`` says ``full`` or ``incremental``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from steppe.api.deps import ActorDep, services
from steppe.response.exports import (
    EXPORTABLE_TYPES,
    ExportOptions,
    plan_export,
    registered_exporters,
    stream_export,
)
from steppe.response.exports.selection import blocklist_id_of
from steppe.sharing import directory
from steppe.sharing.model import TlpLevel
from steppe.sharing.policy import require_reader

__all__ = ["router"]

router = APIRouter(prefix="/exports", tags=["exports"])

_MEDIA_TYPES = sorted({e.media_type.split(";")[0] for e in registered_exporters().values()})
_STRING = {"schema": {"type": "string"}}


@router.get(
    "/{format}",
    summary="Indicators the caller's organisation may enforce, in a device's format",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The export, streamed. `X-Steppe-Cursor`: pass it back as `since`.",
            "content": {media: {"schema": {"type": "string"}} for media in _MEDIA_TYPES},
            "headers": {"X-Steppe-Cursor": _STRING, "X-Steppe-Export": _STRING},
        }
    },
)
def export(
    request: Request,
    actor: ActorDep,
    format: Annotated[
        str,
        Path(
            pattern=r"^[a-z][a-z0-9-]{0,39}$",
            description=f"One of: {', '.join(registered_exporters())}",
        ),
    ],
    since: Annotated[
        str | None, Query(max_length=200, description="Cursor of an earlier export")
    ] = None,
    blocklist: Annotated[
        str | None, Query(max_length=100, description="Only this blocklist's indicators")
    ] = None,
    max_tlp: Annotated[
        TlpLevel, Query(description="TLP ceiling (default amber; red only when asked)")
    ] = TlpLevel.AMBER,
    types: Annotated[
        list[str] | None,
        Query(max_length=len(EXPORTABLE_TYPES), description="Observable types (default all)"),
    ] = None,
    min_confidence: Annotated[int | None, Query(ge=0, le=100)] = None,
    min_score: Annotated[float | None, Query(ge=0, le=100)] = None,
    include_warninglisted: bool = False,
) -> StreamingResponse:
    require_reader(actor)
    svc = services(request)
    options = ExportOptions(
        max_tlp=max_tlp,
        types=tuple(types or ()),
        min_confidence=min_confidence,
        min_score=min_score,
        blocklist=blocklist,
        include_warninglisted=include_warninglisted,
    )
    with svc.engine.connect() as conn:
        blocklist_id_of(conn, actor, blocklist)  # NotFound now, not mid-stream
        requester = directory.get_organisation(conn, actor.org_id).name
    plan = plan_export(
        actor,
        format,
        options,
        since=since,
        requester=requester,
        sid_base=svc.settings.export_sid_base,
        name=svc.settings.export_name,
    )

    def body() -> Iterator[bytes]:
        with svc.engine.connect() as conn:
            yield from stream_export(conn, actor, plan)

    return StreamingResponse(
        body(),
        media_type=plan.media_type,
        headers={
            "X-Steppe-Cursor": plan.cursor,
            "X-Steppe-Export": "incremental" if plan.incremental else "full",
            "Content-Disposition": f'attachment; filename="{plan.filename}"',
        },
    )
