"""Asynchronous TAXII POST: envelopes spooled durably, imported in groups by one worker.

TAXII 2.1 lets a server answer a POST with a status resource that is still ``pending``.
With ``taxii_async_post`` on, the POST checks the caller, the collection and the
envelope's shape, writes the body to this process's spool folder (one small file,
fsynced: the acknowledgment point) and answers 202 ``pending``. A worker thread lets
the queue grow while envelopes keep coming (a feed posted back to back), takes every
envelope spooled and imports them all in ONE transaction —
one commit (one WAL fsync on SQLite) for many envelopes instead of one each — and
writes each envelope's final status resource in that same transaction. Only then are
the spool files deleted.

    intake = TaxiiIntake(settings.data_dir / "taxii-intake", import_one, every=0.02)
    intake.start()                      # with the server; takes over a dead process's spool
    status = intake.spool(header, body)  # durable when it returns
    intake.pending(status_id, user_id)  # the header while it waits, else None
    intake.stop()

Crash safety: a spool file is written under a temporary name, fsynced, renamed and its
folder fsynced, so a file with the final name is whole. After a SIGKILL the next start
imports what the dead process left; an envelope whose status row already exists (the
crash fell between the commit and the unlink) is only unlinked, so nothing is imported
twice.

Each process spools into a folder of its own, locked with ``flock`` while it lives; on
start it takes over the files of folders whose lock is free.

The worker may also run in a process of its own (:mod:`steppe.federation.intake_process`,
what ``steppe serve`` does): the server then only spools, and the child, started with the
server's folder (``start(folder=...)``), is told of each new file (``enqueue``) and says
when each envelope is done (``on_done``).

An envelope whose import fails does not hold up the others: it goes to the back of the
queue. When every import fails (the database is down) the worker backs off, up to 30 s
between rounds, and nothing is given up. An envelope that has failed
``max_attempts`` times while others went in after its first failure fails every
object instead (``give_up`` records that status, "not imported: …"), and its file
moves to ``<root>/failed/`` for an operator to look at: a TAXII client polling its
status gets an answer instead of ``pending`` forever.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from steppe.errors import Overloaded
from steppe.lake.spool import fsync_dir, try_lock, write_all
from steppe.workers.periodic import PeriodicWorker

__all__ = [
    "Intake",
    "SpoolHeader",
    "Spooled",
    "TaxiiIntake",
    "find_pending",
    "load_folder",
    "open_spool",
    "spooled_sizes",
    "take_over_dead",
    "write_envelope",
]

log = logging.getLogger(__name__)

_SUFFIX = ".envelope"
_FAILED = "failed"  # the folder of envelopes given up on
_STATUS_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True, slots=True)
class SpoolHeader:
    """What the POST knew: whose envelope, for which collection, when, how many objects."""

    status_id: str
    user_id: int
    user_name: str
    collection_id: str
    request_timestamp: str
    total_count: int

    def to_line(self) -> bytes:
        return orjson.dumps(
            {
                "status_id": self.status_id,
                "user_id": self.user_id,
                "user_name": self.user_name,
                "collection_id": self.collection_id,
                "request_timestamp": self.request_timestamp,
                "total_count": self.total_count,
            }
        )

    @classmethod
    def from_line(cls, line: bytes) -> SpoolHeader:
        doc: dict[str, Any] = orjson.loads(line)
        return cls(
            str(doc["status_id"]),
            int(doc["user_id"]),
            str(doc["user_name"]),
            str(doc["collection_id"]),
            str(doc["request_timestamp"]),
            int(doc["total_count"]),
        )


@dataclass(frozen=True, slots=True)
class Spooled:
    """An envelope waiting in the spool: its header, its body and its file."""

    header: SpoolHeader
    body: bytes
    path: Path


ImportGroup = Callable[[list[Spooled]], None]
#: Records an envelope's status as failed, every object with the reason.
GiveUp = Callable[[Spooled, str], None]


class Intake(Protocol):
    """What the TAXII server needs of an intake, in-process or with a child process."""

    @property
    def running(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def spool(self, header: SpoolHeader, body: bytes) -> None: ...

    def pending(self, status_id: str, user_id: int) -> SpoolHeader | None: ...

    def backlog(self) -> int: ...


class TaxiiIntake:
    """The spool of accepted envelopes and the worker that imports them in groups.

    ``import_group(envelopes)`` must import them all and write their statuses in one
    transaction, or raise with nothing written; the intake then tries them one by one.
    """

    def __init__(
        self,
        root: Path,
        import_group: ImportGroup,
        *,
        give_up: GiveUp | None = None,
        max_attempts: int = 5,
        give_up_after: float = 60.0,
        max_backlog_bytes: int = 256 * 1024 * 1024,
        every: float = 0.02,
        max_objects: int = 20_000,
        linger: float = 0.03,
        max_linger: float = 0.25,
        on_done: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root
        self._import_group = import_group
        self._max_objects = max_objects
        self._linger = linger
        self._max_linger = max_linger
        self._queue: list[Spooled] = []
        self._known: set[str] = set()  # status ids queued or being imported
        self._stopping = False
        self._on_done = on_done
        self._lock = threading.Lock()
        self._folder: Path | None = None
        self._lock_fd: int | None = None
        self._failures = 0  # rounds in a row that failed: the back-off before the next
        self._retry_at = 0.0
        self._give_up = give_up
        self._max_attempts = max_attempts
        self._give_up_after = give_up_after
        self._max_backlog_bytes = max_backlog_bytes
        # status id -> (failed imports, when the first failed, not to be tried before)
        self._attempts: dict[str, tuple[int, float, float]] = {}
        self._last_success = 0.0  # monotonic time of the last import that went in
        self._worker = PeriodicWorker("taxii-intake", self._round, every=every, first_at_once=True)

    @property
    def running(self) -> bool:
        return self._worker.running

    def start(self, folder: Path | None = None) -> None:
        """Open this process's spool folder, take over dead ones, start the worker.

        With ``folder``: import what is in that folder, one another process opened and
        keeps locked (the worker's child process is started so)."""
        with self._lock:
            if self._folder is None:
                if folder is None:
                    self._folder, self._lock_fd = open_spool(self.root)
                else:
                    self._folder = folder
                self._append(load_folder(self._folder))
            self._stopping = False
        self._worker.start()

    def stop(self) -> None:
        """Stop the worker after the group it imports; what is still spooled waits for
        the next start."""
        self._stopping = True
        self._worker.stop()
        with self._lock:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
            self._folder = None
            self._queue.clear()
            self._known.clear()

    def enqueue(self, path: Path) -> None:
        """Queue the spooled file ``path`` (written by another process) unless it is
        queued or being imported already, or gone (imported meanwhile)."""
        item = _read_spooled(path)
        if item is not None:
            with self._lock:
                if self._folder is not None:
                    self._append([item])

    def spool(self, header: SpoolHeader, body: bytes) -> None:
        """Write the envelope durably and queue it; the POST may answer 202 after this.

        Overloaded (nothing written) when the envelopes waiting would pass
        ``max_backlog_bytes``: the queue holds their bodies in memory, so a client that
        posts faster than the import must be told to wait, not let the server grow."""
        self.start()
        with self._lock:
            waiting = sum(len(item.body) for item in self._queue)
        if waiting and waiting + len(body) > self._max_backlog_bytes:
            raise Overloaded(
                f"{waiting:,} bytes of envelopes are waiting to be imported; "
                "post again after Retry-After",
                retry_after=2.0,
            )
        folder = self._folder
        assert folder is not None
        final = write_envelope(folder, header, body)
        with self._lock:
            self._append([Spooled(header, body, final)])

    def pending(self, status_id: str, user_id: int) -> SpoolHeader | None:
        """The header of ``status_id`` if it still waits (in any process's spool) for
        ``user_id``; None otherwise (imported already, another user's, or unknown)."""
        return find_pending(self.root, status_id, user_id)

    def backlog(self) -> int:
        """Envelopes queued in this process and not yet imported."""
        with self._lock:
            return len(self._queue)

    # --- the worker -----------------------------------------------------------------------

    def _append(self, items: list[Spooled]) -> None:
        """Queue ``items`` not queued yet (the caller holds the lock)."""
        for item in items:
            if item.header.status_id not in self._known:
                self._known.add(item.header.status_id)
                self._queue.append(item)

    def _done(self, item: Spooled) -> None:
        """``item`` left the spool (imported, or given up on): forget it, say so."""
        with self._lock:
            self._known.discard(item.header.status_id)
        if self._on_done is not None:
            self._on_done(item.header.status_id)

    def _round(self) -> None:
        if time.monotonic() < self._retry_at:
            return
        went_in = False
        while not self._stopping:  # stopped: the rest waits for the next start
            self._gather()
            group = self._take()
            if not group:
                self._failures = 0
                return
            if self._import(group):
                went_in = True
                continue
            if went_in:
                return  # others went in: what failed waits its own turn (``_failed``)
            # Nothing went in — a database that is down: try again later, not every
            # round (each failure is logged), waiting up to 30 s between attempts.
            self._failures += 1
            self._retry_at = time.monotonic() + min(30.0, 0.1 * 2**self._failures)
            return

    def _queued_objects(self) -> int:
        with self._lock:
            return sum(item.header.total_count for item in self._queue)

    def _gather(self) -> None:
        """Let a group grow while envelopes keep coming (a client sending a feed posts
        them back to back): without it the worker takes each alone as it arrives and
        the group commit never happens. Waits ``linger`` at a time, while the queue grew
        in the last wait, at most ``max_linger`` and no further than ``max_objects``."""
        queued = self._queued_objects()
        if not queued:
            return
        deadline = time.monotonic() + self._max_linger
        while queued < self._max_objects and time.monotonic() < deadline:
            time.sleep(self._linger)
            grown = self._queued_objects()
            if grown == queued:
                return
            queued = grown

    def _take(self) -> list[Spooled]:
        """The next group: queued envelopes in order, up to ``max_objects``, leaving
        those that failed until their own retry time."""
        now = time.monotonic()
        with self._lock:
            taken: list[Spooled] = []
            kept: list[Spooled] = []
            objects = 0
            for item in self._queue:
                tried = self._attempts.get(item.header.status_id)
                ready = tried is None or tried[2] <= now
                if ready and (not taken or objects < self._max_objects):
                    taken.append(item)
                    objects += item.header.total_count
                else:
                    kept.append(item)
            self._queue[:] = kept
            return taken

    def _import(self, group: list[Spooled]) -> bool:
        """Import ``group``; False if none of it went in. What failed waits at the back
        of the queue (or is given up, see the module's docstring)."""
        try:
            self._import_group(group)
        except Exception:
            if len(group) == 1:
                log.exception("TAXII intake: envelope %s failed", group[0].header.status_id)
                self._failed(group[0])
                return False
            log.warning("TAXII intake: a group of %d failed; one by one", len(group))
            return any([self._import([item]) for item in group])
        self._last_success = time.monotonic()
        for item in group:
            self._attempts.pop(item.header.status_id, None)
            item.path.unlink(missing_ok=True)
            self._done(item)
        return True

    def _failed(self, item: Spooled) -> None:
        status_id = item.header.status_id
        now = time.monotonic()
        count, first, _ = self._attempts.get(status_id, (0, now, now))
        count += 1
        self._attempts[status_id] = (count, first, now + min(30.0, 0.2 * 2 ** (count - 1)))
        poisoned = (
            count >= self._max_attempts
            and self._last_success > first
            and now - first >= self._give_up_after
        )
        if poisoned and self._give_up is not None and self._set_aside(item, count):
            return
        with self._lock:
            if self._folder is not None:
                self._queue.append(item)

    def _set_aside(self, item: Spooled, attempts: int) -> bool:
        """Fail every object of an envelope that others got past, and keep its file in
        ``failed/``; False (it stays queued) if even that could not be written."""
        reason = (
            f"not imported: the server failed to import this envelope {attempts} times "
            "(its log says why); an operator has the envelope"
        )
        assert self._give_up is not None
        try:
            self._give_up(item, reason)
        except Exception:
            log.exception("TAXII intake: could not record envelope %s as failed", item.path)
            return False
        failed = self.root / _FAILED
        failed.mkdir(exist_ok=True)
        os.rename(item.path, failed / item.path.name)
        fsync_dir(failed)
        self._attempts.pop(item.header.status_id, None)
        self._done(item)
        log.error("TAXII intake: gave up on envelope %s; kept in %s", item.path.name, failed)
        return True


def write_envelope(folder: Path, header: SpoolHeader, body: bytes) -> Path:
    """Write an envelope's spool file in ``folder`` durably (the acknowledgment point):
    under a temporary name, fsynced, renamed, the folder fsynced. Its path."""
    final = folder / f"{header.status_id}{_SUFFIX}"
    temporary = final.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        write_all(fd, header.to_line() + b"\n", body)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temporary, final)
    fsync_dir(folder)
    return final


def find_pending(root: Path, status_id: str, user_id: int) -> SpoolHeader | None:
    """The header of ``status_id`` if it still waits in a spool folder under ``root`` for
    ``user_id``; None otherwise (imported already, another user's, or unknown)."""
    if not _STATUS_ID.match(status_id):
        return None
    for path in root.glob(f"*/{status_id}{_SUFFIX}"):
        if path.parent.name == _FAILED:
            continue  # given up: its status is in the database
        try:
            with path.open("rb") as stream:
                header = SpoolHeader.from_line(stream.readline())
        except (OSError, orjson.JSONDecodeError, KeyError, ValueError):
            continue  # imported and unlinked while we looked
        if header.user_id == user_id:
            return header
    return None


def open_spool(root: Path) -> tuple[Path, int]:
    """A new spool folder under ``root`` and the fd of its lock (held while the process
    lives), with the files of dead processes' folders moved in."""
    root.mkdir(parents=True, exist_ok=True)
    folder = root / uuid.uuid4().hex
    folder.mkdir()
    fsync_dir(root)
    lock = try_lock(folder)
    assert lock is not None  # a folder no one else knows of
    take_over_dead(root, folder)
    return folder, lock


def take_over_dead(root: Path, folder: Path) -> list[Path]:
    """Move into ``folder`` the envelopes of the folders under ``root`` whose lock is free
    (their process died), and remove those folders; the paths moved in."""
    moved: list[Path] = []
    for other in sorted(root.iterdir()):
        if other == folder or not other.is_dir() or other.name == _FAILED:
            continue
        held = try_lock(other)
        if held is None:
            continue  # a live process's spool
        try:
            for path in other.glob(f"*{_SUFFIX}"):
                os.rename(path, folder / path.name)
                moved.append(folder / path.name)
            fsync_dir(folder)
            shutil.rmtree(other)  # what is left: its lock file and unacknowledged .tmp files
            fsync_dir(root)
        finally:
            os.close(held)
    return moved


def _read_spooled(path: Path) -> Spooled | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None  # imported and unlinked, or taken over
    line, _, body = data.partition(b"\n")
    try:
        header = SpoolHeader.from_line(line)
    except (orjson.JSONDecodeError, KeyError, ValueError):
        log.error("TAXII intake: %s has no readable header; left in place", path)
        return None
    return Spooled(header, body, path)


def spooled_sizes(folder: Path) -> dict[str, int]:
    """Status id -> file size of each envelope spooled in ``folder``."""
    sizes: dict[str, int] = {}
    for path in folder.glob(f"*{_SUFFIX}"):
        try:
            sizes[path.stem] = path.stat().st_size
        except FileNotFoundError:
            continue
    return sizes


def load_folder(folder: Path) -> list[Spooled]:
    """The envelopes spooled in ``folder``, oldest first."""
    found: list[tuple[float, Spooled]] = []
    for path in folder.glob(f"*{_SUFFIX}"):
        item = _read_spooled(path)
        if item is not None:
            found.append((path.stat().st_mtime, item))
    found.sort(key=lambda pair: (pair[0], pair[1].header.request_timestamp))
    return [item for _, item in found]
