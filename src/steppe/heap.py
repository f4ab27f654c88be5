"""Garbage-collector settings for the long-running commands (``serve``, ``telemetry ingest``).

Ingest allocates a few container objects per event that live until their batch is in
the lake; with the default first threshold (700) the cyclic collector ran every few
dozen events and walked every young batch again, and each full collection walked the
whole start-up heap (modules, schemas, the app). That was ~15 % of file-ingest CPU
(``bench/telemetry_ingest.py``, see docs/benchmarks.md). Nothing here changes what is
collected, only how often the collector looks.

Bulk work whose objects all stay alive until it ends (loading a rule set, a list feed's
pull) runs under :func:`gc_paused`.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG_THRESHOLD", "gc_paused", "settle_heap"]

_unfreeze_at_exit = False

#: Allocations between two collections of the youngest generation (Python's default:
#: 700). A few megabytes of young objects at most between two collections.
YOUNG_THRESHOLD = 50_000


def settle_heap() -> None:
    """Call once a process has started, before it takes work.

    Moves everything alive at start-up out of the collector's reach (``gc.freeze``) and
    raises the first threshold to :data:`YOUNG_THRESHOLD`. On the bulk look-up benchmark
    the freeze alone took the slowest of 30 requests from ≈90 ms to 44 ms.
    """
    gc.collect()
    gc.freeze()
    # At exit the frozen objects go back to the collector: left frozen they are never
    # freed, and extensions that count their objects at shutdown (duckdb's nanobind
    # bindings) printed pages of "leaked" warnings after every `steppe telemetry ingest`.
    global _unfreeze_at_exit
    if not _unfreeze_at_exit:
        atexit.register(gc.unfreeze)
        _unfreeze_at_exit = True
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside; reference counting still frees.

    For bulk work that allocates hundreds of thousands of objects which all stay alive
    until it ends: the collector kept walking them (a third of the load time of the
    SigmaHQ set; ~0.5 s of CPU of a 3.4-4.3 s pull of ipsum, docs/benchmarks.md). The
    switch is the process's: another thread's cycles wait for the end of the block.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
