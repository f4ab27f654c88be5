"""The TAXII 2.1 server at ``/taxii2/``: discovery, one API root, its collections.

    app.mount("/taxii2", create_taxii_app(settings, engine, secret_key, rate_check))

Every endpoint of TAXII 2.1 (OASIS, 2021) section 4 and 5: discovery, API root, status,
collections, collection, objects (GET, POST), object (GET, DELETE), versions, manifest.
Every answer is ``application/taxii+json;version=2.1`` — errors too, as TAXII error
resources — with 406 for an ``Accept`` it cannot answer, 415 for a body that is not a
TAXII envelope, 413 past ``max_content_length``, 401 without valid credentials, 403 for
what the caller's roles do not allow and 404 for what does not exist *or* the caller may
not see. Each path answers with and without its trailing slash.

Credentials: ``Authorization: Bearer <token>`` or HTTP Basic with the user name and an
API token as the password. The sharing policy decides every page (``next`` cursors are
signed, stateless, bound to the user and re-checked on use).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

import orjson
from sqlalchemy import Connection, Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from steppe.audit.trail import AuditTrail
from steppe.errors import InputError, NotFound, RateLimited, SteppeError, Unauthenticated
from steppe.federation.agreements import Agreement, agreement_for_org
from steppe.federation.collections import TaxiiCollection, collections_for, find_collection
from steppe.federation.cursors import Cursor, CursorCodec
from steppe.federation.intake import Intake, SpoolHeader, TaxiiIntake
from steppe.federation.intake_process import IntakeProcess
from steppe.federation.reading import ObjectFilter, Page, read_page, serialise_objects, version_of
from steppe.federation.writing import (
    StatusResource,
    add_objects,
    check_may_write,
    delete_object,
    get_status,
    spooled_importer,
)
from steppe.settings import Settings
from steppe.sharing.directory import authenticate_token
from steppe.sharing.model import Actor, OrgKind
from steppe.sharing.policy import require_reader
from steppe.storage import timestamps
from steppe.storage.engine import writing

__all__ = ["API_ROOT", "TAXII_MEDIA_TYPE", "create_taxii_app", "taxii_intake"]

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
_log = logging.getLogger(__name__)
API_ROOT = "steppe"
_ERROR_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


class TaxiiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True)
class _Context:
    settings: Settings
    engine: Engine
    secret_key: str
    rate_check: Callable[[str], None]
    cursors: CursorCodec
    intake: Intake | None


def create_taxii_app(
    settings: Settings,
    engine: Engine,
    secret_key: str,
    rate_check: Callable[[str], None],
    intake: Intake | None = None,
) -> Starlette:
    """The TAXII app, to mount at ``/taxii2`` (``rate_check(key)`` raises RateLimited).

    With an ``intake`` (see :func:`taxii_intake`), a POST is answered ``pending`` once
    its envelope is spooled and imported in the background; without, before answering.
    """
    ctx = _Context(settings, engine, secret_key, rate_check, CursorCodec(secret_key), intake)
    handlers: list[tuple[str, Callable[[_Context, Request], Response], list[str]]] = [
        ("/", _discovery, ["GET"]),
        ("/{root}/", _api_root, ["GET"]),
        ("/{root}/status/{status_id}/", _status, ["GET"]),
        ("/{root}/collections/", _collections, ["GET"]),
        ("/{root}/collections/{cid}/", _collection, ["GET"]),
        ("/{root}/collections/{cid}/objects/", _objects, ["GET", "POST"]),
        ("/{root}/collections/{cid}/objects/{oid}/", _object, ["GET", "DELETE"]),
        ("/{root}/collections/{cid}/objects/{oid}/versions/", _versions, ["GET"]),
        ("/{root}/collections/{cid}/manifest/", _manifest, ["GET"]),
    ]
    routes = []
    for path, handler, methods in handlers:
        endpoint = _endpoint(ctx, handler)
        routes.append(Route(path, endpoint, methods=methods))
        if path != "/":
            routes.append(Route(path.rstrip("/"), endpoint, methods=methods))
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


def taxii_intake(settings: Settings, engine: Engine, secret_key: str) -> Intake:
    """The spool and worker of asynchronous POSTs, under ``data_dir/taxii-intake``: the
    worker a child process with ``taxii_intake_process``, else a thread.

    Start it with the server (it then imports what a crashed process left) and stop it
    with it; a POST starts it too if the server did not.
    """
    root = settings.data_dir / "taxii-intake"
    in_memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
    if settings.taxii_intake_process and not in_memory:  # a child cannot share a memory db
        return IntakeProcess(
            root,
            engine.url.render_as_string(hide_password=False),
            secret_key,
            max_backlog_bytes=settings.taxii_intake_max_bytes,
        )
    import_group, give_up = spooled_importer(engine, secret_key)
    return TaxiiIntake(
        root, import_group, give_up=give_up, max_backlog_bytes=settings.taxii_intake_max_bytes
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """No such path (404) or method (405) under /taxii2/: a TAXII error resource too."""
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}))


def _endpoint(
    ctx: _Context, handler: Callable[[_Context, Request], Response]
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: TAXII error resources for every failure, never a traceback.

    A POST body is read here (up to ``max_content_length``); the handler itself, which
    talks to the database, runs in the thread pool.
    """

    @wraps(handler)
    async def run(request: Request) -> Response:
        try:
            if request.method == "POST":
                request.state.body = await _read_body(
                    request, ctx.settings.taxii_max_content_length
                )
            return await run_in_threadpool(handler, ctx, request)
        except TaxiiError as exc:
            return _error(exc.status, exc.description)
        except RateLimited as exc:
            return _error(429, exc.message, {"Retry-After": str(max(1, round(exc.retry_after)))})
        except InputError as exc:
            return _error(400, str(exc))
        except SteppeError as exc:
            return _error(exc.status, str(exc))
        except Exception:
            _log.exception("TAXII %s %s failed", request.method, request.url.path)
            return _error(500, "internal error; the server log has the details")

    return run


def _error(status: int, description: str, headers: dict[str, str] | None = None) -> Response:
    body = {
        "title": _ERROR_TITLES.get(status, "Error"),
        "description": description,
        "http_status": str(status),
    }
    if status == 401:
        headers = {"WWW-Authenticate": 'Basic realm="steppe-taxii", Bearer realm="steppe-taxii"'}
    return Response(
        orjson.dumps(body), status_code=status, media_type=TAXII_MEDIA_TYPE, headers=headers
    )


def _taxii(
    body: bytes | dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(data, status_code=status, media_type=TAXII_MEDIA_TYPE, headers=headers)


# --- the request's caller, media types, parameters --------------------------------------


def _check_accept(request: Request) -> None:
    accept = request.headers.get("accept")
    if accept is None:
        return
    for item in accept.split(","):
        media, *params = [p.strip().lower().replace(" ", "") for p in item.split(";")]
        version = next((p.split("=", 1)[1] for p in params if p.startswith("version=")), "2.1")
        if media in ("*/*", "application/*"):
            return
        if media == "application/taxii+json" and version == "2.1":
            return
    raise TaxiiError(406, f"cannot answer {accept!r}; accept {TAXII_MEDIA_TYPE}")


def _actor(ctx: _Context, request: Request, conn: Connection) -> Actor:
    _check_accept(request)
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    user: str | None = None
    if scheme.lower() == "bearer" and credentials.strip():
        token = credentials.strip()
    elif scheme.lower() == "basic" and credentials.strip():
        try:
            user, sep, token = (
                base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise Unauthenticated("malformed Basic credentials") from None
        if not sep or not token:
            raise Unauthenticated("Basic credentials need the user name and an API token")
    else:
        raise Unauthenticated(
            "send Authorization: Bearer <token>, or Basic with user name and token"
        )
    ctx.rate_check(hashlib.sha256(token.encode()).hexdigest())
    try:
        actor = authenticate_token(conn, token)
    except NotFound as exc:
        raise Unauthenticated(exc.message) from None
    if user is not None and user != actor.user_name:
        raise Unauthenticated("the token does not belong to that user")
    return actor


def _check_root(request: Request) -> None:
    if request.path_params["root"] != API_ROOT:
        raise NotFound(f"no API root {request.path_params['root']!r}")


def _collection_of(conn: Connection, actor: Actor, request: Request) -> TaxiiCollection:
    _check_root(request)
    require_reader(actor)
    return find_collection(conn, actor, request.path_params["cid"])


def _values(request: Request, name: str) -> tuple[str, ...]:
    found: list[str] = []
    for raw in request.query_params.getlist(name):
        found.extend(v.strip() for v in raw.split(",") if v.strip())
    return tuple(found)


def _filter(request: Request, default_versions: tuple[str, ...]) -> ObjectFilter:
    added_after = request.query_params.get("added_after")
    if added_after is not None:
        try:
            added_after = timestamps.normalise(added_after)
        except (ValueError, TypeError):
            raise InputError("is not an RFC 3339 timestamp", field="added_after") from None
    versions: list[str] = []
    for version in _values(request, "match[version]"):
        if version in ("first", "last", "all"):
            versions.append(version)
            continue
        try:
            versions.append(timestamps.normalise(version))
        except ValueError:
            raise InputError(
                f"{version!r} is not first, last, all or a timestamp", field="match[version]"
            ) from None
    return ObjectFilter(
        added_after,
        _values(request, "match[id]"),
        _values(request, "match[type]"),
        tuple(versions) or default_versions,
        _values(request, "match[spec_version]"),
    )


def _limit(ctx: _Context, request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return min(ctx.settings.taxii_page_size, ctx.settings.taxii_max_page_size)
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise InputError("must be a positive integer", field="limit")
    return min(int(raw), ctx.settings.taxii_max_page_size)


def _agreement(conn: Connection, actor: Actor) -> Agreement | None:
    return agreement_for_org(conn, actor.org_id) if actor.org_kind is OrgKind.PEER else None


def _page(
    ctx: _Context,
    request: Request,
    conn: Connection,
    actor: Actor,
    collection: TaxiiCollection,
    endpoint: str,
    flt: ObjectFilter,
    agreement: Agreement | None,
) -> tuple[Page, str | None]:
    """One page of the request's filter, or of its ``next`` cursor's; and the next cursor."""
    after = None
    token = request.query_params.get("next")
    if token:
        cursor = ctx.cursors.decode(
            token, user_id=actor.user_id, collection=collection.id, endpoint=endpoint
        )
        given = _has_filters(request)
        if given and cursor.filter != flt.to_dict():
            raise InputError("was issued for other filters than this request's", field="next")
        if cursor.filter.get("ids") != list(flt.ids) and endpoint in ("object", "versions"):
            raise InputError("was issued for another object", field="next")
        flt = ObjectFilter.from_dict(cursor.filter)
        after = cursor.after
    page = read_page(
        conn,
        actor,
        collection,
        flt,
        limit=_limit(ctx, request),
        after=after,
        agreement=agreement,
    )
    following = None
    if page.more:
        last = page.rows[-1]
        following = ctx.cursors.encode(
            Cursor(
                actor.user_id, collection.id, endpoint, flt.to_dict(), (last.date_added, last.pk)
            )
        )
    return page, following


def _has_filters(request: Request) -> bool:
    return any(k == "added_after" or k.startswith("match[") for k in request.query_params)


def _date_headers(page: Page) -> dict[str, str]:
    if not page.rows:
        return {}
    return {
        "X-TAXII-Date-Added-First": page.rows[0].date_added,
        "X-TAXII-Date-Added-Last": page.rows[-1].date_added,
    }


def _head(more: bool, following: str | None) -> str:
    head = '{"more":' + ("true" if more else "false")
    if following is not None:
        head += ',"next":' + orjson.dumps(following).decode()
    return head


# --- endpoints ----------------------------------------------------------------------------


def _discovery(ctx: _Context, request: Request) -> Response:
    with ctx.engine.connect() as conn:
        _actor(ctx, request, conn)
    base = f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"
    root = f"{base}/{API_ROOT}/"
    return _taxii(
        {
            "title": "Steppe TAXII",
            "description": "Shared threat intelligence of this center, filtered by its sharing policy.",
            "default": root,
            "api_roots": [root],
        }
    )


def _api_root(ctx: _Context, request: Request) -> Response:
    with ctx.engine.connect() as conn:
        _actor(ctx, request, conn)
    _check_root(request)
    return _taxii(
        {
            "title": "Steppe intelligence",
            "description": "Collections by audience: organisation, sharing groups, community, federation.",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": ctx.settings.taxii_max_content_length,
        }
    )


def _status(ctx: _Context, request: Request) -> Response:
    status_id = request.path_params["status_id"]
    with ctx.engine.connect() as conn:
        actor = _actor(ctx, request, conn)
        _check_root(request)
        # The spool first: its file goes only after the status row is committed. The
        # read transaction ends here, so the status query below sees the database as
        # it is after the spool was looked at (an older snapshot could miss a status
        # whose file has just gone: a 404 for an envelope that was accepted).
        conn.rollback()
        waiting = ctx.intake.pending(status_id, actor.user_id) if ctx.intake else None
        if waiting is not None:
            status = StatusResource(
                waiting.status_id, waiting.request_timestamp, waiting.total_count, [], []
            )
        else:
            status = get_status(conn, actor, status_id)
    return _taxii(status.to_dict())


def _collections(ctx: _Context, request: Request) -> Response:
    with ctx.engine.connect() as conn:
        actor = _actor(ctx, request, conn)
        _check_root(request)
        require_reader(actor)
        found = collections_for(conn, actor)
    return _taxii({"collections": [c.resource() for c in found]} if found else {})


def _collection(ctx: _Context, request: Request) -> Response:
    with ctx.engine.connect() as conn:
        actor = _actor(ctx, request, conn)
        collection = _collection_of(conn, actor, request)
    return _taxii(collection.resource())


def _objects(ctx: _Context, request: Request) -> Response:
    if request.method == "POST":
        return _add(ctx, request)
    with ctx.engine.connect() as conn:
        actor = _actor(ctx, request, conn)
        collection = _collection_of(conn, actor, request)
        agreement = _agreement(conn, actor)
        flt = _filter(request, ("last",))
        page, following = _page(ctx, request, conn, actor, collection, "objects", flt, agreement)
    return _envelope(page, following, agreement)


def _envelope(page: Page, following: str | None, agreement: Agreement | None) -> Response:
    text = _head(page.more, following)
    if page.rows:
        text += ',"objects":[' + serialise_objects(page.rows, agreement) + "]"
    return _taxii((text + "}").encode(), headers=_date_headers(page))


def _add(ctx: _Context, request: Request) -> Response:
    content_type = request.headers.get("content-type", "")
    media, *params = [p.strip().lower().replace(" ", "") for p in content_type.split(";")]
    if media != "application/taxii+json" or any(
        p.startswith("version=") and p != "version=2.1" for p in params
    ):
        raise TaxiiError(
            415, f"send the envelope as {TAXII_MEDIA_TYPE}, not {content_type or 'nothing'!r}"
        )
    with ctx.engine.connect() as conn:
        actor = _actor(ctx, request, conn)
        collection = _collection_of(conn, actor, request)
        conn.rollback()
    data: bytes = request.state.body
    try:
        envelope = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("objects", []), list):
        raise TaxiiError(400, 'expected a TAXII envelope: {"objects": [...]}')
    objects = envelope.get("objects", [])
    if ctx.intake is not None:
        check_may_write(actor, collection)
        header = SpoolHeader(
            str(uuid.uuid4()),
            actor.user_id,
            actor.user_name,
            collection.id,
            timestamps.now(),
            len(objects),
        )
        ctx.intake.spool(header, data)
        pending = StatusResource(header.status_id, header.request_timestamp, len(objects), [], [])
        return _taxii(pending.to_dict(), status=202)
    trail = AuditTrail(key=ctx.secret_key, actor=f"user:{actor.user_name}")
    with writing(ctx.engine) as conn:
        status = add_objects(conn, trail, actor, collection, data, objects)
    return _taxii(status.to_dict(), status=202)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TaxiiError(413, f"the body is larger than max_content_length ({limit} bytes)")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TaxiiError(413, f"the body is larger than max_content_length ({limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _object(ctx: _Context, request: Request) -> Response:
    oid = request.path_params["oid"]
    if request.method == "DELETE":
        flt = _filter(request, ("all",))
        with ctx.engine.connect() as conn:
            actor = _actor(ctx, request, conn)
            collection = _collection_of(conn, actor, request)
            conn.rollback()
        trail = AuditTrail(key=ctx.secret_key, actor=f"user:{actor.user_name}")
        with writing(ctx.engine) as conn:
            delete_object(conn, trail, actor, collection, oid, flt)
        return _taxii(b"", status=200)
    with ctx.engine.connect() as conn:
        actor = _actor(ctx, request, conn)
        collection = _collection_of(conn, actor, request)
        flt = _filter(request, ("last",))
        flt = ObjectFilter(flt.added_after, (oid,), (), flt.versions, flt.spec_versions)
        agreement = _agreement(conn, actor)
        page, following = _page(ctx, request, conn, actor, collection, "object", flt, agreement)
    if not page.rows and not request.query_params.get("next"):
        raise NotFound(f"no object {oid!r} in this collection")
    return _envelope(page, following, agreement)


def _versions(ctx: _Context, request: Request) -> Response:
    oid = request.path_params["oid"]
    with ctx.engine.connect() as conn:
        actor = _actor(ctx, request, conn)
        collection = _collection_of(conn, actor, request)
        flt = _filter(request, ("all",))
        flt = ObjectFilter(flt.added_after, (oid,), (), flt.versions, flt.spec_versions)
        agreement = _agreement(conn, actor)
        page, following = _page(ctx, request, conn, actor, collection, "versions", flt, agreement)
    if not page.rows and not request.query_params.get("next"):
        raise NotFound(f"no object {oid!r} in this collection")
    text = _head(page.more, following)
    if page.rows:
        text += ',"versions":' + orjson.dumps([version_of(r) for r in page.rows]).decode()
    return _taxii((text + "}").encode(), headers=_date_headers(page))


def _manifest(ctx: _Context, request: Request) -> Response:
    with ctx.engine.connect() as conn:
        actor = _actor(ctx, request, conn)
        collection = _collection_of(conn, actor, request)
        page, following = _page(
            ctx,
            request,
            conn,
            actor,
            collection,
            "manifest",
            _filter(request, ("last",)),
            _agreement(conn, actor),
        )
    text = _head(page.more, following)
    if page.rows:
        records = [
            {
                "id": r.stix_id,
                "date_added": r.date_added,
                "version": version_of(r),
                "media_type": "application/stix+json;version=2.1",
            }
            for r in page.rows
        ]
        text += ',"objects":' + orjson.dumps(records).decode()
    return _taxii((text + "}").encode(), headers=_date_headers(page))
