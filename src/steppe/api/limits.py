"""Request size limit (413) and per-token rate limit (429 with Retry-After)."""

from __future__ import annotations

import contextlib
import threading
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from steppe.errors import RateLimited

__all__ = ["RateLimiter", "RequestGuard"]


class RequestGuard:
    """ASGI middleware for what no route should have to think about.

    - Bodies over ``max_bytes`` get 413, whether announced by Content-Length or found
      while reading a chunked body (then the app's own answer is replaced).
    - NUL characters — in the path, the query or the body (raw or as ``\\u0000``) —
      get 422: PostgreSQL text cannot hold them, and no STIX or directory value needs one.
      Paths under ``binary_paths`` (telemetry: gzip bodies, raw logs) skip the body check.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, binary_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.binary_paths = binary_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            await _refuse(
                scope,
                send,
                422,
                "Unprocessable Content",
                "NUL characters are not accepted in the path or query",
            )
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._too_large(scope, send)
                    return
        check_nul = not scope.get("path", "").startswith(self.binary_paths)
        received = 0
        refusal: tuple[int, str, str] | None = None
        tail = b""

        async def guarded_receive() -> Message:
            nonlocal received, refusal, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                window = tail + chunk
                if received > self.max_bytes:
                    refusal = (
                        413,
                        "Content Too Large",
                        f"request body is larger than {self.max_bytes} bytes",
                    )
                    raise _Refused
                if check_nul and (b"\x00" in window or b"\\u0000" in window):
                    refusal = (
                        422,
                        "Unprocessable Content",
                        "NUL characters are not accepted in the body",
                    )
                    raise _Refused
                tail = window[-5:]
            return message

        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refusal is not None:
                return  # the app answered a body it could not read; ours replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_Refused):
            await self.app(scope, guarded_receive, guarded_send)
        if refusal is not None and not started:
            await _refuse(scope, send, *refusal)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        await _refuse(
            scope,
            send,
            413,
            "Content Too Large",
            f"request body is larger than {self.max_bytes} bytes",
        )


async def _refuse(scope: Scope, send: Send, status: int, title: str, detail: str) -> None:
    body = orjson.dumps(
        {
            "type": "https://steppe.dev/problems/" + title.lower().replace(" ", "-"),
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path", ""),
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _Refused(Exception):
    pass


class RateLimiter:
    """A token bucket per API token: ``burst`` at once, ``per_minute`` sustained.

    In memory, per process: with several API processes each enforces its own share.
    """

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, now: float | None = None) -> None:
        moment = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, moment))
            tokens = min(self.burst, tokens + (moment - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, moment)
                wait = (1.0 - tokens) / self.rate
                raise RateLimited(
                    f"rate limit of {self.rate * 60:.0f} requests per minute exceeded; "
                    f"retry in {wait:.1f} s",
                    retry_after=wait,
                )
            self._buckets[key] = (tokens - 1.0, moment)
            if len(self._buckets) > 100_000:  # forget idle tokens
                self._buckets = {k: v for k, v in self._buckets.items() if moment - v[1] < 3600}
