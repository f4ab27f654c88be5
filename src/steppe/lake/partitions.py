"""What is in the lake: its partitions, their files, rows and bytes; pruning by age.

The layout is ``<root>/organisation=<id>/day=<YYYY-MM-DD>/<segment>.parquet``. Names
that do not fit it (hidden temporaries, stray files) are never listed, so a reader can
rely on every listed file being complete.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "organisation=7" / "day=2026-11-01").mkdir(parents=True)
    >>> [(p.organisation, p.day.isoformat()) for p in list_partitions(root)]
    [(7, '2026-11-01')]
    >>> today = date(2026, 11, 28)
    >>> len(expired(list_partitions(root), today, default_days=30, overrides={}))
    0
    >>> len(expired(list_partitions(root), today, default_days=30, overrides={7: 20}))
    1
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from steppe.lake.spool import fsync_dir

__all__ = [
    "Partition",
    "PartitionStats",
    "delete_partition",
    "expired",
    "list_organisations",
    "list_partitions",
    "parquet_files",
    "partition_stats",
    "spool_backlog",
]

_ORG = re.compile(r"organisation=(\d+)")
_DAY = re.compile(r"day=(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True, slots=True)
class Partition:
    organisation: int
    day: date
    path: Path


@dataclass(frozen=True, slots=True)
class PartitionStats:
    organisation: int
    day: date
    files: int
    rows: int
    bytes: int


def list_organisations(root: Path) -> dict[int, Path]:
    """Organisation id → its folder, for every organisation with telemetry."""
    found: dict[int, Path] = {}
    if not root.is_dir():
        return found
    for entry in root.iterdir():
        match = _ORG.fullmatch(entry.name)
        if match and entry.is_dir():
            found[int(match.group(1))] = entry
    return dict(sorted(found.items()))


def list_partitions(root: Path, organisations: Iterable[int] | None = None) -> list[Partition]:
    """Day partitions, by organisation then day (only of ``organisations`` if given)."""
    wanted = None if organisations is None else set(organisations)
    found: list[Partition] = []
    for org, folder in list_organisations(root).items():
        if wanted is not None and org not in wanted:
            continue
        for entry in folder.iterdir():
            match = _DAY.fullmatch(entry.name)
            if not (match and entry.is_dir()):
                continue
            try:
                day = date.fromisoformat(match.group(1))
            except ValueError:
                continue
            found.append(Partition(org, day, entry))
    return sorted(found, key=lambda p: (p.organisation, p.day))


def parquet_files(partition: Partition) -> list[Path]:
    """The complete Parquet files of a partition (temporaries are hidden names)."""
    return sorted(p for p in partition.path.glob("*.parquet") if not p.name.startswith("."))


def partition_stats(root: Path) -> list[PartitionStats]:
    """Files, rows (from Parquet footers, no data read) and bytes of every partition."""
    out: list[PartitionStats] = []
    for partition in list_partitions(root):
        rows = size = count = 0
        for path in parquet_files(partition):
            try:
                rows += pq.read_metadata(path).num_rows
                size += path.stat().st_size
            except (OSError, ValueError):
                continue  # deleted by a prune meanwhile, or not Parquet
            count += 1
        out.append(PartitionStats(partition.organisation, partition.day, count, rows, size))
    return out


def expired(
    partitions: Iterable[Partition],
    today: date,
    *,
    default_days: int,
    overrides: Mapping[int, int],
) -> list[Partition]:
    """Partitions wholly older than their organisation's retention.

    With N days kept, the day partitions from ``today - N`` onwards stay; a partition
    of an earlier day goes.
    """
    out = []
    for partition in partitions:
        days = overrides.get(partition.organisation, default_days)
        if partition.day < today - timedelta(days=days):
            out.append(partition)
    return out


def delete_partition(partition: Partition) -> None:
    """Remove a day partition at once for readers: rename it hidden, then delete it."""
    hidden = partition.path.with_name(f".deleting-{partition.path.name}-{os.getpid()}")
    try:
        partition.path.rename(hidden)
    except FileNotFoundError:
        return
    fsync_dir(partition.path.parent)
    shutil.rmtree(hidden, ignore_errors=True)


def spool_backlog(root: Path, pattern: str = "spool/*/*.wal") -> tuple[int, int]:
    """(segments, bytes) accepted but not yet in Parquet, over every process's spool
    (with ``pattern="quarantine/*.wal"``: the segments set aside)."""
    segments = size = 0
    for path in root.glob(pattern):
        try:
            size += path.stat().st_size
        except OSError:
            continue  # retired meanwhile
        segments += 1
    return segments, size
