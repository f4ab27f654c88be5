"""Per-request dependencies: the database connection, the caller, role checks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from steppe.api.limits import RateLimiter
from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, NotFound, Unauthenticated
from steppe.ingest.telemetry.service import TelemetryService
from steppe.settings import Settings
from steppe.sharing.directory import authenticate_token
from steppe.sharing.model import Actor, Role

__all__ = ["ActorDep", "ConnDep", "Services", "require_role", "services", "trail_for"]


@dataclass(frozen=True)
class Services:
    """What the app factory builds once and every request uses."""

    settings: Settings
    engine: Engine
    secret_key: str
    limiter: RateLimiter
    telemetry: TelemetryService


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def connection(request: Request) -> Iterator[Connection]:
    with services(request).engine.connect() as conn:
        yield conn


ConnDep = Annotated[Connection, Depends(connection)]


def current_actor(request: Request, conn: ConnDep) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an API token: Authorization: Bearer <token>")
    token = token.strip()
    services(request).limiter.check(hashlib.sha256(token.encode()).hexdigest())
    try:
        actor = authenticate_token(conn, token)
    except NotFound as exc:
        raise Unauthenticated(exc.message) from None
    conn.rollback()  # end the read transaction; handlers open their own
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def require_role(actor: Actor, *roles: Role) -> None:
    if not actor.roles & set(roles):
        wanted = " or ".join(r.value for r in roles)
        raise Forbidden(f"this needs the {wanted} role")


def trail_for(request: Request, actor: Actor) -> AuditTrail:
    return AuditTrail(key=services(request).secret_key, actor=f"user:{actor.user_name}")
