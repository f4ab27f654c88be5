"""Spool segment → Parquet files, one per (segment, organisation, day).

A file is written to a hidden temporary name, fsynced, renamed into
``organisation=<id>/day=<YYYY-MM-DD>/<segment>.parquet`` and its folder fsynced; only
then may the segment be retired. Writing the same segment again (recovery after a crash
between the rename and the retirement) replaces its files with identical ones, so
replaying is idempotent: nothing is duplicated. Nor after a compaction merged that file
(:mod:`steppe.lake.compaction`): a segment listed by a compacted file is not written again.

Memory stays bounded: a segment is read record by record (each an Arrow batch, see
:mod:`steppe.lake.batches`) and written out in row groups of about ``chunk_rows`` events.

    >>> import tempfile, pathlib
    >>> from steppe.lake.batches import encode
    >>> from steppe.lake.spool import Spool
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> spool = Spool(root / "spool" / "p1", segment_bytes=1 << 20)
    >>> batch = encode(7, "2026-11-28T10:00:00.000000Z",
    ...                [{"@timestamp": "2026-11-27T23:00:00Z", "raw": {}}])
    >>> spool.append(batch, max_backlog=1 << 20)
    >>> result = write_segment(spool.seal()[0], root)
    >>> result.events, [p.relative_to(root).parent.as_posix() for p in result.files]
    (1, ['organisation=7/day=2026-11-27'])
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from steppe.lake.batches import BadRecord, decode
from steppe.lake.compaction import compacted_segments
from steppe.lake.handoff import DecodedRows
from steppe.lake.spool import Segment, TornTail, fsync_dir, read_segment
from steppe.lake.table import lake_schema

__all__ = ["CHUNK_ROWS", "PartitionFiles", "SegmentResult", "partition_dir", "write_segment"]

log = logging.getLogger(__name__)

CHUNK_ROWS = 20_000
_TMP_PREFIX = ".tmp-"


@dataclass(slots=True)
class SegmentResult:
    """What writing a segment produced."""

    events: int = 0
    files: list[Path] = field(default_factory=list)
    bytes_written: int = 0
    torn: str | None = None  # why reading stopped early, if it did
    bad_records: int = 0  # records whose payload was not a batch (skipped)


def partition_dir(root: Path, organisation: int, day: date) -> Path:
    return root / f"organisation={organisation}" / f"day={day.isoformat()}"


class PartitionFiles:
    """The open Parquet writers of one segment (or of a bulk load's commit), one per
    partition.

    Each file is written under a hidden name in its partition's folder, or, with
    ``staging``, in the ``staging`` folder outside the partitions (a bulk load's files
    stay open for a long time, while a compaction may rename the day's folder away; they
    join their folder only at :meth:`publish`, again if a compaction moved it meanwhile).
    """

    def __init__(self, root: Path, segment_name: str, *, staging: Path | None = None) -> None:
        self.root = root
        self.name = segment_name
        self.staging = staging
        self.schema = lake_schema()
        self.writers: dict[tuple[int, date], tuple[pq.ParquetWriter, Path, Path]] = {}

    def write(self, table: pa.Table) -> int:
        """Append ``table``'s rows to their partitions' files, each sorted by time."""
        if not table.num_rows:
            return 0
        # One stable sort by (organisation, time) and a slice per run of equal
        # (organisation, day), rather than a filter per partition: the same rows in the
        # same order (files stay identical on replay), measured ~3× less work at 28 days.
        if not _in_order(table):
            table = table.sort_by([("organisation", "ascending"), ("@timestamp", "ascending")])
        orgs = table.column("organisation")
        days = pc.cast(table.column("@timestamp"), pa.date32())
        if table.num_rows > 1:
            changed = pc.or_(pc.not_equal(orgs[1:], orgs[:-1]), pc.not_equal(days[1:], days[:-1]))
            starts = [0, *(i + 1 for i in pc.indices_nonzero(changed).to_pylist())]
        else:
            starts = [0]
        ends = [*starts[1:], table.num_rows]
        for start, end in zip(starts, ends, strict=True):
            org, day = orgs[start].as_py(), days[start].as_py()
            self._writer(org, day).write_table(table.slice(start, end - start))
        rows: int = table.num_rows
        return rows

    def _writer(self, org: int, day: date) -> pq.ParquetWriter:
        entry = self.writers.get((org, day))
        if entry is None:
            folder = partition_dir(self.root, org, day)
            final = folder / f"{self.name}.parquet"
            if self.staging is None:
                _make_dirs(folder)
                tmp = folder / f"{_TMP_PREFIX}{self.name}.parquet"
            else:
                self.staging.mkdir(parents=True, exist_ok=True)
                tmp = self.staging / f"{org}-{day.isoformat()}-{self.name}.parquet"
            writer = pq.ParquetWriter(
                tmp,
                self.schema,
                compression=_COMPRESSION,
                # A dictionary of values that are nearly all distinct is built only to
                # be dropped, and their min/max prune nothing: see _NEARLY_UNIQUE.
                use_dictionary=_DICTIONARY_COLUMNS,
                write_statistics=_STATISTICS_COLUMNS,
            )
            entry = self.writers[(org, day)] = (writer, tmp, final)
        return entry[0]

    def commit(self, result: SegmentResult) -> None:
        """:meth:`seal`, then :meth:`publish`."""
        self.seal()
        self.publish(result)

    def seal(self) -> None:
        """Close every file and make its bytes durable; for staged files, make their
        day folders too. What can fail for want of room or rights fails here, before
        any file of the commit is in the lake."""
        for writer, tmp, final in self.writers.values():
            writer.close()
            with tmp.open("rb") as stream:
                os.fsync(stream.fileno())
            if self.staging is not None:
                _make_dirs(final.parent)

    def publish(self, result: SegmentResult) -> None:
        """Rename the sealed files into their partitions."""
        for _, tmp, final in self.writers.values():
            if self.staging is None and self.name in compacted_segments(final.parent):
                # A replay of a segment whose file was already merged by a compaction
                tmp.unlink(missing_ok=True)
                continue
            result.bytes_written += tmp.stat().st_size
            if self.staging is None:
                os.replace(tmp, final)
                fsync_dir(final.parent)
            else:
                _place(tmp, final)
            result.files.append(final)

    def abort(self) -> None:
        for writer, tmp, _ in self.writers.values():
            try:
                writer.close()
            finally:
                tmp.unlink(missing_ok=True)


#: Columns whose values are nearly all distinct in a file: no dictionary and no min/max
#: for them (``@timestamp`` keeps its min/max: hunts prune row groups by time). Measured
#: with valgrind on 20,000 EVE events (``bench/telemetry_ingest.py``'s mix): writing a
#: file took 17,900 instructions an event with a dictionary for every column but
#: ``raw``, 14,900 without these, and the file is 8 % smaller (84 bytes an event).
_NEARLY_UNIQUE = frozenset(
    {"raw", "@timestamp", "source.ip", "source.port", "destination.ip", "url.full"}
)
_DICTIONARY_COLUMNS = [field.name for field in lake_schema() if field.name not in _NEARLY_UNIQUE]
_STATISTICS_COLUMNS = [*_DICTIONARY_COLUMNS, "@timestamp"]
#: ``raw`` (the event as it came, ~360 bytes of JSON on EVE) is compressed with LZ4, the
#: rest with zstd. Measured on 20,000 events of ``bench/telemetry_ingest.py``'s EVE in one
#: row group, callgrind: 15,200 instructions an event to write the file all in zstd,
#: 12,500 with ``raw`` in LZ4; on disk 84 and 123 bytes an event (all LZ4: 142). These
#: files are the recent days': compaction (:mod:`steppe.lake.compaction`) rewrites a past day
#: all in zstd, so the extra bytes last until then.
_COMPRESSION = {field.name: "zstd" for field in lake_schema()} | {"raw": "lz4"}


def _in_order(table: pa.Table) -> bool:
    """Whether ``table`` is already sorted by (organisation, time), as live telemetry
    arrives: the stable sort then changes nothing, and it was ~40 % of the writer's CPU
    (1.5 µs an event on EVE, ``bench/telemetry_ingest.py``)."""
    orgs = table.column("organisation").combine_chunks()
    bounds = pc.min_max(orgs)
    if bounds["min"] != bounds["max"]:
        return False
    stamps = table.column("@timestamp").combine_chunks()
    if stamps.null_count:
        return False
    ordered = pc.all(pc.greater_equal(stamps[1:], stamps[:-1])).as_py()
    return ordered is not False


def write_segment(
    segment: Segment,
    root: Path,
    *,
    chunk_rows: int = CHUNK_ROWS,
    decoded: DecodedRows | None = None,
) -> SegmentResult:
    """Write every event of ``segment`` durably into the lake at ``root`` (body records'
    rows taken from ``decoded`` where their requests left them)."""
    result = SegmentResult()
    files = PartitionFiles(root, segment.name)
    torn = TornTail()
    pending: list[pa.Table] = []
    pending_rows = 0
    try:
        for payload in read_segment(segment.path, torn):
            try:
                table = decode(payload, decoded=decoded)
            except BadRecord:
                result.bad_records += 1  # checksummed, so written by a different version
                continue
            pending.append(table)
            pending_rows += table.num_rows
            if pending_rows >= chunk_rows:
                result.events += files.write(pa.concat_tables(pending))
                pending, pending_rows = [], 0
        if pending:
            result.events += files.write(pa.concat_tables(pending))
        files.commit(result)
    except BaseException:
        files.abort()
        raise
    if torn.offset is not None:
        result.torn = f"{segment.path.name}: {torn.reason} at byte {torn.offset}; ignored"
        log.warning("spool segment %s", result.torn)
    return result


def _place(tmp: Path, final: Path, attempts: int = 5) -> None:
    """Rename a staged file into its partition, making the folder first; again when a
    compaction renamed the folder away between the two (it puts it back at once)."""
    for attempt in range(attempts):
        try:
            _make_dirs(final.parent)
            os.replace(tmp, final)
        except FileNotFoundError:
            if attempt == attempts - 1 or not tmp.exists():
                raise
            time.sleep(0.05 * (attempt + 1))
            continue
        with contextlib.suppress(FileNotFoundError):  # a compaction took the folder
            fsync_dir(final.parent)  # meanwhile: it moves the file and syncs the folders
        return


def _make_dirs(folder: Path) -> None:
    """Create ``folder`` and make each new level durable in its parent."""
    missing: list[Path] = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for level in reversed(missing):
        level.mkdir(exist_ok=True)
        fsync_dir(level.parent)
