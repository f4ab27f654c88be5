"""RFC 9457 problem details: every error the API returns has this shape.

    {"type": "https://steppe.dev/problems/not-found", "title": "Not Found", "status": 404,
     "detail": "no object 'indicator--…'", "instance": "/api/v1/intel/objects/…"}

Input errors add ``errors``: one entry per problem with its ``field`` (a path such as
``body.values[3]`` or ``objects[12].pattern``) and, for uploaded files, ``line``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from steppe.errors import InputError, RateLimited, SteppeError

__all__ = ["PROBLEM_JSON", "TITLES", "document_problems", "install_problem_handlers", "problem"]

PROBLEM_JSON = "application/problem+json"

#: Titles (and so ``type`` URIs) fixed here: Python renames some status phrases between
#: versions (413, 422 in 3.13), and clients match on these.
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
}

#: JSON schema of a problem document, for the OpenAPI description.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["message"],
                "properties": {
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                    "line": {"type": "integer"},
                    "source": {"type": "string"},
                },
            },
        },
    },
}


def document_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """Give every operation its possible error answers, all as problem+json."""
    spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    spec["components"]["schemas"].pop("HTTPValidationError", None)
    spec["components"]["schemas"].pop("ValidationError", None)
    ref = {"$ref": "#/components/schemas/Problem"}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status in (400, 401, 403, 404, 409, 413, 422, 429, 500):
                responses[str(status)] = {
                    "description": TITLES[status],
                    "content": {PROBLEM_JSON: {"schema": ref}},
                }
            responses["429"]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}
            }
    return spec


_TYPE_BASE = "https://steppe.dev/problems/"


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    title = TITLES.get(status) or HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": _TYPE_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


async def _steppe_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SteppeError)
    headers = None
    errors = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
    if exc.status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="steppe"'}
    if isinstance(exc, InputError):
        entry: dict[str, Any] = {"message": exc.message}
        if exc.field:
            entry["field"] = exc.field
        if exc.line is not None:
            entry["line"] = exc.line
        if exc.source is not None:
            entry["source"] = exc.source
        errors = [entry]
    return problem(exc.status, str(exc), instance=request.url.path, errors=errors, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _location(err.get("loc", ())), "message": str(err.get("msg", "invalid"))}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, f"invalid request: {summary}", instance=request.url.path, errors=errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return problem(
        exc.status_code,
        str(exc.detail),
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Never a traceback to the client; the server log has it.
    return problem(500, "internal error; the server log has the details", instance=request.url.path)


def install_problem_handlers(app: Any) -> None:
    app.add_exception_handler(SteppeError, _steppe_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
