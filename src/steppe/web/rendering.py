"""Rendering pages: the Jinja2 environment, the page frame's context, HTML errors.

Errors on a page render as an HTML page with the same status the API would give (never
a traceback); a page without a session redirects to ``/login?next=…``. Every answer
carries a strict Content-Security-Policy: the pages need no inline script or style.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from steppe.errors import SteppeError
from steppe.web.deps import LoginRequired, optional_session
from steppe.web.sessions import WebSession

__all__ = ["NAVIGATION", "HtmlRoute", "render"]

# Everything the pages load comes from this origin; inline scripts and styles are not
# needed, so they are refused (a stored value that slips through escaping cannot run).
_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}

_env = Environment(
    loader=PackageLoader("steppe.web", "templates"),
    autoescape=select_autoescape(["html", "svg"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: Navigation: (path, label, roles that see the entry; empty = every signed-in user).
NAVIGATION: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("/dashboard", "Situation", frozenset()),
    ("/alerts", "Alerts", frozenset()),
    ("/incidents", "Incidents", frozenset()),
    ("/intel", "Intel", frozenset()),
    ("/telemetry", "Telemetry", frozenset()),
    ("/sharing", "Sharing", frozenset()),
    ("/feeds", "Feeds", frozenset()),
    ("/audit", "Audit log", frozenset({"admin"})),
)


def _nav(session: WebSession | None) -> list[tuple[str, str]]:
    if session is None:
        return []
    roles = {r.value for r in session.actor.roles}
    return [(path, label) for path, label, need in NAVIGATION if not need or need & roles]


def render(
    request: Request,
    template: str,
    session: WebSession | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the page frame's context (user, navigation, CSRF token)."""
    page = _env.get_template(template).render(
        request_path=request.url.path,
        session=session,
        actor=session.actor if session is not None else None,
        csrf_token=session.csrf if session is not None else "",
        navigation=_nav(session),
        **context,
    )
    return HTMLResponse(page, status_code=status)


def _error_page(request: Request, status: int, message: str) -> Response:
    if request.headers.get("x-steppe-fragment"):
        return HTMLResponse(
            _env.get_template("_error.html").render(status=status, message=message),
            status_code=status,
        )
    session = optional_session(request)
    return render(
        request, "error.html", session, status=status, status_code=status, message=message
    )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "; ".join(parts) or "invalid input"


class HtmlRoute(APIRoute):
    """A page route: errors become HTML pages, every answer gets the security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired as exc:
                response = RedirectResponse(f"/login?next={exc.next_path}", status_code=303)
            except SteppeError as exc:
                response = _error_page(request, exc.status, exc.message)
            except RequestValidationError as exc:
                response = _error_page(request, 422, _validation_message(exc))
            for name, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return route
