"""Request size limit (413) and per-token rate limit (429 with Retry-After)."""

from __future__ import annotations

import threading
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from steppe.errors import RateLimited

__all__ = ["BodySizeLimit", "RateLimiter"]


class BodySizeLimit:
    """ASGI middleware: refuse bodies over ``max_bytes`` before they are read in full."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._refuse(scope, send)
                    return
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = orjson.dumps(
            {
                "type": "https://steppe.dev/problems/content-too-large",
                "title": "Content Too Large",
                "status": 413,
                "detail": f"request body is larger than {self.max_bytes} bytes",
                "instance": scope.get("path", ""),
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
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
