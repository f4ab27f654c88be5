"""/audit: the hash-chained audit log, for admins."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from steppe.api.deps import ActorDep, ConnDep, require_role, services
from steppe.api.schemas import AuditEntryOut, AuditPage, AuditVerifyOut
from steppe.audit import log
from steppe.sharing.model import Role
from steppe.storage.schema import audit_log

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=AuditPage, summary="Audit entries in order (admins)")
def entries(
    conn: ConnDep,
    actor: ActorDep,
    after: Annotated[int, Query(ge=0, lt=2**31, description="Last seq already read")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    require_role(actor, Role.ADMIN)
    rows = conn.execute(
        select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(limit + 1)
    ).all()
    page = rows[:limit]
    return AuditPage(
        items=[
            AuditEntryOut(
                seq=r.seq,
                at=r.at,
                actor=r.actor,
                action=r.action,
                object=r.object,
                detail=orjson.loads(r.detail),
                hash=r.hash,
            )
            for r in page
        ],
        next_after=page[-1].seq if len(rows) > limit else None,
    )


@router.get("/verify", response_model=AuditVerifyOut, summary="Check the whole chain (admins)")
def verify(request: Request, conn: ConnDep, actor: ActorDep) -> AuditVerifyOut:
    require_role(actor, Role.ADMIN)
    report = log.verify(conn, services(request).secret_key)
    return AuditVerifyOut(
        ok=report.ok,
        entries=report.entries,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
    )
