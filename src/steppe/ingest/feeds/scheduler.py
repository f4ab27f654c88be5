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

from sqlalchemy import Engine

from steppe.audit.trail import AuditTrail
from steppe.ingest.feeds.fetch import FetchLimits
from steppe.ingest.feeds.pull import PullResult, pull_due
from steppe.intel.config import IntelConfig
from steppe.workers.periodic import PeriodicWorker

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
        # A first round at once (due feeds of a server that was down get pulled), then
        # one per interval until stopped.
        self._worker = PeriodicWorker(
            "steppe-feeds", self.run_once, every=every, first_at_once=True
        )

    @property
    def running(self) -> bool:
        return self._worker.running

    def start(self) -> None:
        self._worker.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop and wait for the pull in progress, if any, to end."""
        self._worker.stop(timeout)

    def run_once(self) -> list[PullResult]:
        try:
            self.last = pull_due(self.engine, self.trail, limits=self.limits, config=self.config)
        except Exception:  # e.g. the database is briefly unreachable: try again next round
            log.exception("feed scheduler: the round failed")
            self.last = []
        self.rounds += 1
        return self.last
