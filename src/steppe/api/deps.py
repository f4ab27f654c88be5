"""Per-request dependencies: the database connection, the caller, role checks."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from steppe.api.limits import RateLimiter
from steppe.api.token_cache import RecentTokens
from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, NotFound, Unauthenticated
from steppe.ingest.telemetry.service import TelemetryService
from steppe.settings import Settings
from steppe.sharing.directory import authenticate_token
from steppe.sharing.model import Actor, Role

__all__ = [
    "ActorDep",
    "ConnDep",
    "SensorDep",
    "Services",
    "require_role",
    "services",
    "trail_for",
]


@dataclass(frozen=True)
class Services:
    """What the app factory builds once and every request uses."""

    settings: Settings
    engine: Engine
    secret_key: str
    limiter: RateLimiter
    telemetry: TelemetryService
    recent_tokens: RecentTokens


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def connection(request: Request) -> Iterator[Connection]:
    with services(request).engine.connect() as conn:
        yield conn


ConnDep = Annotated[Connection, Depends(connection)]


def _bearer_token(request: Request) -> tuple[str, str]:
    """The request's bearer token and its hash, once the rate limit let it through."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an API token: Authorization: Bearer <token>")
    token = token.strip()
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    services(request).limiter.check(token_hash)
    return token, token_hash


def _authenticated(conn: Connection, token: str) -> Actor:
    """The token's actor; 401 for an unknown, revoked or expired token."""
    try:
        return authenticate_token(conn, token)
    except NotFound as exc:
        raise Unauthenticated(exc.message) from None


def current_actor(request: Request, conn: ConnDep) -> Actor:
    token, _ = _bearer_token(request)
    actor = _authenticated(conn, token)
    conn.rollback()  # end the read transaction; handlers open their own
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


async def sensor_actor(request: Request) -> Actor:
    """:func:`current_actor` for the telemetry stream: a token looked up in the last
    ``STEPPE_TELEMETRY_TOKEN_CACHE_SECONDS`` is taken as it was then, in the event loop
    (:mod:`steppe.api.token_cache`); otherwise looked up in a thread."""
    token, token_hash = _bearer_token(request)
    recent = services(request).recent_tokens
    found = recent.get(token_hash, now=time.monotonic())
    if found is not None:
        return found
    actor = await run_in_threadpool(_look_up, services(request).engine, token)
    recent.put(token_hash, actor, now=time.monotonic())
    return actor


def _look_up(engine: Engine, token: str) -> Actor:
    with engine.connect() as conn:
        return _authenticated(conn, token)


SensorDep = Annotated[Actor, Depends(sensor_actor)]


def require_role(actor: Actor, *roles: Role) -> None:
    if not actor.roles & set(roles):
        wanted = " or ".join(r.value for r in roles)
        raise Forbidden(f"this needs the {wanted} role")


def trail_for(request: Request, actor: Actor) -> AuditTrail:
    return AuditTrail(key=services(request).secret_key, actor=f"user:{actor.user_name}")
