"""Who is asking, for web pages: the session cookie, the CSRF check, role checks.

A page without a valid session redirects to the sign-in page (and back after); a
fragment or form post answers 401. Every unsafe request (POST) must carry the session's
CSRF token, as the form field ``csrf_token`` or the header ``X-CSRF-Token``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated, Protocol
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, Unauthenticated
from steppe.settings import Settings
from steppe.sharing.model import Actor
from steppe.web.sessions import WebSession, load_session

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "LoginRequired",
    "PageSession",
    "WebConn",
    "WebServices",
    "check_csrf",
    "optional_session",
    "services",
    "web_trail",
]

COOKIE = "steppe_session"
CSRF_HEADER = "x-csrf-token"


class WebServices(Protocol):
    """What the pages use of the app's services (built by ``steppe.api.app.create_app``)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def secret_key(self) -> str: ...


def services(request: Request) -> WebServices:
    found: WebServices = request.app.state.services
    return found


class LoginRequired(Unauthenticated):
    """No valid session on a page: the handler redirects to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in to see this page")
        self.next_path = next_path


def _connection(request: Request) -> Iterator[Connection]:
    """A connection for reading; a handler that writes opens its own transaction
    (``services(request).engine.begin()``), committed before it answers."""
    with services(request).engine.connect() as conn:
        yield conn


WebConn = Annotated[Connection, Depends(_connection)]


def _session(request: Request) -> WebSession:
    token = request.cookies.get(COOKIE)
    svc = services(request)
    if token:
        try:
            with svc.engine.begin() as conn:  # the sliding expiry may write
                return load_session(conn, token, hours=svc.settings.web_session_hours)
        except Unauthenticated:
            pass
    if request.method == "GET" and not request.headers.get("x-steppe-fragment"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(quote(target, safe="/?=&"))
    raise Unauthenticated("your session has ended: sign in again")


PageSession = Annotated[WebSession, Depends(_session)]


def optional_session(request: Request) -> WebSession | None:
    """The signed-in session, if any (error pages keep the navigation with it)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    svc = services(request)
    try:
        with svc.engine.connect() as conn:
            # A read-only look: this connection is never committed, so sliding the
            # expiry here would only be an UPDATE rolled back.
            return load_session(conn, token, hours=svc.settings.web_session_hours, slide=False)
    except Unauthenticated:
        return None


async def check_csrf(request: Request, session: PageSession) -> WebSession:
    """For POST handlers: the session, once its CSRF token is confirmed."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise Forbidden("the form has expired or did not come from this site: reload the page")
    return session


def web_trail(request: Request, actor: Actor) -> AuditTrail:
    return AuditTrail(key=services(request).secret_key, actor=f"user:{actor.user_name}")
