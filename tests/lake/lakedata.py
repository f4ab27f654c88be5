"""Helpers for the lake tests: read back everything the lake holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from steppe.lake.partitions import list_partitions, parquet_files
from steppe.lake.table import lake_schema


def read_lake(root: Path) -> pa.Table:
    """Every row of every Parquet file in the lake (empty table with the schema if none)."""
    tables = [
        pq.read_table(path)
        for partition in list_partitions(root)
        for path in parquet_files(partition)
    ]
    if not tables:
        return lake_schema().empty_table()
    return pa.concat_tables(tables)


def event(n: int, day: str = "2026-11-28", **fields: Any) -> dict[str, Any]:
    """A small valid event numbered ``n`` (kept in raw so it can be counted back)."""
    base: dict[str, Any] = {
        "@timestamp": f"{day}T10:00:00.000000Z",
        "event.dataset": "zeek.conn",
        "source.ip": "10.0.0.1",
        "destination.port": 443,
        "raw": {"n": n},
    }
    base.update(fields)
    return base
