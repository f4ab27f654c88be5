"""The bus between ingest and detection: a small :class:`Broker` protocol.

Ingest publishes each accepted batch of telemetry on ``telemetry.<organisation id>``;
detection subscribes to ``telemetry.*``. The embedded default is :class:`InProcessBroker`
(a bounded queue per subscription, delivered by one thread each); a NATS JetStream
implementation can take its place without either side changing.

>>> broker = InProcessBroker()
>>> seen = []
>>> sub = broker.subscribe("telemetry.*", lambda m: seen.append((m.subject, m.data)))
>>> broker.publish("telemetry.7", b"[]")
>>> broker.drain()
>>> seen
[('telemetry.7', b'[]')]
>>> broker.close()

The lake, not the broker, is what makes an accepted event durable. A subscriber that
falls behind its queue bound loses deliveries — counted in :attr:`Subscription.dropped`,
never silently — and catches up from the lake (batch detection over a time window).
"""

from __future__ import annotations

import fnmatch
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Broker", "InProcessBroker", "Message", "Subscription", "telemetry_subject"]

log = logging.getLogger(__name__)


def telemetry_subject(organisation_id: int) -> str:
    return f"telemetry.{organisation_id}"


@dataclass(frozen=True, slots=True)
class Message:
    """``data``: the batch, serialised; or, handed over in-process by
    :meth:`Broker.publish_table`, ``table`` (the lake's rows) and no ``data``."""

    subject: str
    data: bytes
    table: Any = None


Handler = Callable[[Message], None]


class Broker(Protocol):
    def publish(self, subject: str, data: bytes) -> None:
        """Hand ``data`` to every subscription whose pattern matches ``subject``."""

    def publish_table(self, subject: str, table: Any) -> None:
        """:meth:`publish` a batch of the lake's rows (a ``pyarrow.Table`` with
        ``organisation``): in-process as it is; a networked broker sends it as the spool
        writes such rows (:func:`steppe.lake.batches.encode_table`)."""

    def subscribe(self, pattern: str, handler: Handler) -> Subscription:
        """Deliver matching messages to ``handler``; ``*`` matches one subject token."""

    def wants(self, subject: str) -> bool:
        """Whether anyone listens on ``subject`` (a networked broker answers True):
        publishers skip serialising a batch nobody will read."""

    def close(self) -> None: ...


@dataclass(eq=False)
class Subscription:
    """One consumer: its pattern, its bounded queue and what it has seen."""

    pattern: str
    handler: Handler
    capacity: int
    delivered: int = 0
    dropped: int = 0
    failed: int = 0
    _queue: queue.Queue[Message | None] = field(init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._queue = queue.Queue(maxsize=self.capacity)

    def matches(self, subject: str) -> bool:
        ours, theirs = self.pattern.split("."), subject.split(".")
        return len(ours) == len(theirs) and all(
            fnmatch.fnmatchcase(t, o) for o, t in zip(ours, theirs, strict=True)
        )

    def offer(self, message: Message) -> None:
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "subscription %s is behind: %d messages dropped (catch up from the lake)",
                    self.pattern,
                    self.dropped,
                )

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"broker:{self.pattern}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            try:
                if message is None:
                    return
                try:
                    self.handler(message)
                    self.delivered += 1
                except Exception:
                    # One bad message must not stop the consumer; it is counted and logged.
                    self.failed += 1
                    log.exception("subscription %s failed on %s", self.pattern, message.subject)
            finally:
                self._queue.task_done()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


class InProcessBroker:
    """The embedded broker: subscriptions in this process, a thread and a bounded queue each."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._subscriptions: list[Subscription] = []
        self._lock = threading.Lock()

    def publish(self, subject: str, data: bytes) -> None:
        self._offer(Message(subject, data))

    def publish_table(self, subject: str, table: Any) -> None:
        # No copy, no encoding: subscribers only read the table (Arrow's are immutable).
        self._offer(Message(subject, b"", table))

    def _offer(self, message: Message) -> None:
        subject = message.subject
        with self._lock:
            subscriptions = list(self._subscriptions)
        for sub in subscriptions:
            if sub.matches(subject):
                sub.offer(message)

    def wants(self, subject: str) -> bool:
        with self._lock:
            return any(sub.matches(subject) for sub in self._subscriptions)

    def subscribe(self, pattern: str, handler: Handler) -> Subscription:
        sub = Subscription(pattern, handler, self.capacity)
        sub.start()
        with self._lock:
            self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscriptions.remove(sub)
        sub.stop()

    def drain(self) -> None:
        """Wait until every message published so far has been handled (tests, shutdown)."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for sub in subscriptions:
            sub._queue.join()

    def close(self) -> None:
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for sub in subscriptions:
            sub.stop()
