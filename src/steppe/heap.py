"""Garbage-collector settings for the long-running commands (``serve``, ``telemetry ingest``).

Ingest allocates a few container objects per event that live until their batch is in
the lake; with the default first threshold (700) the cyclic collector ran every few
dozen events and walked every young batch again, and each full collection walked the
whole start-up heap (modules, schemas, the app). That was ~15 % of file-ingest CPU
(``bench/telemetry_ingest.py``, see docs/benchmarks.md). Nothing here changes what is
collected, only how often the collector looks.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle_heap"]

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
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
