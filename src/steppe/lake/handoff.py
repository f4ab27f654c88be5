"""Rows a request decoded from a body it spooled, kept in memory for the lake's writer.

An HTTP body of EVE JSON lines is spooled as it came (:func:`steppe.lake.batches.body_record`)
while the request decodes it; the writer would decode it again from the spool. Instead
the request leaves its rows here under the key written in the record's header, and the
writer takes them (:func:`steppe.lake.batches.decode`). Both sides read a body with the
same function and the same inputs (:func:`steppe.ingest.telemetry.eve_columns.eve_body_table`),
so the rows are those the writer would have found; the record stays the durable copy.

What the writer misses — rows that did not fit, a process restarted, a key kept after
the writer had read its record — it decodes from the spool as before, so nothing here
can lose or change an event: it only saves the second decoding (measured in-process on
``bench/telemetry_ingest.py``'s EVE: the writer's CPU 2.7-2.9 → 1.8-2.1 µs an event).

Bounded: past ``max_bytes`` of Arrow buffers new rows are not kept (the writer reads the
oldest records first, so those already kept are the ones it wants next), and rows older
than ``max_age`` seconds are dropped.

    >>> import pyarrow as pa
    >>> rows = DecodedRows(max_bytes=1 << 20)
    >>> key = rows.new_key()
    >>> rows.keep(key, pa.table({"a": [1, 2, 3]}))
    True
    >>> rows.take(key).num_rows, rows.take(key), rows.stats()
    (3, None, HandoffCounters(kept=1, taken=1, refused=0, dropped=0, held_bytes=0))
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import pyarrow as pa

__all__ = ["DecodedRows", "HandoffCounters"]


@dataclass(frozen=True, slots=True)
class HandoffCounters:
    """Batches kept, taken by the writer, not kept for want of room, dropped unread."""

    kept: int
    taken: int
    refused: int
    dropped: int
    held_bytes: int


class DecodedRows:
    """Decoded rows by record key; thread-safe (requests keep, the writer takes)."""

    def __init__(self, max_bytes: int, *, max_age: float = 120.0) -> None:
        self.max_bytes = max_bytes
        self.max_age = max_age
        # Unique across processes sharing a lake: a dead process's spool, replayed,
        # carries keys of its own, which must never meet rows of this one.
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._held: OrderedDict[str, tuple[float, int, pa.Table]] = OrderedDict()
        self._bytes = 0
        self._kept = self._taken = self._refused = self._dropped = 0

    def new_key(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"

    def keep(self, key: str, table: pa.Table) -> bool:
        """Hold ``table`` for the writer under ``key``; False when there is no room."""
        size = table.nbytes
        now = time.monotonic()
        with self._lock:
            self._drop_older_than(now - self.max_age)
            if self._bytes + size > self.max_bytes:
                self._refused += 1
                return False
            self._held[key] = (now, size, table)
            self._bytes += size
            self._kept += 1
            return True

    def take(self, key: str) -> pa.Table | None:
        """The rows kept under ``key`` (once), or None."""
        with self._lock:
            entry = self._held.pop(key, None)
            if entry is None:
                return None
            self._bytes -= entry[1]
            self._taken += 1
            return entry[2]

    def clear(self) -> None:
        with self._lock:
            self._dropped += len(self._held)
            self._held.clear()
            self._bytes = 0

    def stats(self) -> HandoffCounters:
        with self._lock:
            return HandoffCounters(
                self._kept, self._taken, self._refused, self._dropped, self._bytes
            )

    def _drop_older_than(self, moment: float) -> None:
        while self._held:
            key, (kept_at, size, _) = next(iter(self._held.items()))
            if kept_at >= moment:
                return
            del self._held[key]
            self._bytes -= size
            self._dropped += 1
