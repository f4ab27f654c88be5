"""Database engines for the embedded default (SQLite) and PostgreSQL."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from steppe.errors import ConfigError

__all__ = ["is_postgres", "make_engine", "writing"]

log = logging.getLogger(__name__)

#: SQLite's default: a commit that leaves more WAL pages than this copies them into the
#: database file (an automatic checkpoint) before it returns.
_AUTOCHECKPOINT_PAGES = 1000

#: Page cache of every connection (KiB): the indexes a large import inserts into at
#: random stay in it.
_CACHE_KIB = 65536

#: Page cache of a large transaction's connection (``checkpoint_after``, KiB): past it,
#: SQLite writes dirty pages to the WAL as the transaction goes instead of at its commit,
#: and :class:`_WalSyncer` syncs them meanwhile. 16 MB holds the pages an ipsum pull
#: revisits (the WAL is no larger than with 64 MB: a page written twice in one
#: transaction takes its frame again).
_LARGE_CACHE_KIB = 16384

#: How often :class:`_WalSyncer` syncs the WAL (seconds).
_WAL_SYNC_INTERVAL = 0.05


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``, with SQLite set up for a multi-process embedded server.

    SQLite gets WAL (readers never block the writer), full sync, foreign keys, a larger
    page cache and a busy timeout;
    its Python driver's own transaction handling is switched off so that SQLAlchemy's
    ``BEGIN`` is the real one (the pattern the SQLAlchemy docs recommend).
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with its own wording
        raise ConfigError(f"database URL {url!r} is not valid: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, **kwargs)
    raise ConfigError(f"database {backend!r} is not supported; use sqlite or postgresql")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


#: The adapter of None: any callable returning None for None. A C-level one (an empty
#: dict's ``get``): the driver calls it for every NULL it binds, and a Python function
#: cost ~1,400 instructions a NULL, 2% of a TAXII group import (callgrind).
_BIND_NONE: dict[None, None] = {}


def _configure_sqlite(engine: Engine) -> None:
    # The sqlite3 driver binds None (NULL) only after looking for an adapter and raising
    # and clearing two AttributeErrors, ~0.6 µs a value; a registered adapter skips that
    # (1,500 NULLs a multi-row INSERT: 1.34 ms -> 0.48 ms; ~3 NULLs an imported object).
    # The same NULL is stored. Process-wide, and idempotent.
    sqlite3.register_adapter(type(None), _BIND_NONE.get)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: a commit the API acknowledged survives a power cut, not only a crash of
        # the process (NORMAL in WAL mode may lose the last commits to an OS crash).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front (BEGIN IMMEDIATE): a deferred transaction
        # that reads first and writes later fails at once with SQLITE_BUSY when another
        # writer committed in between, instead of waiting its turn.
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


@contextmanager
def writing(engine: Engine, *, checkpoint_after: bool = False) -> Iterator[Connection]:
    """A write transaction: all of it lands, or nothing does.

    On SQLite it starts with ``BEGIN IMMEDIATE``, so concurrent writers queue on the
    busy timeout instead of failing; on PostgreSQL it is a plain transaction.

    ``checkpoint_after`` (SQLite; for a transaction that writes tens of megabytes, a
    feed's pull): the commit returns once the WAL is written and synced — as durable as
    ever — and a thread then copies the WAL into the database file, which the commit's
    automatic checkpoint did before returning (0.2-0.5 s of ipsum's pull). Readers and
    the next writer go on meanwhile (a passive checkpoint takes no lock they wait for).
    The transaction's pages also reach the disk while it runs, not all at its commit: its
    connection gets a smaller page cache, so SQLite writes pages to the WAL as it goes,
    and a thread syncs the WAL meanwhile (:class:`_WalSyncer`); the commit's own sync
    then has little left to wait for (ipsum's pull: 0.33-0.61 s -> 0.08-0.21 s of commit
    at load 2-3.5; the writer's appends cost a little more meanwhile: docs/benchmarks.md).
    Frames synced before the commit are not committed: recovery ignores them.
    """
    with engine.connect() as conn:
        raw = None
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            if checkpoint_after:
                raw = conn.connection.driver_connection
                raw.execute("PRAGMA wal_autocheckpoint=0")  # type: ignore[union-attr]
                raw.execute(f"PRAGMA cache_size=-{_LARGE_CACHE_KIB}")  # type: ignore[union-attr]
        try:
            with conn.begin():
                if raw is None:
                    yield conn
                else:
                    with _WalSyncer(raw):
                        yield conn
        finally:
            if raw is not None:  # the connection goes back to the pool as it came
                raw.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
                raw.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
    if raw is not None:
        threading.Thread(
            target=_checkpoint, args=(engine,), name="steppe-checkpoint", daemon=True
        ).start()


def _checkpoint(engine: Engine) -> None:
    """Copy the WAL into the database file (``PASSIVE``: what the commit would have done)."""
    try:
        with engine.connect() as conn:
            conn.connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
    except Exception as exc:  # the next commit's automatic checkpoint does it instead
        log.debug("background checkpoint failed: %s", exc)


class _WalSyncer:
    """A thread that syncs a connection's WAL file every :data:`_WAL_SYNC_INTERVAL`
    while a large transaction writes it, so that its commit's sync finds the pages on
    disk already. It only syncs: a failure costs that and nothing else (the commit
    syncs the WAL itself, as always). Stopped before the commit, in the ``with``.
    """

    def __init__(self, raw: Any) -> None:
        path = raw.execute("PRAGMA database_list").fetchone()[2]
        self._path = f"{path}-wal" if path else None  # "" for an in-memory database
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steppe-walsync", daemon=True)

    def __enter__(self) -> _WalSyncer:
        if self._path is not None:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._path is not None:
            self._stop.set()
            self._thread.join()

    def _run(self) -> None:
        assert self._path is not None
        fd: int | None = None
        try:
            while not self._stop.wait(_WAL_SYNC_INTERVAL):
                if fd is None:
                    fd = os.open(self._path, os.O_RDONLY)
                os.fdatasync(fd)
        except OSError as exc:
            log.debug("WAL sync during a large transaction failed: %s", exc)
        finally:
            if fd is not None:
                os.close(fd)
