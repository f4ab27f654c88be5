"""Running IOC detection: over the lake (batch, retro-hunt) and on the broker (streaming).

All three give the hits of :class:`~steppe.detection.ioc.matcher.IocMatcher` and store
through :func:`~steppe.alerts.store.store_ioc_alerts`, so an event detected by the
stream and again by ``steppe detect`` is one alert. The lake is read as Arrow record
batches and matched column-wise (:class:`~steppe.detection.ioc.columnar.ColumnarMatcher`:
only the rows that may hit become dicts); the stream's batches arrive as JSON and go
through :class:`~steppe.detection.ioc.jsonevents.JsonEventMatcher` (only the matched
fields decoded; only the events that may hit parsed in full) — or, when Sigma rules run
on the same batches and need whole events anyway, are parsed in full and go through the
row matcher.

- :func:`detect_lake` — events of the lake since a moment, per organisation (each
  organisation's events are matched only against what it may see).
- :func:`retro_hunt` — new indicators (by stix id) against the lake's recent window:
  an index of just those indicators, the same lake scan.
- :class:`StreamingDetector` — a subscriber on ``telemetry.*``: each message is one
  organisation's batch of events (orjson list); given a Sigma
  :class:`~steppe.detection.sigma.store.RuleStore`, it evaluates the rules on the same
  batches and stores their hits in the same alert table.

    >>> report = detect_lake(engine, trail, lake_root, index, since="2026-11-27T00:00:00Z")  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from sqlalchemy import Engine

from steppe.alerts.store import (
    DEFAULT_WINDOW_SECONDS,
    AlertStore,
    StoreResult,
    store_ioc_alerts,
)
from steppe.audit.trail import AuditTrail
from steppe.detection.ioc.columnar import MATCHED_FIELDS, ColumnarMatcher
from steppe.detection.ioc.index import IocIndex
from steppe.detection.ioc.jsonevents import JsonEventMatcher
from steppe.detection.ioc.loading import (
    audit_position,
    build_index,
    changed_since,
    deleted_after,
    refresh,
)
from steppe.detection.ioc.matcher import EventHit, IocMatcher
from steppe.detection.sigma.store import RuleStore
from steppe.lake.batches import ARROW_MARK, decode
from steppe.lake.partitions import Partition, list_partitions, parquet_files
from steppe.lake.table import lake_schema, table_events
from steppe.storage import timestamps
from steppe.workers.broker import Broker, Message, Subscription
from steppe.workers.periodic import PeriodicWorker

__all__ = ["DetectReport", "StreamingDetector", "detect_lake", "retro_hunt"]

_SCREEN_ROWS = 1_000_000

#: Called after each partition with (partitions done, partitions in all).
Progress = Callable[[int, int], None]


@dataclass
class DetectReport:
    partitions: int = 0
    events: int = 0
    events_hit: int = 0
    new: int = 0
    duplicates: int = 0
    sightings: int = 0
    indicators: int = 0
    aggregated: int = 0

    def add(self, result: StoreResult) -> None:
        self.new += result.new
        self.aggregated += result.aggregated
        self.duplicates += result.duplicates
        self.sightings += result.sightings


def _slices(fragment: ds.ParquetFileFragment) -> Iterator[ds.ParquetFileFragment]:
    """The file in runs of whole row groups of about ``_SCREEN_ROWS`` rows."""
    run: list[int] = []
    rows = 0
    for group in fragment.row_groups:
        run.append(group.id)
        rows += group.num_rows
        if rows >= _SCREEN_ROWS:
            yield fragment.subset(row_group_ids=run)
            run, rows = [], 0
    if run:
        yield fragment.subset(row_group_ids=run)


def _lake_hits(
    partition: Partition, since: str, matcher: ColumnarMatcher, now: str
) -> Iterator[tuple[int, list[tuple[dict[str, Any], list[EventHit]]]]]:
    """(events read, their hits) per slice of the partition's files since ``since``.

    Only the matched fields (and ``@timestamp``) are read to screen a slice: the value
    sets of a large index are hashed again by every ``pc.is_in`` call, so slices are
    large, and a large slice of whole rows (``raw`` included) would not fit in memory.
    The full rows are read for the candidates only.
    """
    files = [str(p) for p in parquet_files(partition)]
    if not files:
        return
    schema = lake_schema()
    dataset = ds.dataset(files, schema=schema, format="parquet")
    cutoff = pa.scalar(timestamps.parse(since), type=schema.field("@timestamp").type)
    screened = ["@timestamp", *(f for f in MATCHED_FIELDS if f in schema.names)]
    org = partition.organisation
    for fragment in dataset.get_fragments():
        for part in _slices(fragment):
            table = part.to_table(schema=schema, columns=screened)
            stamps = table["@timestamp"].combine_chunks()
            recent = pc.fill_null(pc.greater_equal(stamps, cutoff), False)
            count = pc.sum(recent).as_py() or 0
            if not count:
                continue
            rows = matcher.candidates(table, org)
            rows = pc.filter(rows, pc.take(recent, rows))
            if not len(rows):
                yield count, []
                continue
            events = part.to_table(schema=schema).take(rows).to_pylist()
            yield count, matcher.match_rows(events, org, now)


def detect_lake(
    engine: Engine,
    trail: AuditTrail,
    lake_root: Path,
    index: IocIndex,
    *,
    since: str,
    organisations: Iterable[int] | None = None,
    now: str | None = None,
    progress: Progress | None = None,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> DetectReport:
    """Match the lake's events since ``since`` (a stored timestamp) and store alerts
    (aggregated per indicator, host and ``window_seconds``)."""
    moment = now or timestamps.now()
    matcher = ColumnarMatcher(index)
    day = timestamps.parse(since).date()
    partitions = [p for p in list_partitions(lake_root, organisations) if p.day >= day]
    report = DetectReport(indicators=len(index))
    for done, partition in enumerate(partitions, 1):
        for count, found in _lake_hits(partition, since, matcher, moment):
            report.events += count
            report.events_hit += len(found)
            if found:
                with engine.begin() as conn:
                    report.add(
                        store_ioc_alerts(
                            conn,
                            trail,
                            partition.organisation,
                            found,
                            window_seconds=window_seconds,
                        )
                    )
        report.partitions += 1
        if progress is not None:
            progress(done, len(partitions))
    return report


def retro_hunt(
    engine: Engine,
    trail: AuditTrail,
    lake_root: Path,
    stix_ids: Iterable[str],
    *,
    days: int = 30,
    now: str | None = None,
    progress: Progress | None = None,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> DetectReport:
    """Match indicators ``stix_ids`` (just imported) against the last ``days`` of the lake.

    Nothing is read from the store when the lake holds no day of the window: the
    streaming detector retro-hunts after each refresh, and reading the indicators again
    cost as much as the refresh itself (~45 µs an indicator; docs/benchmarks.md, TAXII).
    """
    moment = now or timestamps.now()
    start = timestamps.parse(moment) - timedelta(days=days)
    since = timestamps.format_ts(start)
    first_day = start.astimezone(UTC).date()  # the day ``since`` names
    if not any(p.day >= first_day for p in list_partitions(lake_root)):
        return DetectReport()
    index = IocIndex()
    with engine.connect() as conn:
        refresh(conn, index, stix_ids, moment)
    if not len(index):
        return DetectReport()
    return detect_lake(
        engine,
        trail,
        lake_root,
        index,
        since=since,
        now=now,
        progress=progress,
        window_seconds=window_seconds,
    )


class StreamingDetector:
    """Matches every batch of events the broker carries, as it arrives.

    The index is built once at start. A background thread then looks every
    ``refresh_seconds`` for indicators stored since (new, revoked, re-marked) or deleted
    since (TAXII ``DELETE``, read from the audit log), applies them to the index without
    a rebuild and, if ``retro_days`` > 0, retro-hunts the stored ones over that many days
    of the lake.
    """

    def __init__(
        self,
        engine: Engine,
        trail: AuditTrail,
        broker: Broker,
        *,
        lake_root: Path | None = None,
        refresh_seconds: float = 10.0,
        retro_days: int = 30,
        rules: RuleStore | None = None,
        window_seconds: int = DEFAULT_WINDOW_SECONDS,
    ) -> None:
        self.engine = engine
        self.trail = trail
        self.broker = broker
        self.lake_root = lake_root
        self.refresh_seconds = refresh_seconds
        self.retro_days = retro_days
        self.rules = rules  # Sigma rules evaluated on the same batches, if given
        self.window_seconds = window_seconds  # alert aggregation window
        self.sigma_sink = AlertStore(engine, trail, window_seconds=window_seconds)
        self.index = IocIndex()
        self.matcher = IocMatcher(self.index)
        self.json_matcher = JsonEventMatcher(self.index)
        self.columnar = ColumnarMatcher(self.index, threads=1)
        self.alerts = 0
        self.retro_alerts = 0
        self._lock = threading.Lock()
        self._refresher = PeriodicWorker(
            "ioc-refresh",
            self.refresh_changes,
            every=lambda: self.refresh_seconds,
            first_at_once=False,
        )
        self._checked = timestamps.now()
        self._audit_seq = 0  # deletions up to this audit entry are in the index
        self._subscription: Subscription | None = None

    def start(self) -> None:
        self._checked = timestamps.now()
        with self.engine.connect() as conn:
            self._audit_seq = audit_position(conn)  # read first: a later delete is re-read
            fresh = build_index(conn, self._checked)
        with self._lock:
            self.index = fresh
            self.matcher = IocMatcher(fresh)
            self.json_matcher = JsonEventMatcher(fresh)
            self.columnar = ColumnarMatcher(fresh, threads=1)
        if self.rules is not None:
            self.rules.start()  # reloads rule files when they change
        self._subscription = self.broker.subscribe("telemetry.*", self.handle)
        # A failed refresh is logged and retried next round; detection goes on meanwhile.
        self._refresher.start()

    def stop(self) -> None:
        if self.rules is not None:
            self.rules.stop()
        self._refresher.stop(timeout=None)

    def refresh_changes(self) -> list[str]:
        """Apply indicators stored or deleted since the last check (their stix ids are
        returned); retro-hunt the stored ones."""
        moment = timestamps.now()
        with self.engine.connect() as conn:
            changed = changed_since(conn, self._checked)
            deleted, audit_seq = deleted_after(conn, self._audit_seq)
            if changed or deleted:
                with self._lock:
                    refresh(conn, self.index, [*changed, *deleted], moment)
        self._checked = moment
        self._audit_seq = audit_seq
        if changed and self.retro_days > 0 and self.lake_root is not None:
            report = retro_hunt(
                self.engine,
                self.trail,
                self.lake_root,
                changed,
                days=self.retro_days,
                window_seconds=self.window_seconds,
            )
            self.retro_alerts += report.new
        return sorted({*changed, *deleted})

    def handle(self, message: Message) -> None:
        """One batch: a JSON list of events, or (EVE lines ingested column-wise) the
        batch's Arrow table, as the lake spools it or handed over in-process. Only the events that may hit an
        indicator become dicts before matching: Arrow rows screened column-wise, JSON
        decoded field by field (:class:`JsonEventMatcher`) unless Sigma rules run on the
        same batch and need every event whole."""
        org_id = int(message.subject.rsplit(".", 1)[1])
        now = timestamps.now()
        events: list[Mapping[str, Any]] | None = None
        found: list[tuple[Mapping[str, Any], list[EventHit]]]
        if message.table is not None or bytes(message.data[: len(ARROW_MARK)]) == ARROW_MARK:
            table = message.table if message.table is not None else decode(message.data)
            with self._lock:
                rows = self.columnar.candidates(table, org_id)
                candidates = table_events(table.take(rows)) if len(rows) else []
                found = list(self.matcher.match_events(candidates, org_id, now))
        elif self.rules is None:  # IOCs only: only the events that may hit are parsed in full
            with self._lock:
                found = list(self.json_matcher.match_array(message.data, org_id, now))
        else:  # the rules need every event whole
            events = orjson.loads(message.data)
            with self._lock:
                found = list(self.matcher.match_events(events, org_id, now))
        if found:
            with self.engine.begin() as conn:
                result = store_ioc_alerts(
                    conn, self.trail, org_id, found, window_seconds=self.window_seconds
                )
            self.alerts += result.new
        if self.rules is not None:
            if events is None:
                events = list(table_events(table))
            evaluate = self.rules.evaluate
            hits = [hit for event in events for hit in evaluate(dict(event), org_id)]
            if hits:
                self.sigma_sink.submit(hits)
