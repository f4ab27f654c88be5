"""The telemetry side of a running Steppe: its lake, broker and intake, started once.

The API and the CLI each build one :class:`TelemetryService` from Settings; nothing
starts until the first event arrives (tests and read-only commands never spin up the
lake's flusher), and :meth:`close` writes what is spooled before the process ends.
"""

from __future__ import annotations

import threading

from steppe.ingest.telemetry.intake import TelemetryIntake
from steppe.lake import EventLake
from steppe.settings import Settings
from steppe.workers.broker import Broker, InProcessBroker

__all__ = ["TelemetryService"]


class TelemetryService:
    def __init__(self, settings: Settings, broker: Broker | None = None) -> None:
        self.settings = settings
        self.broker: Broker = broker if broker is not None else InProcessBroker()
        self._lock = threading.Lock()
        self._lake: EventLake | None = None
        self._intake: TelemetryIntake | None = None

    @property
    def lake(self) -> EventLake:
        with self._lock:
            if self._lake is None:
                lake = EventLake.from_settings(self.settings)
                lake.start()  # replays what a crash left in the spool
                self._lake = lake
            return self._lake

    @property
    def intake(self) -> TelemetryIntake:
        lake = self.lake
        with self._lock:
            if self._intake is None:
                self._intake = TelemetryIntake(lake, self.broker)
            return self._intake

    @property
    def started(self) -> bool:
        return self._lake is not None

    def close(self) -> None:
        with self._lock:
            lake, self._lake, self._intake = self._lake, None, None
        if lake is not None:
            lake.close()
        self.broker.close()
