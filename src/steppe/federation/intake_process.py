"""The TAXII intake's import in a child process, beside the server that spools.

An in-process intake (:class:`~steppe.federation.intake.TaxiiIntake`) imports in a thread
of the server: the import's Python (pattern parsing, inserts, correlation) then shares
one GIL with the event loop that reads, checks and spools the next envelopes, and a
POSTed feed goes at the speed of the two added up. Here the server only spools, and a
child process imports — the two overlap, on two cores.

    intake = IntakeProcess(data_dir / "taxii-intake", database_url, secret_key)
    intake.start()                      # the spool folder, dead ones taken over, the child
    intake.spool(header, body)          # durable when it returns; the child is told
    intake.stop()                       # the child ends after the group it imports

Who does what:

- the server (this class) owns the spool folder and its ``flock``; it writes each
  envelope's file (the acknowledgment point, as in-process), then writes the file's path
  on the child's stdin. It answers status queries from the spool files, as in-process.
- the child (``python -m steppe.federation.intake_process``) is the only writer of the
  import: it runs a :class:`TaxiiIntake` on the server's folder — loading what is there
  when it starts, then the paths it is told of — and writes one line per envelope done
  (imported, or given up on) to a pipe the server reads (the bytes waiting, for
  ``max_backlog_bytes``).

The child inherits the folder's lock: the folder stays locked while either lives, so a
server started after a SIGKILL does not take the folder over while the old child still
imports from it. The server looks for dead folders again every few seconds and hands
what it takes over to its child.

Crashes: a child that dies is started again (after a pause, longer each time it dies
young); it loads the folder, so nothing spooled is lost, and an envelope whose status row
is written already is only unlinked (exactly once, as in-process). A server that dies
closes the child's stdin: the child ends after the group it imports — no orphan. The
child ignores SIGINT (a Ctrl-C in a terminal reaches the whole process group): the
server, stopping, ends it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import orjson

from steppe.errors import Overloaded
from steppe.federation.intake import (
    SpoolHeader,
    TaxiiIntake,
    find_pending,
    open_spool,
    spooled_sizes,
    take_over_dead,
    write_envelope,
)

__all__ = ["IntakeProcess", "main"]

log = logging.getLogger(__name__)

_RESCAN_SECONDS = 2.0  # how often the server looks for dead processes' spool folders
_YOUNG_SECONDS = 60.0  # a child that dies younger waits longer before the next one starts


class IntakeProcess:
    """The server's side of an intake whose import runs in a child process."""

    def __init__(
        self,
        root: Path,
        database_url: str,
        secret_key: str,
        *,
        max_backlog_bytes: int = 256 * 1024 * 1024,
        stop_timeout: float = 60.0,
    ) -> None:
        self.root = root
        self._database_url = database_url
        self._secret_key = secret_key
        self._max_backlog_bytes = max_backlog_bytes
        self._stop_timeout = stop_timeout
        self._lock = threading.Lock()
        self._folder: Path | None = None
        self._lock_fd: int | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._launched_at = 0.0
        self._deaths = 0  # children in a row that died young
        self._reports: IO[bytes] | None = None
        self._monitor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._waiting: dict[str, int] = {}  # status id -> body bytes, until the child is done

    @property
    def running(self) -> bool:
        return self._child is not None

    @property
    def child_pid(self) -> int | None:
        """The process id of the child importing now (None when stopped)."""
        child = self._child
        return child.pid if child is not None else None

    def start(self) -> None:
        """Open the spool folder (taking over dead ones) and start the child; a second
        start does nothing."""
        with self._lock:
            if self._folder is not None:
                return
            self._folder, self._lock_fd = open_spool(self.root)
            self._waiting = spooled_sizes(self._folder)
            self._stopping.clear()
            self._launch()
            self._monitor = threading.Thread(
                target=self._watch, name="taxii-intake-watch", daemon=True
            )
            self._monitor.start()

    def stop(self) -> None:
        """End the child after the group it imports (killed if it takes longer than
        ``stop_timeout``); what is still spooled waits for the next start."""
        with self._lock:
            if self._folder is None:
                return
            self._stopping.set()
            child = self._child
        if child is not None:
            _end(child, self._stop_timeout)
        if self._monitor is not None:
            self._monitor.join(self._stop_timeout)
            self._monitor = None
        with self._lock:
            self._child = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
            self._folder = None
            self._waiting.clear()

    def spool(self, header: SpoolHeader, body: bytes) -> None:
        """Write the envelope durably and tell the child; the POST may answer 202 after
        this. Overloaded (nothing written) when the envelopes waiting would pass
        ``max_backlog_bytes``."""
        self.start()
        with self._lock:
            waiting = sum(self._waiting.values())
            folder = self._folder
        if waiting and waiting + len(body) > self._max_backlog_bytes:
            raise Overloaded(
                f"{waiting:,} bytes of envelopes are waiting to be imported; "
                "post again after Retry-After",
                retry_after=2.0,
            )
        assert folder is not None
        path = write_envelope(folder, header, body)
        with self._lock:
            self._waiting[header.status_id] = len(body)
            self._tell([path])

    def pending(self, status_id: str, user_id: int) -> SpoolHeader | None:
        """The header of ``status_id`` if it still waits for ``user_id``, else None."""
        return find_pending(self.root, status_id, user_id)

    def backlog(self) -> int:
        """Envelopes spooled by this process (or taken over) and not yet imported."""
        with self._lock:
            return len(self._waiting)

    # --- the child -------------------------------------------------------------------

    def _launch(self) -> None:
        """Start a child on the folder (the caller holds the lock)."""
        assert self._folder is not None and self._lock_fd is not None
        read_end, write_end = os.pipe()
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "steppe.federation.intake_process"],
                stdin=subprocess.PIPE,
                pass_fds=(self._lock_fd, write_end),
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self._child = child
        self._launched_at = time.monotonic()
        self._reports = os.fdopen(read_end, "rb", buffering=0)
        config = {
            "database_url": self._database_url,
            "secret_key": self._secret_key,
            "root": str(self.root),
            "folder": str(self._folder),
            "reports": write_end,
        }
        # The secret goes through the pipe, not the command line (which `ps` shows).
        self._tell_line(orjson.dumps(config))

    def _tell(self, paths: list[Path]) -> None:
        """Tell the child of new files (the caller holds the lock). A child that died
        misses nothing: the next one loads the folder when it starts."""
        for path in paths:
            self._tell_line(str(path).encode())

    def _tell_line(self, line: bytes) -> None:
        child = self._child
        if child is None or child.stdin is None:
            return
        try:
            child.stdin.write(line + b"\n")
            child.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # the child died (the watcher starts another) or is being stopped

    def _watch(self) -> None:
        """Read the child's reports; start a new child when one dies; take over the
        folders of dead processes every few seconds."""
        buffered = b""
        rescan_at = time.monotonic() + _RESCAN_SECONDS
        while True:
            reports = self._reports
            assert reports is not None
            ready, _, _ = select.select([reports], [], [], _RESCAN_SECONDS)
            if ready:
                chunk = reports.read(65536)
                if chunk:
                    *done, buffered = (buffered + chunk).split(b"\n")
                    with self._lock:
                        for status_id in done:
                            self._waiting.pop(status_id.decode(), None)
                    continue
                buffered = b""
                if not self._child_died():
                    return
            if time.monotonic() >= rescan_at and not self._stopping.is_set():
                rescan_at = time.monotonic() + _RESCAN_SECONDS
                self._rescan()

    def _child_died(self) -> bool:
        """The child's report pipe closed: wait for it; False when stopping, else start
        another after a pause (True): 0.5 s, doubling up to 30 s while children keep
        dying within a minute of their start."""
        child = self._child
        assert child is not None and self._reports is not None
        self._reports.close()
        code = child.wait()
        with self._lock:
            if child.stdin is not None:
                with contextlib.suppress(OSError):
                    child.stdin.close()
        if self._stopping.is_set():
            return False
        young = time.monotonic() - self._launched_at < _YOUNG_SECONDS
        self._deaths = self._deaths + 1 if young else 0
        pause = min(30.0, 0.5 * 2 ** max(0, self._deaths - 1))
        log.error("TAXII intake: the import process ended (code %s); again in %.1f s", code, pause)
        if self._stopping.wait(pause):
            return False
        with self._lock:
            if self._stopping.is_set():
                return False
            self._launch()
        return True

    def _rescan(self) -> None:
        with self._lock:
            if self._folder is None or self._stopping.is_set():
                return
            try:
                moved = take_over_dead(self.root, self._folder)
            except OSError:
                log.exception("TAXII intake: could not take over a dead spool folder")
                return
            for path in moved:
                try:
                    self._waiting[path.stem] = path.stat().st_size
                except FileNotFoundError:
                    continue
            self._tell(moved)


def _end(child: subprocess.Popen[bytes], timeout: float) -> None:
    """Close the child's stdin (it ends after its group) and wait; then kill it."""
    if child.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            child.stdin.close()
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        log.error("TAXII intake: the import process did not end in %.0f s; killed", timeout)
        child.kill()
        child.wait()


def main() -> None:
    """The child: import what the server spools until its stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when to stop
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Imported here: the server's side of this module needs none of the database.
    from steppe.federation.writing import spooled_importer
    from steppe.heap import settle_heap
    from steppe.storage.engine import make_engine

    config = orjson.loads(sys.stdin.buffer.readline())
    reports = os.fdopen(int(config["reports"]), "wb", buffering=0)

    def report(status_id: str) -> None:
        # A server that is gone reads nothing: its successor reads the spool.
        with contextlib.suppress(OSError):
            reports.write(status_id.encode() + b"\n")

    engine = make_engine(str(config["database_url"]))
    import_group, give_up = spooled_importer(engine, str(config["secret_key"]))
    # As the server does (steppe serve): the start-up heap out of the collector's reach,
    # and a higher first threshold; the child allocated with Python's defaults before.
    settle_heap()
    # No lingering for a group to grow (an in-process worker's way to take turns with the
    # event loop): the next group is what came while this one was imported.
    intake = TaxiiIntake(
        Path(config["root"]), import_group, give_up=give_up, on_done=report, linger=0.0
    )
    intake.start(folder=Path(config["folder"]))
    try:
        for line in sys.stdin.buffer:
            if line.strip():
                intake.enqueue(Path(line.strip().decode()))
    finally:
        intake.stop()
        engine.dispose()


if __name__ == "__main__":
    main()
