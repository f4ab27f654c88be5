"""settle_heap: start-up objects frozen out of the collector, a higher first threshold;
gc_paused: no collection inside a block, the collector back as it was after it."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from collections.abc import Iterator

import pytest

from steppe.heap import YOUNG_THRESHOLD, gc_paused, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_collections_are_rarer() -> None:
    _, middle, old = gc.get_threshold()
    kept_alive = [object() for _ in range(1000)]
    settle_heap()
    assert gc.get_freeze_count() >= len(kept_alive)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
    # What is made afterwards is still collected: a cycle dropped after start-up goes.
    cycle = _Node()
    cycle.other = cycle
    gone = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert gone() is None


LEAK_CHECK = """
import duckdb
from steppe.heap import settle_heap
duckdb.connect().execute("SELECT 1").fetchall()
settle_heap()
"""


def test_a_settled_process_exits_without_extensions_reporting_leaks() -> None:
    # duckdb's bindings count their objects at shutdown: frozen ones were never freed,
    # and every `steppe telemetry ingest` ended with pages of "nanobind: leaked".
    done = subprocess.run(
        [sys.executable, "-c", LEAK_CHECK], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr, done.stderr[:500]


def test_the_collector_is_paused_inside_and_back_after_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the outer block turns it back on
            pass
        assert not gc.isenabled()
        raise RuntimeError("a failed pull")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()


class _Node:
    other: object = None
