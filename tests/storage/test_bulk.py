"""Bulk inserts in few statements, and the writer thread that runs them."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, select

from steppe.storage.bulk import BackgroundWriter, bulk_insert

_meta = MetaData()
_wide = Table(
    "bulk_wide",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=False),
    *(Column(f"c{i}", Text) for i in range(19)),
)


def test_rows_beyond_one_statement_s_parameters_all_arrive(engine: Engine) -> None:
    # 20 columns: SQLite takes at most 32,766 parameters a statement, so 5,000 rows go in
    # three full statements and a shorter last one.
    rows = [(i, *(f"{i}:{c}\t\\'\"\n" for c in range(19))) for i in range(5000)]
    columns = [c.name for c in _wide.columns]
    with engine.begin() as conn:
        _wide.create(conn)
        bulk_insert(conn, _wide, columns, rows)
        bulk_insert(conn, _wide, columns, [])
    with engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(select(_wide).order_by(_wide.c.id))]
    assert stored == rows


@pytest.mark.parametrize("count", [1, 2, 3, 7, 500, 1023, 1639])
def test_every_row_count_arrives_whole(sqlite_engine: Engine, count: int) -> None:
    # A remainder goes in as statements of power-of-two sizes (so their text repeats
    # and sqlite3 compiles each once): every row exactly once, in order.
    rows = [(i, *(f"{i}:{c}" for c in range(19))) for i in range(count)]
    columns = [c.name for c in _wide.columns]
    with sqlite_engine.begin() as conn:
        _wide.create(conn)
        bulk_insert(conn, _wide, columns, rows)
    with sqlite_engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(select(_wide).order_by(_wide.c.id))] == rows


def test_none_is_stored_as_null(engine: Engine) -> None:
    # The engine registers an adapter for None (a cheaper bind); what is stored must
    # stay NULL, found by IS NULL.
    rows = [(i, None if i % 2 else f"v{i}", *([None] * 18)) for i in range(10)]
    columns = [c.name for c in _wide.columns]
    with engine.begin() as conn:
        _wide.create(conn)
        bulk_insert(conn, _wide, columns, rows)
    with engine.connect() as conn:
        nulls = conn.execute(select(_wide.c.id).where(_wide.c.c0.is_(None))).scalars().all()
        assert sorted(nulls) == [1, 3, 5, 7, 9]
        assert [tuple(r) for r in conn.execute(select(_wide).order_by(_wide.c.id))] == rows


def test_unknown_column_is_refused(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(ValueError, match="has no column 'nope'"):
        bulk_insert(conn, _wide, ["id", "nope"], [(1, 2)])


@pytest.mark.parametrize("threaded", [True, False])
def test_writer_runs_calls_in_order_on_one_thread(threaded: bool) -> None:
    seen: list[tuple[int, str]] = []

    def note(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n * 10

    with BackgroundWriter(threaded=threaded) as writer:
        futures = [writer.submit(note, n) for n in range(5)]
        assert [writer.wait(f) for f in futures] == [0, 10, 20, 30, 40]
    assert [n for n, _ in seen] == list(range(5))
    names = {name for _, name in seen}
    assert names == ({"steppe-writer"} if threaded else {threading.current_thread().name})


@pytest.mark.parametrize("threaded", [True, False])
def test_after_a_failure_nothing_else_runs_and_close_raises_it(threaded: bool) -> None:
    ran: list[int] = []

    def fail() -> None:
        raise RuntimeError("disk on fire")

    writer = BackgroundWriter(threaded=threaded)
    writer.submit(ran.append, 1)
    failed = writer.submit(fail)
    skipped = writer.submit(ran.append, 2)
    with pytest.raises(RuntimeError, match="disk on fire"):
        writer.wait(skipped)  # the first error, not a new one
    assert failed.exception() is not None and writer.failed
    with pytest.raises(RuntimeError, match="disk on fire"):
        writer.close()
    assert ran == [1]


def test_leaving_on_the_caller_s_error_stops_the_writer_quietly() -> None:
    started = threading.Event()
    ran: list[str] = []

    def slow() -> None:
        started.set()
        deadline = time.monotonic() + 5
        while not writer.failed and time.monotonic() < deadline:  # until the caller left
            time.sleep(0.001)
        ran.append("slow")

    with pytest.raises(KeyError), BackgroundWriter(threaded=True) as writer:
        writer.submit(slow)
        queued = writer.submit(ran.append, "queued")
        started.wait(5)
        raise KeyError("the caller's own error")
    # The call under way finished before the block was left; the queued one never ran.
    assert ran == ["slow"]
    assert queued.exception() is not None
