"""The spool: an append-only, fsynced write-ahead log of accepted telemetry batches.

A batch is durable when :meth:`Spool.append` returns; that is the acknowledgment point
of ingest. Each record on disk is ``magic(4) | length(4) | crc32(4) | payload``, little
endian; the payload is the batch (:mod:`steppe.lake.batches`: an Arrow IPC stream, a
request body of EVE lines, or JSON for small batches). Concurrent callers share fsyncs
(group commit): the first waiter syncs everything written so far while the others wait
on a condition, so N threads pay for about one fsync per round, not N.

Segments (``<seq>.wal``) rotate by size, and when the flusher seals them on its timer.
A sealed segment is fsynced and closed; it is deleted (:meth:`Spool.retire`) only after
its events are durably in Parquet.

Each process writes its own spool folder, locked with ``flock`` while it lives; on start
a lake takes over the folders whose lock is free (a process that died) and replays them.

    >>> import tempfile, pathlib
    >>> spool = Spool(pathlib.Path(tempfile.mkdtemp()) / "p1", segment_bytes=1 << 20)
    >>> spool.append(b'{"o":1}', max_backlog=1 << 20)
    >>> [seg.seq for seg in spool.seal()]
    [1]
    >>> list(read_segment(spool.sealed()[0].path))
    [b'{"o":1}']
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from steppe.errors import Overloaded

try:
    # ISA-L's CRC-32 is zlib's checksum (the same values: spools stay readable either
    # way), measured at 35 GB/s on 3 MB records against zlib's 5.3. A record is summed
    # twice (written, then read back by the writer): with zlib 0.11 µs an EVE event each
    # time (590 bytes), 0.015 with ISA-L; of the HTTP intake's ~5.5 µs of CPU an event.
    from isal.isal_zlib import crc32
except ImportError:  # pragma: no cover - isal is a dependency; zlib if it will not load
    from zlib import crc32

__all__ = [
    "Segment",
    "Spool",
    "SpoolBroken",
    "fsync_dir",
    "read_segment",
    "try_lock",
    "write_all",
]

MAGIC = b"STW1"
_HEADER = struct.Struct("<4sII")
_SUFFIX = ".wal"
_LOCK = "LOCK"


class SpoolBroken(Overloaded):
    """The spool could not write or sync; nothing more is accepted by this process."""


@dataclass(slots=True)
class Segment:
    seq: int
    path: Path
    fd: int | None = None
    size: int = 0
    records: int = 0
    opened_at: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        """Unique across processes: the spool folder's name and the sequence number."""
        return f"{self.path.parent.name}-{self.seq:08d}"


def fsync_dir(path: Path) -> None:
    """Make a rename, creation or deletion in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def try_lock(folder: Path) -> int | None:
    """An fd holding an exclusive lock on ``folder``'s LOCK file, or None if taken."""
    fd = os.open(folder / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def segment_files(folder: Path) -> list[tuple[int, Path]]:
    """The segments of a spool folder, oldest first."""
    found: list[tuple[int, Path]] = []
    for path in folder.glob(f"*{_SUFFIX}"):
        try:
            found.append((int(path.stem), path))
        except ValueError:
            continue
    return sorted(found)


class TornTail:
    """Where reading a segment stopped early (a record cut by a crash, a bad checksum)."""

    def __init__(self) -> None:
        self.offset: int | None = None
        self.reason = ""


def read_segment(path: Path, torn: TornTail | None = None) -> Iterator[bytes]:
    """The payloads of a segment, in order, up to the first incomplete or corrupt record.

    Only the tail can be torn: records are appended under a lock and every record before
    an acknowledged one was synced with it. ``torn`` (if given) says where and why
    reading stopped.
    """
    with path.open("rb") as stream:
        offset = 0
        while True:
            header = stream.read(_HEADER.size)
            if not header:
                return
            problem = ""
            if len(header) < _HEADER.size:
                problem = "partial record header"
            else:
                magic, length, crc = _HEADER.unpack(header)
                if magic != MAGIC:
                    problem = "bad record marker"
                else:
                    payload = stream.read(length)
                    if len(payload) < length:
                        problem = "partial record"
                    elif crc32(payload) != crc:
                        problem = "checksum mismatch"
            if problem:
                if torn is not None:
                    torn.offset, torn.reason = offset, problem
                return
            yield payload
            offset += _HEADER.size + length


class Spool:
    """This process's spool folder: appends with group commit, rotation, retirement."""

    def __init__(self, folder: Path, *, segment_bytes: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        fsync_dir(folder.parent)
        lock = try_lock(folder)
        if lock is None:
            raise SpoolBroken(f"spool folder {folder} is in use by another process", retry_after=5)
        self.folder = folder
        self._lock_fd: int | None = lock
        self._segment_bytes = segment_bytes
        self._cond = threading.Condition()
        existing = segment_files(folder)
        self._next_seq = existing[-1][0] + 1 if existing else 1
        self._sealed: list[Segment] = [
            Segment(seq, path, size=path.stat().st_size) for seq, path in existing
        ]
        self._active: Segment | None = None
        self._pending_bytes = sum(seg.size for seg in self._sealed)
        self._written = 0  # records appended (ticket counter)
        self._synced = 0  # records known durable
        self._syncing = False
        self._broken: str | None = None
        self.fsyncs = 0

    @property
    def pending_bytes(self) -> int:
        """Bytes in segments not yet retired: the backlog the flusher must write out."""
        return self._pending_bytes

    def append(
        self, *parts: bytes | memoryview, max_backlog: int, retry_after: float = 1.0
    ) -> None:
        """Append one record, whose payload is ``parts`` one after the other; return once
        it is on disk (fsynced).

        Raises :class:`~steppe.errors.Overloaded` without writing anything when the
        backlog would pass ``max_backlog`` (a batch is always taken into an empty spool,
        so one large batch cannot wedge ingest).
        """
        # Header and parts are written together (writev) rather than joined: a batch is
        # megabytes, and the copy showed in the server's memory under overload.
        length, checksum = 0, 0
        for part in parts:
            length += len(part)
            checksum = crc32(part, checksum)
        header = _HEADER.pack(MAGIC, length, checksum)
        size = len(header) + length
        with self._cond:
            self._check_usable()
            if self._pending_bytes and self._pending_bytes + size > max_backlog:
                raise Overloaded(
                    f"telemetry backlog is full ({self._pending_bytes} bytes waiting for "
                    "the Parquet writer); retry later",
                    retry_after=retry_after,
                )
            segment = self._active_for(size)
            assert segment.fd is not None
            try:
                write_all(segment.fd, header, *parts)
            except OSError as exc:
                self._undo_partial_write(segment, exc)
            segment.size += size
            segment.records += 1
            self._pending_bytes += size
            self._written += 1
            ticket = self._written
            while self._synced < ticket:
                self._check_usable()
                if self._syncing:
                    self._cond.wait()
                else:
                    self._sync_as_leader()

    def _sync_as_leader(self) -> None:
        # Called with the lock held. Records in sealed segments were synced when sealed,
        # so syncing the active one makes everything written so far durable.
        target = self._written
        active = self._active
        self._syncing = True
        self._cond.release()
        error: OSError | None = None
        try:
            if active is not None and active.fd is not None:
                os.fsync(active.fd)
        except OSError as exc:
            error = exc
        finally:
            self._cond.acquire()
            self._syncing = False
            self.fsyncs += 1
        if error is not None:
            # After a failed fsync the page cache may have dropped the data: trust nothing.
            self._broken = f"fsync of {active.path if active else '?'} failed: {error}"
        else:
            self._synced = max(self._synced, target)
        self._cond.notify_all()

    def _undo_partial_write(self, segment: Segment, exc: OSError) -> None:
        assert segment.fd is not None
        try:
            os.ftruncate(segment.fd, segment.size)
        except OSError:
            self._broken = f"write to {segment.path} failed and could not be undone: {exc}"
        raise Overloaded(f"telemetry spool write failed: {exc}", retry_after=30) from exc

    def _check_usable(self) -> None:
        if self._broken is not None:
            raise SpoolBroken(f"telemetry spool unusable: {self._broken}", retry_after=60)
        if self._lock_fd is None:
            raise SpoolBroken("telemetry spool is closed", retry_after=5)

    def _active_for(self, size: int) -> Segment:
        while True:
            segment = self._active
            if segment is not None and (
                segment.size == 0 or segment.size + size <= self._segment_bytes
            ):
                return segment
            if segment is not None:
                self._seal_locked()
                continue
            self._active = self._open_segment()

    def _open_segment(self) -> Segment:
        path = self.folder / f"{self._next_seq:08d}{_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fsync_dir(self.folder)  # the new name must survive a crash with its records
        segment = Segment(self._next_seq, path, fd=fd)
        self._next_seq += 1
        return segment

    def seal(self, older_than: float | None = None) -> list[Segment]:
        """Close the active segment (if it holds records, and is older than
        ``older_than`` seconds when given); return every sealed, unretired segment."""
        with self._cond:
            segment = self._active
            if segment is not None and segment.records:
                age = time.monotonic() - segment.opened_at
                if older_than is None or age >= older_than:
                    self._seal_locked()
            return list(self._sealed)

    def sealed(self) -> list[Segment]:
        with self._cond:
            return list(self._sealed)

    def _seal_locked(self) -> None:
        while self._syncing:  # a leader is syncing the active fd outside the lock
            self._cond.wait()
        segment = self._active
        if segment is None:
            return
        self._active = None
        assert segment.fd is not None
        try:
            os.fsync(segment.fd)
            self.fsyncs += 1
        except OSError as exc:
            self._broken = f"fsync of {segment.path} failed: {exc}"
        finally:
            os.close(segment.fd)
            segment.fd = None
        if segment.records:
            self._sealed.append(segment)
            if self._broken is None:
                self._synced = self._written  # everything written so far is now on disk
        else:
            segment.path.unlink(missing_ok=True)
        self._cond.notify_all()

    def retire(self, segment: Segment, *, keep_as: Path | None = None) -> None:
        """Delete a sealed segment whose events are durably in Parquet (or move it to
        ``keep_as``: a segment the writer cannot read, kept for a person to look at)."""
        with self._cond:
            self._sealed.remove(segment)
            self._pending_bytes -= segment.size
        if keep_as is not None:
            keep_as.parent.mkdir(parents=True, exist_ok=True)
            os.replace(segment.path, keep_as)
            fsync_dir(keep_as.parent)
        else:
            segment.path.unlink(missing_ok=True)
        fsync_dir(self.folder)

    def close(self) -> None:
        """Seal what is open and release the folder (sealed segments stay for recovery)."""
        with self._cond:
            if self._lock_fd is None:
                return
            self._seal_locked()
            os.close(self._lock_fd)
            self._lock_fd = None
            self._cond.notify_all()


def write_all(fd: int, *parts: bytes | memoryview) -> None:
    """Write ``parts`` to ``fd`` in order, all of them (``writev`` may write less)."""
    views = [memoryview(part).cast("B") for part in parts if len(part)]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views.pop(0))
        if views and written:
            views[0] = views[0][written:]
