"""Browser sessions: a random token in an HttpOnly cookie, its hash in ``web_sessions``.

A session lasts ``STEPPE_WEB_SESSION_HOURS`` past its last use (sliding; refreshed at
most once a minute, so page views do not each write). Each session has its own CSRF
token, which every form and script sends back with an unsafe request.

    >>> with engine.begin() as conn:                                   # doctest: +SKIP
    ...     opened = open_session(conn, trail, actor, hours=12)
    ...     load_session(conn, opened.token, hours=12).actor.user_name
    'analyst.kz'
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, delete, select

from steppe.audit.trail import AuditTrail
from steppe.errors import Unauthenticated
from steppe.sharing.directory import load_actor
from steppe.sharing.model import Actor
from steppe.storage import timestamps
from steppe.storage.schema import users, web_sessions

__all__ = ["OpenedSession", "WebSession", "end_session", "load_session", "open_session"]

_REFRESH_AFTER = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class OpenedSession:
    token: str  # goes into the cookie; never stored
    csrf: str


@dataclass(frozen=True, slots=True)
class WebSession:
    actor: Actor
    csrf: str


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _expiry(now: str, hours: float) -> str:
    return timestamps.format_ts(timestamps.parse(now) + timedelta(hours=hours))


def open_session(
    conn: Connection, trail: AuditTrail, actor: Actor, *, hours: float
) -> OpenedSession:
    """Start a session for ``actor`` (after its password was checked)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = timestamps.now()
    conn.execute(
        web_sessions.insert().values(
            id=_key(token),
            user_id=actor.user_id,
            csrf=csrf,
            created_at=now,
            expires_at=_expiry(now, hours),
            last_seen_at=now,
        )
    )
    # Expired sessions of this user go when it signs in again: the table stays small
    # without a sweeper.
    conn.execute(
        delete(web_sessions).where(
            web_sessions.c.user_id == actor.user_id, web_sessions.c.expires_at <= now
        )
    )
    trail.record(conn, "web.login", f"user {actor.user_name}", {})
    return OpenedSession(token, csrf)


def load_session(conn: Connection, token: str, *, hours: float, slide: bool = True) -> WebSession:
    """The session behind a cookie; :class:`Unauthenticated` when unknown or expired.

    The actor is loaded afresh (roles and groups as of now), so a changed membership
    shows on the next page, not at the next sign-in. ``slide``: push the expiry on
    (the connection must then be committed); False for a look that changes nothing,
    such as an error page showing who is signed in.
    """
    row = conn.execute(
        select(
            web_sessions.c.csrf,
            web_sessions.c.expires_at,
            web_sessions.c.last_seen_at,
            users.c.name,
        )
        .join(users, users.c.id == web_sessions.c.user_id)
        .where(web_sessions.c.id == _key(token))
    ).one_or_none()
    now = timestamps.now()
    if row is None or row.expires_at <= now:
        raise Unauthenticated("your session has ended: sign in again")
    if slide and timestamps.parse(now) - timestamps.parse(row.last_seen_at) >= _REFRESH_AFTER:
        conn.execute(
            web_sessions.update()
            .where(web_sessions.c.id == _key(token))
            .values(last_seen_at=now, expires_at=_expiry(now, hours))
        )
    return WebSession(load_actor(conn, row.name), row.csrf)


def end_session(conn: Connection, trail: AuditTrail, token: str) -> None:
    """Sign out: the cookie's session is deleted (a copy of the cookie is worthless)."""
    row = conn.execute(
        select(users.c.name)
        .join(web_sessions, users.c.id == web_sessions.c.user_id)
        .where(web_sessions.c.id == _key(token))
    ).one_or_none()
    conn.execute(delete(web_sessions).where(web_sessions.c.id == _key(token)))
    if row is not None:
        trail.record(conn, "web.logout", f"user {row.name}", {})
