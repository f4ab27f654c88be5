"""The event lake: members' telemetry in Parquet, partitioned by organisation and day.

- :class:`EventLake` (``lake.py``): durable accept (write-ahead spool, group commit),
  background Parquet writer, backpressure, recovery after a crash;
- ``hunt.py``: SQL over DuckDB, limited to what :func:`steppe.sharing.policy.can_read_telemetry`
  lets the actor read;
- ``retention.py``: days kept per organisation and pruning of expired day partitions;
- ``compaction.py``: a past day's many small files merged into one;
- ``partitions.py``: what is in the lake (organisations, days, files, rows, bytes);
- ``spool.py``, ``writer.py``, ``table.py``: the write-ahead log, spool → Parquet, and
  events → typed Arrow columns.
"""

from __future__ import annotations

from steppe.lake.lake import EventLake, LakeCounters, RecoveryReport

__all__ = ["EventLake", "LakeCounters", "RecoveryReport"]
