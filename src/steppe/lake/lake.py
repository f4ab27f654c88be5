"""The event lake: accepted telemetry, durable at once, in Parquet within a second.

    >>> import tempfile, pathlib
    >>> lake = EventLake(pathlib.Path(tempfile.mkdtemp()))
    >>> report = lake.start()
    >>> lake.accept(7, [{"@timestamp": "2026-11-28T10:00:00.000000Z", "raw": {}}])
    >>> lake.flush()
    >>> lake.stats().written_events
    1
    >>> lake.close()

:meth:`EventLake.accept` is the acknowledgment point: it converts the batch to the lake's
table once (:mod:`steppe.lake.batches`), appends it to the spool (:mod:`steppe.lake.spool`)
and returns once it is fsynced, so an accepted event survives kill -9. A background thread seals spool segments (by size, or after ``flush_seconds``)
and writes them to Parquet (:mod:`steppe.lake.writer`). When the backlog of spooled bytes
not yet in Parquet passes ``max_backlog_bytes``, ``accept`` raises
:class:`~steppe.errors.Overloaded` and takes nothing of that batch.

:meth:`EventLake.start` first replays the spool folders of processes that died
(their ``flock`` is free), exactly once.

A segment the writer fails on for a reason other than the disk (a bug, data it cannot
handle) is moved whole to ``<root>/quarantine/`` and counted, so one bad batch cannot
stop ingest for every member; disk errors are retried, and the backlog limit holds the
rest meanwhile.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from steppe.errors import Overloaded, SteppeError
from steppe.ingest.telemetry.model import NormalisedEvent
from steppe.lake import batches
from steppe.lake.bulk import STAGING, BulkLoad
from steppe.lake.compaction import compact_partition, compaction_lock, finish_interrupted
from steppe.lake.handoff import DecodedRows, HandoffCounters
from steppe.lake.partitions import Partition, list_partitions
from steppe.lake.retention import prune
from steppe.lake.spool import Segment, Spool, fsync_dir, segment_files, try_lock
from steppe.lake.table import with_organisation
from steppe.lake.writer import CHUNK_ROWS, SegmentResult, write_segment
from steppe.settings import Settings
from steppe.storage import timestamps

__all__ = ["EventLake", "LakeCounters", "RecoveryReport", "use_system_allocator"]

log = logging.getLogger(__name__)


def use_system_allocator() -> None:
    """Make Arrow allocate with the system allocator, for the whole process.

    Arrow's default allocator (mimalloc) keeps a heap per thread: every threadpool thread
    that converted a batch kept its peak. Measured under a 10× overload of the HTTP
    intake: server RSS 650 MiB with it, 470 MiB with the system allocator, at the same
    throughput. A process-wide choice, so the entry points make it (``steppe`` and the
    API server's start), not a library object.
    """
    pa.set_memory_pool(pa.system_memory_pool())


SPOOL = "spool"
#: Segments the writer failed on for a reason other than the disk, kept whole.
QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True)
class LakeCounters:
    """Progress of this process's lake, for stats and progress bars."""

    accepted_events: int
    accepted_batches: int
    rejected_batches: int
    written_events: int
    written_files: int
    written_bytes: int
    backlog_bytes: int
    segments_pending: int
    fsyncs: int
    recovered_events: int
    quarantined_segments: int  # segments the writer failed on, kept in <root>/quarantine
    last_error: str | None


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What :meth:`EventLake.recover` replayed from spools left by dead processes."""

    folders: int
    segments: int
    events: int
    torn: tuple[str, ...]


class EventLake:
    """Accepts telemetry durably and writes it to the Parquet lake at ``root``.

    One per process; several processes may share a ``root`` (each has its own spool
    folder). Implements :class:`steppe.ingest.telemetry.model.EventSink`.
    """

    def __init__(
        self,
        root: Path,
        *,
        max_backlog_bytes: int = 256 * 1024 * 1024,
        flush_seconds: float = 1.0,
        segment_bytes: int = 16 * 1024 * 1024,
        retention_days: int = 90,
        writer_nice: int = 0,
        handoff_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.root = root
        self.writer_nice = writer_nice
        self.retention_days = retention_days
        self.max_backlog_bytes = max_backlog_bytes
        self.flush_seconds = flush_seconds
        self.segment_bytes = segment_bytes
        self._spool: Spool | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self._drain_lock = threading.Lock()  # one writer of segments at a time
        self._count_lock = threading.Lock()
        self._accepted_events = 0
        self._accepted_batches = 0
        self._rejected = 0
        self._written_events = 0
        self._written_files = 0
        self._written_bytes = 0
        self._recovered = 0
        self._quarantined = 0
        self._bulk_loads = 0
        self._drain_rate = 0.0  # bytes of spool per second the writer gets through
        self._spool_threads: ThreadPoolExecutor | None = None
        self._last_error: str | None = None
        # Rows accept_body's callers decoded, for the writer (steppe.lake.handoff)
        self._decoded = DecodedRows(handoff_bytes) if handoff_bytes else None

    @classmethod
    def from_settings(cls, settings: Settings) -> EventLake:
        """The lake as the settings configure it (``STEPPE_LAKE_*``)."""
        return cls(
            settings.resolved_lake_dir(),
            max_backlog_bytes=settings.lake_max_backlog_bytes,
            flush_seconds=settings.lake_flush_seconds,
            segment_bytes=settings.lake_segment_bytes,
            retention_days=settings.lake_retention_days,
            writer_nice=settings.lake_writer_nice,
            handoff_bytes=settings.lake_handoff_bytes,
        )

    # -- life cycle ---------------------------------------------------------------------

    def start(self, *, background: bool = True) -> RecoveryReport:
        """Replay spools of dead processes, open this process's spool, start the flusher.

        With ``background=False`` nothing is flushed until :meth:`flush` (tests, tools).
        """
        if self._spool is not None:
            raise SteppeError("the event lake is already started")
        self.root.mkdir(parents=True, exist_ok=True)
        report = self.recover()
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        self._spool = Spool(self.root / SPOOL / name, segment_bytes=self.segment_bytes)
        # accept_body's writes (threads started on first use)
        self._spool_threads = ThreadPoolExecutor(4, thread_name_prefix="lake-spool")
        if background:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="lake-flusher", daemon=True)
            self._thread.start()
        return report

    def recover(self) -> RecoveryReport:
        """Write to Parquet every spool segment left by a process that is gone.

        Idempotent: a segment written before the crash is written again under the same
        file names (replacing, not adding), then deleted.
        """
        spool_root = self.root / SPOOL
        spool_root.mkdir(parents=True, exist_ok=True)
        folders = segments = events = 0
        torn: list[str] = []
        dead: list[str] = []
        for folder in sorted(p for p in spool_root.iterdir() if p.is_dir()):
            if self._spool is not None and folder == self._spool.folder:
                continue
            lock = try_lock(folder)
            if lock is None:
                continue  # a live process owns it
            try:
                for seq, path in segment_files(folder):
                    segment = Segment(seq, path, size=path.stat().st_size)
                    try:
                        result = write_segment(segment, self.root)
                    except OSError:
                        raise
                    except Exception as exc:  # see _drain
                        kept = self.root / QUARANTINE / f"{segment.name}.wal"
                        kept.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(path, kept)
                        fsync_dir(kept.parent)
                        self._quarantine_noted(segment, kept, exc)
                        continue
                    self._count_written(result)
                    events += result.events
                    segments += 1
                    if result.torn:
                        torn.append(f"{folder.name}/{result.torn}")
                    path.unlink()
                    fsync_dir(folder)
                folders += 1
                dead.append(folder.name)
                shutil.rmtree(folder, ignore_errors=True)
                fsync_dir(spool_root)
            finally:
                os.close(lock)
        _remove_stale_temporaries(self.root, dead)
        with compaction_lock(self.root) as mine:
            if mine:
                finish_interrupted(self.root)
        with self._count_lock:
            self._recovered += events
        if segments:
            log.info("lake recovery: %d events from %d segments", events, segments)
        return RecoveryReport(folders, segments, events, tuple(torn))

    def close(self) -> None:
        """Stop the flusher, write out everything accepted, release the spool."""
        if self._spool_threads is not None:
            self._spool_threads.shutdown(wait=True)
            self._spool_threads = None
        thread = self._thread
        if thread is not None:
            with self._wake:
                self._stopping = True
                self._wake.notify_all()
            thread.join()
            self._thread = None
        if self._spool is not None:
            self.flush()
            self._spool.close()
            shutil.rmtree(self._spool.folder, ignore_errors=True)
            self._spool = None

    def __enter__(self) -> EventLake:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest -------------------------------------------------------------------------

    def accept(self, organisation_id: int, events: Sequence[NormalisedEvent]) -> None:
        """Make ``events`` of ``organisation_id`` durable; return when they are.

        Raises :class:`~steppe.errors.Overloaded` (nothing accepted) when the backlog is
        full. Values JSON cannot carry (sets, huge integers…) are stored as text.
        """
        self._require_spool()
        if not events:
            return
        self.refuse_if_full()  # before any work on the batch: a 429 costs nothing
        # Converted to the lake's Arrow table here, once (see steppe.lake.batches): the
        # writer then has nothing left to parse.
        self._append((batches.encode(organisation_id, timestamps.now(), events),), len(events))

    def accept_table(self, organisation_id: int, table: pa.Table) -> memoryview | None:
        """:meth:`accept` for rows already in the lake's columns (all but
        ``organisation``: :class:`steppe.ingest.telemetry.eve_columns.EventBatch`);
        the spooled record is returned (None for no rows)."""
        self._require_spool()
        if not table.num_rows:
            return None
        self.refuse_if_full()
        payload = batches.encode_table(organisation_id, timestamps.now(), table)
        self._append((payload,), table.num_rows)
        return payload

    def accept_body(
        self,
        organisation_id: int,
        body: bytes,
        ingested: str,
        observer: str | None,
        decode: Callable[[], pa.Table],
    ) -> pa.Table:
        """Make a request body of EVE JSON lines durable as it came
        (:func:`batches.body_record`) while ``decode`` (the caller's parse of it,
        stamped ``ingested``, named for ``observer``) runs: the spool's write and fsync
        take a thread of their own, so the sender waits for the longer of the two rather
        than for both. The rows are left in memory for the writer
        (:mod:`steppe.lake.handoff`), which decodes the body again only for those it
        does not find there. Returns ``decode``'s rows as they will be written (with
        ``organisation``), once both are done; raises
        :class:`~steppe.errors.Overloaded` (nothing kept) when the backlog is full.

        A body ``decode`` finds no event in is kept all the same (written before it is
        read): the writer finds nothing in it either.
        """
        self._require_spool()
        self.refuse_if_full()
        accepted_at = timestamps.now()
        key = self._decoded.new_key() if self._decoded is not None else None
        record = batches.body_record(
            organisation_id, accepted_at, ingested, observer, body, key=key
        )
        assert self._spool_threads is not None  # made with the spool, in start()
        spooling = self._spool_threads.submit(self._append, record, 0)
        try:
            table = decode()
        finally:
            spooling.result()  # durable (or raises) before anything is answered
        with self._count_lock:
            self._accepted_events += table.num_rows
        rows = with_organisation(table, organisation_id, accepted_at)
        if key is not None and self._decoded is not None and rows.num_rows:
            self._decoded.keep(key, rows)
        return rows

    def bulk_load(self, *, chunk_rows: int = CHUNK_ROWS) -> BulkLoad:
        """A :class:`~steppe.lake.bulk.BulkLoad` into this lake: rows straight to
        Parquet, durable at its commits, for a caller that acknowledges only after the
        last commit (a file ingest). Counted as accepted and written when committed."""
        spool = self._require_spool()
        with self._count_lock:
            self._bulk_loads += 1
            name = f"{spool.folder.name}-bulk{self._bulk_loads:04d}"
        return BulkLoad(self.root, name, chunk_rows=chunk_rows, on_commit=self._count_bulk)

    def _count_bulk(self, result: SegmentResult) -> None:
        self._count_written(result)
        with self._count_lock:
            self._accepted_events += result.events
            self._accepted_batches += 1

    def _append(self, parts: Sequence[bytes | memoryview], count: int) -> None:
        spool = self._require_spool()
        try:
            spool.append(*parts, max_backlog=self.max_backlog_bytes, retry_after=self._retry())
        except SteppeError:
            with self._count_lock:
                self._rejected += 1
            raise
        with self._count_lock:
            self._accepted_events += count
            self._accepted_batches += 1
        if spool.pending_bytes >= self.segment_bytes:
            with self._wake:
                self._wake.notify_all()

    def refuse_if_full(self) -> None:
        """Raise :class:`~steppe.errors.Overloaded` now if the backlog is full, so that a
        caller (the HTTP route) refuses before reading or parsing a body."""
        spool = self._require_spool()
        if spool.pending_bytes < self.max_backlog_bytes:
            return
        with self._count_lock:
            self._rejected += 1
        raise Overloaded(
            f"telemetry backlog is full ({spool.pending_bytes} bytes waiting for the "
            "Parquet writer); retry later",
            retry_after=self._retry(),
        )

    def flush(self) -> None:
        """Write everything accepted so far to Parquet before returning."""
        spool = self._require_spool()
        self._drain(spool.seal())

    # -- the flusher --------------------------------------------------------------------

    def _run(self) -> None:
        spool = self._require_spool()
        lower_priority(self.writer_nice)
        while True:
            with self._wake:
                if not self._stopping:
                    self._wake.wait(timeout=self.flush_seconds / 2)
                if self._stopping:
                    return
            try:
                self._drain(spool.seal(older_than=self.flush_seconds))
            except Exception as exc:  # keep the thread alive; the backlog brings 429s
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.exception("lake flush failed; retrying")
                with self._wake:
                    self._wake.wait(timeout=min(5.0, self.flush_seconds * 5))

    def _drain(self, segments: list[Segment]) -> None:
        spool = self._require_spool()
        with self._drain_lock:
            for segment in segments:
                if segment not in spool.sealed():
                    continue  # written out by the other drainer meanwhile
                started = time.monotonic()
                try:
                    result = _write_with_retries(segment, self.root, self._decoded)
                except OSError:
                    raise  # the disk, not the data: retried, the backlog holds the rest
                except Exception as exc:
                    # Data the writer cannot handle would stop the lake for everyone;
                    # keep it aside, whole, and go on (rows its requests left in memory
                    # would never be taken).
                    if self._decoded is not None:
                        self._decoded.clear()
                    kept = self.root / QUARANTINE / f"{segment.name}.wal"
                    spool.retire(segment, keep_as=kept)
                    self._quarantine_noted(segment, kept, exc)
                    continue
                spool.retire(segment)
                self._count_written(result)
                elapsed = max(time.monotonic() - started, 1e-6)
                rate = segment.size / elapsed
                self._drain_rate = (
                    rate if not self._drain_rate else 0.8 * self._drain_rate + 0.2 * rate
                )
                self._last_error = None

    def _quarantine_noted(self, segment: Segment, kept: Path, exc: Exception) -> None:
        with self._count_lock:
            self._quarantined += 1
        self._last_error = f"segment {segment.name} quarantined at {kept}: {exc}"
        log.error("lake: could not write segment %s (%s); kept at %s", segment.name, exc, kept)

    def _count_written(self, result: SegmentResult) -> None:
        with self._count_lock:
            self._written_events += result.events
            self._written_files += len(result.files)
            self._written_bytes += result.bytes_written

    def _retry(self) -> float:
        """Seconds until the writer should have made room (1 s to 60 s)."""
        spool = self._spool
        if spool is None or not self._drain_rate:
            return max(1.0, self.flush_seconds)
        excess = spool.pending_bytes - self.max_backlog_bytes // 2
        return float(min(60, max(1, round(excess / self._drain_rate + 0.5))))

    def _require_spool(self) -> Spool:
        if self._spool is None:
            raise SteppeError("the event lake is not started: call start() first")
        return self._spool

    def apply_retention(
        self, now: datetime, overrides: Mapping[int, int] | None = None
    ) -> list[Partition]:
        """Delete day partitions past retention (``overrides``: organisation → days,
        from :func:`steppe.lake.retention.retention_overrides`); return them."""
        return prune(self.root, now.astimezone(UTC).date(), self.retention_days, overrides or {})

    def compact(self, now: datetime, *, min_age_days: int = 2) -> list[tuple[Partition, int]]:
        """Merge the files of each day partition at least ``min_age_days`` old into one
        (see :mod:`steppe.lake.compaction`); return the partitions and how many files
        each had. Works without :meth:`start` (a maintenance command)."""
        today = now.astimezone(UTC).date()
        done: list[tuple[Partition, int]] = []
        # The writers (this process's flusher and others') go on meanwhile: the steps
        # of the compaction keep every file they add.
        with compaction_lock(self.root) as mine:
            if not mine:
                return done  # another process is compacting
            finish_interrupted(self.root)
            for partition in list_partitions(self.root):
                if (today - partition.day).days < min_age_days:
                    continue
                merged = compact_partition(partition)
                if merged:
                    done.append((partition, merged))
        return done

    def handoff_stats(self) -> HandoffCounters | None:
        """How the rows requests decoded reached the writer (None: not kept)."""
        return self._decoded.stats() if self._decoded is not None else None

    def stats(self) -> LakeCounters:
        spool = self._spool
        with self._count_lock:
            return LakeCounters(
                accepted_events=self._accepted_events,
                accepted_batches=self._accepted_batches,
                rejected_batches=self._rejected,
                written_events=self._written_events,
                written_files=self._written_files,
                written_bytes=self._written_bytes,
                backlog_bytes=spool.pending_bytes if spool else 0,
                segments_pending=len(spool.sealed()) if spool else 0,
                fsyncs=spool.fsyncs if spool else 0,
                recovered_events=self._recovered,
                quarantined_segments=self._quarantined,
                last_error=self._last_error,
            )


def lower_priority(nice: int) -> None:
    """Give the calling thread ``nice`` more niceness (Linux: each thread has its own).

    The flusher turns what requests acknowledged into Parquet: deferrable work, within
    the backlog bound. Nice, it leaves the cores to the requests while they come and
    catches up between them; if it falls a backlog behind, requests get 429s and the
    cores are its own again. Measured (``bench/telemetry_ingest.py``, docs/benchmarks.md):
    at equal priority the flusher took ~1.5 µs an event of CPU from the requests' ~3.
    """
    if nice <= 0 or sys.platform != "linux":
        return  # elsewhere the thread's id is no process id: it would renice another
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:  # a sandbox may refuse: the flusher then runs as it is
        log.warning("lake: could not lower the flusher's priority: %s", exc)


def _write_with_retries(
    segment: Segment, root: Path, decoded: DecodedRows | None, attempts: int = 3
) -> SegmentResult:
    """Write a segment, again after a passing file system error (a compaction moving the
    day folder under the writer makes the rename fail once; the next write lands)."""
    for attempt in range(attempts):
        try:
            return write_segment(segment, root, decoded=decoded)
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _remove_stale_temporaries(root: Path, dead_spools: list[str]) -> None:
    """Half-written Parquet files of crashed writers and bulk loads (hidden names hunts
    never read).

    Only those of the dead spools: a live process may be writing its own right now.
    """
    if not dead_spools:
        return
    for tmp in root.glob("organisation=*/day=*/.tmp-*"):
        if any(tmp.name.startswith(f".tmp-{name}-") for name in dead_spools):
            tmp.unlink(missing_ok=True)
    for staged in root.glob(f"{STAGING}/*"):  # bulk loads (steppe.lake.bulk)
        if any(staged.name.startswith(f"{name}-") for name in dead_spools):
            shutil.rmtree(staged, ignore_errors=True)
