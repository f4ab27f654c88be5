"""A background thread that applies telemetry retention, for `steppe serve`.

Every ``STEPPE_LAKE_RETENTION_EVERY_SECONDS`` (default an hour; 0 turns it off) it prunes
the day partitions past each organisation's retention
(:func:`~steppe.lake.retention.apply_retention`: audited ``lake.prune`` as
``scheduler:retention``, and logged). The first round runs one interval after the start,
so a server (or a test) that starts never deletes anything at once. Started by the
server's lifespan, never at import time, and stopped with it; a failing round is logged
and the next one tries again.

    >>> scheduler = RetentionScheduler(engine, trail, lake_root, default_days=90, every=3600)  # doctest: +SKIP
    >>> scheduler.start(); ...; scheduler.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine

from steppe.audit.trail import AuditTrail
from steppe.lake.partitions import Partition
from steppe.lake.retention import apply_retention
from steppe.workers.periodic import PeriodicWorker

__all__ = ["RetentionScheduler"]

log = logging.getLogger(__name__)


def _today() -> date:
    return datetime.now(UTC).date()


class RetentionScheduler:
    def __init__(
        self,
        engine: Engine,
        trail: AuditTrail,
        lake_root: Path,
        *,
        default_days: int,
        every: float,
        today: Callable[[], date] = _today,
    ) -> None:
        self.engine = engine
        self.trail = trail
        self.lake_root = lake_root
        self.default_days = default_days
        self.every = every
        self.today = today
        self.rounds = 0
        self.pruned = 0  # partitions removed since the start
        self._worker = PeriodicWorker(
            "steppe-retention", self.run_once, every=every, first_at_once=False
        )

    @property
    def running(self) -> bool:
        return self._worker.running

    def start(self) -> None:
        self._worker.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop and wait for the round in progress, if any, to end."""
        self._worker.stop(timeout)

    def run_once(self) -> list[Partition]:
        """One round: prune what is past retention now. Never raises."""
        try:
            gone = apply_retention(
                self.engine, self.trail, self.lake_root, self.today(), self.default_days
            )
        except Exception:  # the database or the disk is briefly unwell: next round retries
            log.exception("retention: the round failed")
            gone = []
        self.rounds += 1
        self.pruned += len(gone)
        if gone:
            log.info(
                "retention: pruned %d day partitions (%s)",
                len(gone),
                ", ".join(f"{p.organisation}/{p.day.isoformat()}" for p in gone),
            )
        return gone
