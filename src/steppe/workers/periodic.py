"""One daemon thread that runs a round of work every so many seconds, until stopped.

The server's background jobs — feed pulls, retention, playbooks, the IOC index's
refresh, Sigma rule reloads — share this loop instead of each keeping its own thread,
stop event and error handling. A round that raises is logged and the next one runs on
time: a database that is briefly unreachable must not end a job for good.

    >>> ticks = []
    >>> worker = PeriodicWorker("tick", lambda: ticks.append(1), every=0.01, first_at_once=True)
    >>> worker.start(); worker.stop()
    >>> ticks[:1]
    [1]
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["PeriodicWorker"]

log = logging.getLogger(__name__)


class PeriodicWorker:
    """Call ``work`` every ``every`` seconds on a daemon thread named ``name``.

    ``first_at_once``: the first round runs when the thread starts (due feeds of a server
    that was down) rather than one interval later (retention, which must never delete
    anything the moment a server or a test starts). ``every`` may be a function, read
    before each wait, for intervals a setting can change.
    """

    def __init__(
        self,
        name: str,
        work: Callable[[], object],
        *,
        every: float | Callable[[], float],
        first_at_once: bool,
    ) -> None:
        self.name = name
        self.work = work
        self._every = every
        self.first_at_once = first_at_once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the thread (again after a stop); a second start does nothing."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the thread to stop and wait for the round in progress, if any, to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _interval(self) -> float:
        return self._every() if callable(self._every) else self._every

    def _round(self) -> None:
        try:
            self.work()
        except Exception:  # logged; the next round tries again
            log.exception("%s: the round failed", self.name)

    def _run(self) -> None:
        if self.first_at_once:
            self._round()
        while not self._stop.wait(self._interval()):
            self._round()
