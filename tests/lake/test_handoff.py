"""DecodedRows: rows a request decoded wait for the writer, bounded, taken once."""

from __future__ import annotations

import pyarrow as pa
import pytest

from steppe.lake import handoff as handoff_module
from steppe.lake.handoff import DecodedRows, HandoffCounters


def rows(n: int) -> pa.Table:
    return pa.table({"n": pa.array(range(n), pa.int64())})


def test_rows_are_taken_once_and_their_memory_given_back() -> None:
    kept = DecodedRows(max_bytes=1 << 20)
    first, second = kept.new_key(), kept.new_key()
    assert first != second
    table = rows(10)
    assert kept.keep(first, table) and kept.keep(second, rows(5))
    assert kept.stats().held_bytes == table.nbytes + rows(5).nbytes
    assert kept.take(first) is table
    assert kept.take(first) is None
    assert kept.stats() == HandoffCounters(
        kept=2, taken=1, refused=0, dropped=0, held_bytes=rows(5).nbytes
    )


def test_past_its_bound_new_rows_are_refused_and_the_older_kept() -> None:
    kept = DecodedRows(max_bytes=rows(100).nbytes * 2)
    keys = [kept.new_key() for _ in range(3)]
    assert [kept.keep(key, rows(100)) for key in keys] == [True, True, False]
    # the writer reads the oldest records first: those are the ones still here
    assert kept.take(keys[0]) is not None and kept.take(keys[2]) is None
    assert kept.keep(keys[2], rows(100))  # room again
    assert kept.stats().refused == 1


def test_rows_nobody_took_are_dropped_after_their_age(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(handoff_module.time, "monotonic", lambda: now[0])
    kept = DecodedRows(max_bytes=1 << 20, max_age=10.0)
    old = kept.new_key()
    kept.keep(old, rows(3))
    now[0] += 11.0
    fresh = kept.new_key()
    kept.keep(fresh, rows(3))
    assert kept.take(old) is None and kept.take(fresh) is not None
    assert kept.stats().dropped == 1 and kept.stats().held_bytes == 0


def test_clear_drops_everything() -> None:
    kept = DecodedRows(max_bytes=1 << 20)
    key = kept.new_key()
    kept.keep(key, rows(3))
    kept.clear()
    assert kept.take(key) is None
    assert kept.stats() == HandoffCounters(kept=1, taken=0, refused=0, dropped=1, held_bytes=0)


def test_keys_of_two_processes_never_meet() -> None:
    assert DecodedRows(1).new_key() != DecodedRows(1).new_key()
