"""Where parsed telemetry meets the lake and the broker, for every way in.

HTTP bodies, files and the syslog listener all end here. A batch is handed to the
:class:`~steppe.ingest.telemetry.model.EventSink` (the lake: durable when ``accept``
returns), then published on the broker for detection. A request body is accepted whole or
not at all — when the lake is full it raises :class:`~steppe.errors.Overloaded` and the
sender retries the same body. A file goes to a lake in bulk (straight to Parquet, no
spool: :mod:`steppe.lake.bulk`), its batches published once committed; to any other
sink in batches, waiting out a full lake.

>>> from steppe.workers.broker import InProcessBroker
>>> class Memory:
...     def __init__(self): self.got = []
...     def accept(self, organisation_id, events): self.got.append((organisation_id, list(events)))
>>> lake = Memory()
>>> intake = TelemetryIntake(lake, InProcessBroker())
>>> report = intake.ingest_items(3, [{"@timestamp": "2026-11-28T10:00:00.000000Z", "raw": {}}])
>>> report.events, lake.got[0][0]
(1, 3)
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import orjson
import pyarrow as pa

from steppe.errors import InputError, Overloaded, PayloadTooLarge
from steppe.ingest.telemetry.eve_columns import EventBatch, eve_body_table, observed
from steppe.ingest.telemetry.formats import eve_lines_body, parse_bytes_batched
from steppe.ingest.telemetry.model import (
    BodySink,
    BulkLoader,
    BulkSink,
    EventSink,
    NormalisedEvent,
    ParseProblem,
    TableSink,
)
from steppe.lake.batches import encode_table
from steppe.lake.table import events_table, table_events, with_organisation
from steppe.storage.timestamps import now
from steppe.workers.broker import Broker, telemetry_subject

__all__ = ["IntakeReport", "TelemetryIntake", "gunzip_limited"]

log = logging.getLogger(__name__)

#: Problems kept whole in a report (the rest are counted): enough to fix a sender.
KEPT_PROBLEMS = 100

#: Events per batch when feeding a file to the lake.
FILE_BATCH = 5_000

#: A bulk load commits (its files become durable and visible) after this many events…
BULK_COMMIT_EVENTS = 1_000_000
#: …or once the batches it holds back for the broker (published when committed) reach
#: this many bytes.
BULK_HELD_BYTES = 64 * 1024 * 1024

Item = NormalisedEvent | ParseProblem | EventBatch


@dataclass(slots=True)
class IntakeReport:
    """What one body or file run brought in."""

    events: int = 0
    problems: int = 0
    first_problems: list[ParseProblem] = field(default_factory=list)
    waited_seconds: float = 0.0  # time spent waiting for a full lake (files only)

    def note(self, problem: ParseProblem) -> None:
        self.problems += 1
        if len(self.first_problems) < KEPT_PROBLEMS:
            self.first_problems.append(problem)


class TelemetryIntake:
    """Feeds parsed events to the lake, then announces them to detection."""

    def __init__(
        self, sink: EventSink, broker: Broker | None = None, *, batch_size: int = FILE_BATCH
    ) -> None:
        self.sink = sink
        self.broker = broker
        self.batch_size = batch_size

    def submit(self, organisation_id: int, events: Sequence[NormalisedEvent] | EventBatch) -> None:
        """Make ``events`` durable, then publish them; raises Overloaded when full.

        An :class:`EventBatch` (rows already in the lake's columns) goes to the sink as
        it is; subscribers still get the events as JSON objects, built only when some
        subscriber listens.
        """
        if not len(events):
            return
        subject = telemetry_subject(organisation_id)
        if isinstance(events, EventBatch):
            spooled: bytes | memoryview | None = None
            if isinstance(self.sink, TableSink):
                spooled = self.sink.accept_table(organisation_id, events.table)
            else:
                self.sink.accept(organisation_id, table_events(events.table))
            if self.broker is not None and self.broker.wants(subject):
                # The batch as the lake spools it (Arrow), not a JSON list: a subscriber
                # makes dicts of the rows it needs (the detector: the few that may hit).
                # The spool's own record when there is one: encoded once, not twice.
                payload = (
                    spooled
                    if spooled is not None
                    else encode_table(organisation_id, now(), events.table)
                )
                self.broker.publish(subject, bytes(payload))
            return
        self.sink.accept(organisation_id, events)
        if self.broker is not None and self.broker.wants(subject):
            self.broker.publish(subject, orjson.dumps(events))

    def ingest_body(
        self, organisation_id: int, items: Iterable[Item], *, observer: str | None = None
    ) -> IntakeReport:
        """One request: every good event of the body is accepted, or (Overloaded) none."""
        report = IntakeReport()
        events: list[NormalisedEvent] = []
        tables: list[pa.Table] = []
        for item in items:
            if isinstance(item, ParseProblem):
                report.note(item)
            elif isinstance(item, EventBatch):
                tables.append(observed(item, observer).table)
            else:
                _stamp(item, observer)
                events.append(item)
        if tables:
            if events:  # not from one parser; kept whole all the same
                rows = events_table([(0, now(), event) for event in events])
                tables.append(rows.drop_columns(["organisation"]))
            batch = EventBatch(pa.concat_tables(tables))
            self.submit(organisation_id, batch)
            report.events = len(batch)
            return report
        self.submit(organisation_id, events)
        report.events = len(events)
        return report

    def ingest_request(
        self,
        organisation_id: int,
        body: bytes,
        fmt: str,
        *,
        observer: str | None = None,
        source: str = "request body",
    ) -> IntakeReport:
        """A request body (inflated already) in format ``fmt``: :meth:`ingest_body` of
        its parse, except that a body of EVE JSON lines goes to a :class:`BodySink` as
        it came, made durable while it is decoded (:meth:`BodySink.accept_body`), and
        the broker gets the decoded rows (in-process, the table itself)."""
        sink = self.sink
        if not (isinstance(sink, BodySink) and eve_lines_body(body, fmt)):
            items = parse_bytes_batched(body, fmt, source)
            return self.ingest_body(organisation_id, items, observer=observer)
        report = IntakeReport()
        ingested = now()

        def decode() -> pa.Table:  # as the lake's writer will decode the spooled body
            return eve_body_table(body, ingested, observer, source=source, note=report.note)

        rows = sink.accept_body(organisation_id, body, ingested, observer, decode)
        report.events = rows.num_rows
        subject = telemetry_subject(organisation_id)
        if report.events and self.broker is not None and self.broker.wants(subject):
            self.broker.publish_table(subject, rows)
        return report

    def ingest_items(
        self,
        organisation_id: int,
        items: Iterable[Item],
        *,
        observer: str | None = None,
        progress: Callable[[int], None] | None = None,
        patience: float = 600.0,
    ) -> IntakeReport:
        """A file or folder: batches of events, waiting (up to ``patience`` s) when full.

        A sink that loads in bulk (the lake) gets the rows straight into Parquet
        (:meth:`_ingest_bulk`). Otherwise a batch is made durable in a worker thread while
        the next one is read: writing and syncing the spool releases the GIL. Measured on
        ``bench/telemetry_ingest.py``'s file (50,000 events): the reading thread was held
        up by the spool 3.4 to 4.0 µs an event, 0.05 to 0.25 µs with this. One batch at a
        time, in order.
        """
        if isinstance(self.sink, BulkSink):
            with self.sink.bulk_load() as load:
                return self._ingest_bulk(load, organisation_id, items, observer, progress)
        report = IntakeReport()
        batch: list[NormalisedEvent] = []
        with _Pipeline(self, organisation_id, patience, report, progress) as pipeline:
            for item in items:
                if isinstance(item, ParseProblem):
                    report.note(item)
                    continue
                if isinstance(item, EventBatch):
                    if batch:
                        pipeline.submit(batch)
                        batch = []
                    pipeline.submit(observed(item, observer))
                    continue
                _stamp(item, observer)
                batch.append(item)
                if len(batch) >= self.batch_size:
                    pipeline.submit(batch)
                    batch = []
            if batch:
                pipeline.submit(batch)
        return report

    def _ingest_bulk(
        self,
        load: BulkLoader,
        organisation_id: int,
        items: Iterable[Item],
        observer: str | None,
        progress: Callable[[int], None] | None,
    ) -> IntakeReport:
        """Every event of ``items`` into ``load``; the broker gets each batch once its
        commit made it durable, in order (detection never sees an event the lake may
        lose)."""
        report = IntakeReport()
        subject = telemetry_subject(organisation_id)
        listening = self.broker is not None and self.broker.wants(subject)
        held: list[bytes | memoryview] = []
        held_bytes = 0

        def commit() -> None:
            nonlocal held, held_bytes
            load.commit()
            if self.broker is not None:
                for payload in held:
                    self.broker.publish(subject, bytes(payload))
            held, held_bytes = [], 0

        def add(rows: pa.Table, payload: bytes | memoryview | None) -> None:
            nonlocal held_bytes
            load.add(rows)
            report.events += rows.num_rows
            if progress is not None:
                progress(rows.num_rows)
            if payload is not None:
                held.append(payload)
                held_bytes += len(payload)
            if load.pending_rows >= BULK_COMMIT_EVENTS or held_bytes >= BULK_HELD_BYTES:
                commit()

        batch: list[NormalisedEvent] = []

        def add_events() -> None:
            accepted_at = now()
            try:
                rows = events_table([(organisation_id, accepted_at, event) for event in batch])
            except Exception:  # values are coerced, so a bug: keep the events it can take
                log.exception("telemetry: a batch did not convert; converting event by event")
                rows = _convertible(organisation_id, accepted_at, batch, report)
            add(rows, orjson.dumps(batch) if listening else None)
            batch.clear()

        for item in items:
            if isinstance(item, ParseProblem):
                report.note(item)
            elif isinstance(item, EventBatch):
                if batch:
                    add_events()
                table = observed(item, observer).table
                accepted_at = now()
                add(
                    with_organisation(table, organisation_id, accepted_at),
                    encode_table(organisation_id, accepted_at, table) if listening else None,
                )
            else:
                _stamp(item, observer)
                batch.append(item)
                if len(batch) >= self.batch_size:
                    add_events()
        if batch:
            add_events()
        commit()
        return report

    def _submit_waiting(
        self, organisation_id: int, batch: list[NormalisedEvent] | EventBatch, patience: float
    ) -> float:
        waited = 0.0
        while True:
            try:
                self.submit(organisation_id, batch)
                return waited
            except Overloaded as exc:
                if waited >= patience:
                    raise
                pause = min(max(exc.retry_after, 0.05), 1.0)
                time.sleep(pause)
                waited += pause


def _convertible(
    organisation_id: int, accepted_at: str, events: list[NormalisedEvent], report: IntakeReport
) -> pa.Table:
    """The lake rows of the events that convert; the others noted as problems."""
    tables = []
    for event in events:
        try:
            tables.append(events_table([(organisation_id, accepted_at, event)]))
        except Exception as exc:
            source = str(event.get("observer.name") or "input")
            report.note(ParseProblem(source, None, f"event not stored: {exc}"))
    return pa.concat_tables(tables) if tables else events_table([])


def _stamp(event: NormalisedEvent, observer: str | None) -> None:
    if observer is not None and "observer.name" not in event:
        event["observer.name"] = observer


def gunzip_limited(data: bytes, limit: int, *, source: str = "request body") -> bytes:
    """Inflate a gzip body, refusing one that inflates past ``limit`` bytes (a zip bomb)."""
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib, detected from the header
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise InputError(f"not valid gzip: {exc}", source=source) from None
    if len(out) > limit:
        raise PayloadTooLarge(f"{source} inflates to more than {limit} bytes")
    if not inflater.eof:
        raise InputError("gzip data is truncated", source=source)
    return out


class _Pipeline:
    """Submits a file's batches one at a time in a worker thread: :meth:`submit` returns
    once the batch before is durable, so reading the next overlaps with this one."""

    def __init__(
        self,
        intake: TelemetryIntake,
        organisation_id: int,
        patience: float,
        report: IntakeReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        self._intake = intake
        self._organisation_id = organisation_id
        self._patience = patience
        self._report = report
        self._progress = progress
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="telemetry-intake")
        self._pending: tuple[Future[float], int] | None = None

    def submit(self, batch: list[NormalisedEvent] | EventBatch) -> None:
        self.wait()
        future = self._worker.submit(
            self._intake._submit_waiting, self._organisation_id, batch, self._patience
        )
        self._pending = (future, len(batch))

    def wait(self) -> None:
        """Wait for the batch in flight; count it (or raise what submitting it raised)."""
        if self._pending is None:
            return
        future, count = self._pending
        self._pending = None
        self._report.waited_seconds += future.result()
        self._report.events += count
        if self._progress is not None:
            self._progress(count)

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            if kind is None:
                self.wait()
        finally:
            self._worker.shutdown(wait=True)
