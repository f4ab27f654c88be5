"""What a telemetry event is once parsed, shared by every parser, the lake and detection.

A :data:`NormalisedEvent` is a plain dict: ECS field names (dotted, flat) to values, plus
``raw``, the record as it came (a dict, kept whole so Sigma rules and hunts can use the
original field names). Parsers fill what they can; absent fields are simply missing.
Timestamps are ISO 8601 UTC strings with microseconds and ``Z``
(:func:`steppe.storage.timestamps.format_ts`).

    >>> event: NormalisedEvent = {
    ...     "@timestamp": "2026-11-28T10:00:00.000000Z",
    ...     "event.dataset": "zeek.dns",
    ...     "source.ip": "10.0.0.5",
    ...     "dns.question.name": "evil.example",
    ...     "raw": {"query": "evil.example"},
    ... }

The lake stores every column of :data:`ECS_COLUMNS` typed, plus ``raw`` as JSON text and
``organisation``; adding a field here adds a column (append only: readers of old
partitions see it as null).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ECS_COLUMNS",
    "BulkLoader",
    "BulkSink",
    "ColumnKind",
    "EventSink",
    "NormalisedEvent",
    "ParseProblem",
    "TableSink",
]

NormalisedEvent = dict[str, Any]


class ColumnKind(StrEnum):
    STRING = "string"
    INT = "int"  # 64-bit signed
    TIMESTAMP = "timestamp"  # ISO string in the event, microsecond UTC timestamp in Parquet


#: The normalised fields, in lake column order. ``@timestamp`` is required of every
#: event (parsers fall back to the time of ingest and say so in ``event.ingested``).
ECS_COLUMNS: tuple[tuple[str, ColumnKind], ...] = (
    ("@timestamp", ColumnKind.TIMESTAMP),
    ("event.ingested", ColumnKind.TIMESTAMP),
    ("event.dataset", ColumnKind.STRING),  # zeek.conn, suricata.eve.alert, windows.sysmon …
    ("event.module", ColumnKind.STRING),  # zeek, suricata, windows, syslog, generic
    ("event.kind", ColumnKind.STRING),
    ("event.category", ColumnKind.STRING),
    ("event.action", ColumnKind.STRING),
    ("event.code", ColumnKind.STRING),
    ("event.severity", ColumnKind.INT),
    ("observer.name", ColumnKind.STRING),  # the sensor that saw it
    ("host.name", ColumnKind.STRING),
    ("host.ip", ColumnKind.STRING),
    ("user.name", ColumnKind.STRING),
    ("user.domain", ColumnKind.STRING),
    ("source.ip", ColumnKind.STRING),
    ("source.port", ColumnKind.INT),
    ("destination.ip", ColumnKind.STRING),
    ("destination.port", ColumnKind.INT),
    ("destination.domain", ColumnKind.STRING),
    ("network.transport", ColumnKind.STRING),
    ("network.protocol", ColumnKind.STRING),
    ("dns.question.name", ColumnKind.STRING),
    ("dns.question.type", ColumnKind.STRING),
    ("url.full", ColumnKind.STRING),
    ("url.domain", ColumnKind.STRING),
    ("http.request.method", ColumnKind.STRING),
    ("http.response.status_code", ColumnKind.INT),
    ("user_agent.original", ColumnKind.STRING),
    ("tls.server.sni", ColumnKind.STRING),
    ("file.name", ColumnKind.STRING),
    ("file.path", ColumnKind.STRING),
    ("file.hash.md5", ColumnKind.STRING),
    ("file.hash.sha1", ColumnKind.STRING),
    ("file.hash.sha256", ColumnKind.STRING),
    ("process.pid", ColumnKind.INT),
    ("process.executable", ColumnKind.STRING),
    ("process.command_line", ColumnKind.STRING),
    ("process.parent.executable", ColumnKind.STRING),
    ("process.parent.command_line", ColumnKind.STRING),
    ("registry.path", ColumnKind.STRING),
    ("winlog.event_id", ColumnKind.INT),
    ("winlog.channel", ColumnKind.STRING),
    ("winlog.provider_name", ColumnKind.STRING),
    ("winlog.computer_name", ColumnKind.STRING),
    ("rule.id", ColumnKind.STRING),  # an IDS signature id (Suricata alert)
    ("rule.name", ColumnKind.STRING),
    ("message", ColumnKind.STRING),
    ("log.syslog.facility.code", ColumnKind.INT),
    ("log.syslog.severity.code", ColumnKind.INT),
    ("log.syslog.appname", ColumnKind.STRING),
    ("log.syslog.msgid", ColumnKind.STRING),
    ("log.source.address", ColumnKind.STRING),  # the sender's IP, as seen by the receiver
)


@dataclass(frozen=True, slots=True)
class ParseProblem:
    """A record that could not be read; the rest of the input goes on.

    >>> str(ParseProblem("conn.log", 12, "expected 21 fields, found 3"))
    'conn.log:12: expected 21 fields, found 3'
    """

    source: str
    line: int | None
    message: str
    field: str | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class EventSink(Protocol):
    """Where accepted events go. When :meth:`accept` returns, the events are durable
    (they survive kill -9); when the center is overloaded it raises
    :class:`steppe.errors.Overloaded` and accepts none of them."""

    def accept(self, organisation_id: int, events: Sequence[NormalisedEvent]) -> None: ...


@runtime_checkable
class TableSink(EventSink, Protocol):
    """A sink that also takes rows already in the lake's columns (a ``pyarrow.Table``
    of every column but ``organisation``), as the columnar EVE path builds them.
    ``accept_table`` returns the record it made durable (an Arrow IPC stream, as
    :func:`steppe.lake.batches.encode_table` writes it), which the intake passes on to
    the broker instead of encoding the batch a second time; None when it made none."""

    def accept_table(self, organisation_id: int, table: Any) -> bytes | memoryview | None: ...


@runtime_checkable
class BodySink(TableSink, Protocol):
    """A sink that can keep a request body of EVE JSON lines as it came instead of the
    rows decoded from it, and make it durable while ``decode`` (the caller's parse of
    it, stamped ``ingested`` and named for ``observer``) runs
    (:meth:`steppe.lake.EventLake.accept_body`). Returns ``decode``'s rows as it will
    write them (with ``organisation``), for the broker."""

    def accept_body(
        self,
        organisation_id: int,
        body: bytes,
        ingested: str,
        observer: str | None,
        decode: Callable[[], Any],
    ) -> Any: ...


class BulkLoader(Protocol):
    """Rows written straight to the lake, durable only at :meth:`commit` (and when the
    context is left normally); leaving it on an exception discards the rest
    (:class:`steppe.lake.bulk.BulkLoad`)."""

    @property
    def pending_rows(self) -> int: ...

    def add(self, table: Any) -> None: ...

    def commit(self) -> Any: ...

    def __enter__(self) -> BulkLoader: ...

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None: ...


@runtime_checkable
class BulkSink(EventSink, Protocol):
    """A sink that can also load a file's rows in bulk: no write-ahead, since the
    caller acknowledges nothing before the last commit and the file stays where it is."""

    def bulk_load(self) -> BulkLoader: ...
