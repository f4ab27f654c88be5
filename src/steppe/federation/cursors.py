"""Signed, stateless TAXII ``next`` cursors.

A cursor carries where the previous page stopped — the ``(date_added, pk)`` of its last
row — the filter the pages are read with, the collection and the user it was issued to,
all signed with an HMAC of the secret key. Nothing is kept on the server: any process of
the center can answer the next page, and the policy is applied again on every page.

    >>> codec = CursorCodec("a-secret-key-of-some-length")
    >>> token = codec.encode(Cursor(user_id=3, collection="c", endpoint="objects",
    ...                             filter={"types": ["indicator"]}, after=("2026-01-01T00:00:00.000000Z", 41)))
    >>> codec.decode(token, user_id=3, collection="c", endpoint="objects").after
    ('2026-01-01T00:00:00.000000Z', 41)
    >>> codec.decode(token, user_id=4, collection="c", endpoint="objects")
    Traceback (most recent call last):
    ...
    steppe.errors.InputError: next: was issued to another user
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson

from steppe.errors import InputError

__all__ = ["Cursor", "CursorCodec"]


@dataclass(frozen=True, slots=True)
class Cursor:
    user_id: int
    collection: str
    endpoint: str  # objects, manifest, object, versions
    filter: dict[str, Any]
    after: tuple[str, int]  # (imported_at, pk) of the last row served


class CursorCodec:
    """Encodes and checks cursors with a key derived from the center's secret key."""

    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(
            secret_key.encode(), b"steppe taxii cursor v1", hashlib.sha256
        ).digest()

    def encode(self, cursor: Cursor) -> str:
        payload = orjson.dumps(
            {
                "u": cursor.user_id,
                "c": cursor.collection,
                "e": cursor.endpoint,
                "f": cursor.filter,
                "a": list(cursor.after),
            },
            option=orjson.OPT_SORT_KEYS,
        )
        body = _b64(payload)
        return f"{body}.{_b64(self._sign(body))}"

    def decode(self, token: str, *, user_id: int, collection: str, endpoint: str) -> Cursor:
        """The cursor in ``token``; InputError when it is forged, foreign or malformed."""
        body, _, signature = token.partition(".")
        try:
            given = _unb64(signature)
        except (ValueError, binascii.Error):
            raise _bad("is not a cursor this server issued") from None
        if not hmac.compare_digest(given, self._sign(body)):
            raise _bad("is not a cursor this server issued")
        try:
            doc = orjson.loads(_unb64(body))
            cursor = Cursor(
                user_id=int(doc["u"]),
                collection=str(doc["c"]),
                endpoint=str(doc["e"]),
                filter=dict(doc["f"]),
                after=(str(doc["a"][0]), int(doc["a"][1])),
            )
        except (ValueError, KeyError, TypeError, IndexError, binascii.Error):
            raise _bad("is not a cursor this server issued") from None
        if cursor.user_id != user_id:
            raise _bad("was issued to another user")
        if cursor.collection != collection or cursor.endpoint != endpoint:
            raise _bad("was issued for another collection or endpoint")
        return cursor

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:20]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bad(message: str) -> InputError:
    return InputError(message, field="next")
