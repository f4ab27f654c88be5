"""A background thread that pulls due feeds, for `steppe serve`.

Off unless ``STEPPE_FEED_SCHEDULER=true``; started by the server's lifespan, never at
import time, and stopped with it. Every check runs :func:`~.pull.pull_due`, which
records each feed's failure and carries on; anything unexpected is logged and the
thread keeps going.

    >>> scheduler = FeedScheduler(engine, trail, limits, every=60.0)  # doctest: +SKIP
    >>> scheduler.start(); ...; scheduler.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from steppe.audit.trail import AuditTrail
from steppe.ingest.feeds.fetch import FetchLimits
from steppe.ingest.feeds.pull import PullResult, pull_due
from steppe.intel.config import IntelConfig

__all__ = ["FeedScheduler"]

log = logging.getLogger(__name__)


class FeedScheduler:
    def __init__(
        self,
        engine: Engine,
        trail: AuditTrail,
        limits: FetchLimits,
        *,
        every: float,
        config: IntelConfig | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.trail = trail
        self.limits = limits
        self.every = every
        self.rounds = 0
        self.last: list[PullResult] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="steppe-feeds", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop and wait for the pull in progress, if any, to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> list[PullResult]:
        try:
            self.last = pull_due(self.engine, self.trail, limits=self.limits, config=self.config)
        except Exception:  # e.g. the database is briefly unreachable: try again next round
            log.exception("feed scheduler: the round failed")
            self.last = []
        self.rounds += 1
        return self.last

    def _run(self) -> None:
        # A first round at once (due feeds of a server that was down get pulled), then
        # one per interval until stopped.
        while True:
            self.run_once()
            if self._stop.wait(self.every):
                return
