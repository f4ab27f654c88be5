"""Bulk inserts of plain tuples, and a writer thread that runs them while the caller works.

Measured on the import benchmark (bench/stix_import.py): SQLAlchemy Core's
``conn.execute(insert(t), list_of_dicts)`` spends most of its time building and
processing parameter dicts; handing tuples straight to the driver is several times
faster. The rows still go through the connection's transaction, so an import is all or
nothing.

Rows go out in few statements: on SQLite multi-row ``INSERT … VALUES (…), (…), …`` of
up to ~1,800 rows each, on PostgreSQL one ``COPY``. Both drivers release the GIL while
the database works, so a :class:`BackgroundWriter` thread can insert one batch while the
caller builds the next. Not ``executemany``: sqlite3 takes the GIL back after every row,
and with the caller busy in Python each row then waits up to the interpreter's switch
interval (5 ms): 100,000 rows took 3 s instead of 1.3 s. Not ``json_each`` over one JSON
text either: one statement, but SQLite's JSON parsing made the inserts ~1 s slower per
100,000 rows.

    >>> with BackgroundWriter(threaded=True) as writer:
    ...     done = writer.submit(sum, [1, 2, 3])
    ...     writer.wait(done)
    6
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from itertools import chain
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import Connection, Table

__all__ = ["SQLITE_MAX_PARAMS", "BackgroundWriter", "bulk_insert"]

T = TypeVar("T")

#: Bound parameters per SQLite statement: the default limit since SQLite 3.32.
SQLITE_MAX_PARAMS = 32766


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``."""
    if not rows:
        return
    for name in columns:
        if name not in table.c:
            raise ValueError(f"{table.name} has no column {name!r}")
    column_list = ", ".join(columns)
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        sql = f"COPY {table.name} ({column_list}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        return
    limit = min(SQLITE_MAX_PARAMS, raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))  # type: ignore[union-attr]
    per_statement = max(1, limit // len(columns))
    one = "(" + ", ".join("?" * len(columns)) + ")"
    start = 0
    while start < len(rows):
        # Statements of a few sizes only (the full size, then powers of two), so that
        # sqlite3's statement cache compiles each text once per connection: compiling a
        # statement costs ~3 µs a row, and a remainder of a new size each call (a TAXII
        # envelope's correlation rows) cost ~4% of the import (callgrind).
        left = len(rows) - start
        size = per_statement if left >= per_statement else 1 << (left.bit_length() - 1)
        part = rows[start : start + size]
        sql = f"INSERT INTO {table.name} ({column_list}) VALUES {', '.join([one] * size)}"
        raw.execute(sql, list(chain.from_iterable(part)))  # type: ignore[union-attr]
        start += size


class BackgroundWriter:
    """Runs database work in order on one thread, the only one using the connection.

    ``submit`` queues a call and returns its future; the caller must not touch the
    connection until the writer is closed. After a call fails, the calls queued behind
    it do not run and their futures carry the first error, which :meth:`close` raises
    too. With ``threaded=False`` each call runs at once on the caller's thread (small
    imports: no thread to start). Leaving the ``with`` block on an exception stops the
    writer without raising its error, so the caller's exception is the one that
    propagates; the writer is idle (never mid-statement) when ``__exit__`` returns.
    """

    def __init__(self, *, threaded: bool) -> None:
        self._error: BaseException | None = None
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._run, name="steppe-writer", daemon=True)
            self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        if self._queue is None:
            self._call(future, lambda: fn(*args))
        else:
            self._queue.put((future, lambda: fn(*args)))
        return future

    def wait(self, future: Future[T]) -> T:
        """The call's result; raises the writer's first error if the call failed or was
        skipped because an earlier one failed."""
        return future.result()

    @property
    def failed(self) -> bool:
        return self._error is not None

    def close(self) -> None:
        """Wait for every queued call; raise the first error, if any."""
        self._stop()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abandon()

    def _call(self, future: Future[Any], call: Callable[[], Any]) -> None:
        if self._error is not None:
            future.set_exception(self._error)
            return
        try:
            result = call()
        except BaseException as exc:
            self._error = exc
            future.set_exception(exc)
        else:
            future.set_result(result)

    def _run(self) -> None:
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            self._call(*item)

    def _abandon(self) -> None:
        if self._error is None:
            self._error = _Abandoned("the caller stopped the writer")
        self._stop()

    def _stop(self) -> None:
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


class _Abandoned(Exception):
    """Set on calls still queued when the caller leaves on an exception of its own."""
