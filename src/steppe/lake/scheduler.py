"""A background thread that keeps the lake, for `steppe serve`: retention and compaction.

Every ``STEPPE_LAKE_RETENTION_EVERY_SECONDS`` (default an hour; 0 turns it off) it prunes
the day partitions past each organisation's retention
(:func:`~steppe.lake.retention.apply_retention`: audited ``lake.prune`` as
``scheduler:retention``, and logged), then merges the files of each day at least
:data:`COMPACT_AFTER_DAYS` old into one (:meth:`steppe.lake.EventLake.compact`, as
``steppe lake compact`` does; logged): the writer makes a file per organisation and day
at every flush — up to 86,400 a day at the default 1 s — and a hunt pays ~2.5 ms a file.
A day is merged once; late events make a second file, merged at a later round. The
first round runs one interval after the start,
so a server (or a test) that starts never deletes anything at once. Started by the
server's lifespan, never at import time, and stopped with it; a failing round is logged
and the next one tries again.

    >>> scheduler = RetentionScheduler(engine, trail, lake_root, default_days=90, every=3600)  # doctest: +SKIP
    >>> scheduler.start(); ...; scheduler.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import Engine

from steppe.audit.trail import AuditTrail
from steppe.lake.lake import EventLake
from steppe.lake.partitions import Partition
from steppe.lake.retention import apply_retention
from steppe.workers.periodic import PeriodicWorker

__all__ = ["COMPACT_AFTER_DAYS", "RetentionScheduler"]

#: Days are compacted once this many days old (today and yesterday still get events).
COMPACT_AFTER_DAYS = 2

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
        self.compacted = 0  # partitions merged since the start
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
        """One round: prune what is past retention now, then compact the past days;
        return the partitions pruned. Never raises."""
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
        self._compact()
        return gone

    def _compact(self) -> None:
        now = datetime.combine(self.today(), time(), tzinfo=UTC)
        try:
            merged = EventLake(self.lake_root).compact(now, min_age_days=COMPACT_AFTER_DAYS)
        except Exception:  # a disk error: the files are intact (see compaction), retry later
            log.exception("compaction: the round failed")
            return
        self.compacted += len(merged)
        if merged:
            log.info(
                "compaction: %d day partitions merged (%s)",
                len(merged),
                ", ".join(f"{p.organisation}/{p.day.isoformat()}: {n} files" for p, n in merged),
            )
