"""Signing in and out: ``/login`` (user name and password), ``/logout``.

Before a session exists, the sign-in form is protected against cross-site posting by a
double-submitted token (a cookie and the same value in the form); after, every form
carries the session's own CSRF token (:func:`steppe.web.deps.check_csrf`).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from steppe.audit.trail import AuditTrail
from steppe.errors import Unauthenticated
from steppe.sharing.credentials import authenticate_password
from steppe.web.deps import COOKIE, check_csrf, services
from steppe.web.rendering import HtmlRoute, render
from steppe.web.sessions import WebSession, end_session, open_session

__all__ = ["router"]

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)

_LOGIN_CSRF = "steppe_login_csrf"


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would help phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    return target


def _secure(request: Request) -> bool:
    return services(request).settings.web_secure_cookies


def _login_form(
    request: Request, *, next_path: str, user: str = "", error: str | None = None, status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status=status,
        login_csrf=token,
        next_path=next_path,
        user=user,
        error=error,
    )
    response.set_cookie(
        _LOGIN_CSRF, token, httponly=True, samesite="strict", secure=_secure(request), path="/login"
    )
    return response


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return _login_form(request, next_path=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    user: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    login_csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=2000)] = "/dashboard",
) -> Response:
    target = _safe_next(next)
    cookie = request.cookies.get(_LOGIN_CSRF, "")
    if not cookie or not hmac.compare_digest(cookie, login_csrf):
        return _login_form(
            request,
            next_path=target,
            user=user,
            error="The sign-in form expired. Please try again.",
            status=403,
        )
    svc = services(request)
    try:
        with svc.engine.begin() as conn:
            actor = authenticate_password(conn, user, password)
            trail = AuditTrail(key=svc.secret_key, actor=f"user:{actor.user_name}")
            opened = open_session(conn, trail, actor, hours=svc.settings.web_session_hours)
    except Unauthenticated as exc:
        return _login_form(request, next_path=target, user=user, error=exc.message, status=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        opened.token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=int(svc.settings.web_session_hours * 3600),
    )
    response.delete_cookie(_LOGIN_CSRF, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, session: Annotated[WebSession, Depends(check_csrf)]) -> Response:
    token = request.cookies.get(COOKIE, "")
    svc = services(request)
    with svc.engine.begin() as conn:
        end_session(
            conn, AuditTrail(key=svc.secret_key, actor=f"user:{session.actor.user_name}"), token
        )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
