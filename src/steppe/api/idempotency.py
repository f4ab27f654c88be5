"""``Idempotency-Key`` on POST: a retried request is answered from the first one.

The key row is written in the same transaction as the request's effect, so either both
land or neither does; a concurrent duplicate loses on the primary key and then replays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import Request
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError as DbIntegrityError
from starlette.responses import Response

from steppe.errors import Conflict, InputError
from steppe.sharing.model import Actor
from steppe.storage import timestamps
from steppe.storage.engine import writing
from steppe.storage.schema import idempotency_keys

__all__ = ["request_fingerprint", "run_idempotent"]

_MAX_KEY = 200


async def request_fingerprint(request: Request) -> str:
    body = await request.body()
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.url.path.encode() + b"?")
    digest.update(request.url.query.encode() + b"\n")
    digest.update(body)
    return digest.hexdigest()


def run_idempotent(
    engine: Engine,
    actor: Actor,
    key: str | None,
    fingerprint: str,
    action: Callable[[Connection], tuple[int, Any]],
) -> Response:
    """Run ``action`` in one transaction and answer with its (status, JSON body).

    With a key, the answer is stored with the effect; a retry with the same key and the
    same request gets the stored answer (``Idempotent-Replayed: true``), a retry with the
    same key and another request is refused.
    """
    if key is not None and (not key or len(key) > _MAX_KEY):
        raise InputError(f"must be 1-{_MAX_KEY} characters", field="header.Idempotency-Key")
    if key is None:
        with writing(engine) as conn:
            status, body = action(conn)
        return _json(status, body)
    replay = _stored(engine, actor, key, fingerprint)
    if replay is not None:
        return replay
    try:
        with writing(engine) as conn:
            status, body = action(conn)
            conn.execute(
                insert(idempotency_keys).values(
                    user_id=actor.user_id,
                    key=key,
                    request_hash=fingerprint,
                    status=status,
                    response=orjson.dumps(body).decode(),
                    created_at=timestamps.now(),
                )
            )
    except DbIntegrityError:
        replay = _stored(engine, actor, key, fingerprint)
        if replay is None:
            raise
        return replay
    return _json(status, body)


def _stored(engine: Engine, actor: Actor, key: str, fingerprint: str) -> Response | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.user_id == actor.user_id, idempotency_keys.c.key == key
            )
        ).one_or_none()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict("Idempotency-Key was already used for a different request; use a new key")
    response = Response(row.response, status_code=row.status, media_type="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
