"""Tokens authenticated in the last moment, so a sensor's stream of telemetry requests
does not look its token up in the database for each.

Used by ``POST /api/v1/telemetry`` only (:func:`steppe.api.deps.sensor_actor`): the
look-up itself is ~0.3 ms, but as a synchronous dependency it took two thread hops and
waits for the GIL behind the requests being decoded — 2.2 ms a request with one sender,
3.3 to 3.9 ms with two, of the 15 to 25 ms a 5,000-event request took end to end
(``bench/telemetry_ingest.py``'s bodies, timed in the server; with this 0.6 ms).

What it costs: a token revoked or expired, a role taken away, takes effect on telemetry
submission up to ``seconds`` later in a process that has just seen it (every other
route looks the token up on each request). Only successful look-ups are kept; the rate
limit is checked on every request as before.

    >>> from steppe.sharing.model import Actor, OrgKind
    >>> recent = RecentTokens(seconds=1.0)
    >>> actor = Actor(1, "sensor.kz", 7, OrgKind.MEMBER, frozenset(), frozenset())
    >>> recent.get("h", now=10.0) is None
    True
    >>> recent.put("h", actor, now=10.0)
    >>> recent.get("h", now=10.5) is actor, recent.get("h", now=11.0)
    (True, None)
"""

from __future__ import annotations

import threading

from steppe.sharing.model import Actor

__all__ = ["RecentTokens"]


class RecentTokens:
    """Actors by token hash for ``seconds`` after their look-up; at most ``size`` of them."""

    def __init__(self, seconds: float, size: int = 4096) -> None:
        self.seconds = seconds
        self.size = size
        self._lock = threading.Lock()
        self._actors: dict[str, tuple[Actor, float]] = {}

    def get(self, token_hash: str, *, now: float) -> Actor | None:
        with self._lock:
            found = self._actors.get(token_hash)
            if found is None:
                return None
            if found[1] <= now:
                del self._actors[token_hash]
                return None
            return found[0]

    def put(self, token_hash: str, actor: Actor, *, now: float) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            if len(self._actors) >= self.size:
                self._actors = {k: v for k, v in self._actors.items() if v[1] > now}
                if len(self._actors) >= self.size:
                    self._actors.clear()
            self._actors[token_hash] = (actor, now + self.seconds)
