"""What a user may know of the lake: per organisation, events a day and when the last one
came — "is this member's sensor still sending?" — for the web page and the API.

Only the organisations :func:`~steppe.sharing.policy.can_read_telemetry` lets the actor
read are in it (their own; the center's staff every member's), as for hunts. The counts
come from the Parquet footers (no data is read): events per day over the last ``days``
days, the time of the latest event (the ``@timestamp`` statistics of the newest day's
files), and the size of all the organisation's days. The lake's own health — spool
backlog, quarantined segments — only where :func:`~steppe.sharing.policy.can_see_lake_health`
allows (the center's staff).

    >>> overview = telemetry_overview(actor, lake_root, today=date(2026, 11, 28), days=14)  # doctest: +SKIP
    >>> [(o.organisation, o.events) for o in overview.organisations]  # doctest: +SKIP
    [(3, 120000)]
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import Connection

from steppe.lake.hunt import readable_organisations
from steppe.lake.partitions import Partition, list_partitions, parquet_files, spool_backlog
from steppe.lake.retention import retention_overrides
from steppe.settings import Settings
from steppe.sharing.model import Actor
from steppe.sharing.policy import can_see_lake_health, require_reader

__all__ = [
    "LakeHealth",
    "OrganisationTelemetry",
    "TelemetryOverview",
    "served_overview",
    "telemetry_overview",
]


@dataclass(frozen=True, slots=True)
class OrganisationTelemetry:
    organisation: int
    per_day: tuple[int, ...]  # events on each day of the window, oldest first
    events: int  # in the window
    last_event: datetime | None  # the latest @timestamp held (any day)
    days_held: int  # day partitions, all of them
    files: int
    bytes: int
    retention_days: int


@dataclass(frozen=True, slots=True)
class LakeHealth:
    """The lake's plumbing, over every process sharing it."""

    spool_segments: int
    spool_bytes: int  # accepted, not yet in Parquet
    quarantined_segments: int


@dataclass(frozen=True, slots=True)
class TelemetryOverview:
    days: tuple[date, ...]  # the window, oldest first
    organisations: tuple[OrganisationTelemetry, ...]
    health: LakeHealth | None  # only for the center's staff


def telemetry_overview(
    actor: Actor,
    lake_root: Path,
    *,
    today: date,
    days: int,
    default_retention: int = 90,
    retention: Mapping[int, int] | None = None,
) -> TelemetryOverview:
    """The lake as ``actor`` may see it, over the ``days`` days ending ``today``."""
    require_reader(actor)
    window = tuple(today - timedelta(days=back) for back in range(days - 1, -1, -1))
    first = window[0]
    overrides = retention or {}
    readable = readable_organisations(actor, lake_root)
    by_org: dict[int, list[Partition]] = {org: [] for org in readable}
    for partition in list_partitions(lake_root, readable):
        by_org[partition.organisation].append(partition)
    organisations = []
    for org, partitions in by_org.items():
        per_day = dict.fromkeys(window, 0)
        files = size = 0
        newest: dict[date, datetime] = {}
        for partition in partitions:
            for path in parquet_files(partition):
                footer = _footer(path)
                if footer is None:
                    continue  # pruned or compacted meanwhile
                rows, latest, length = footer
                files += 1
                size += length
                if first <= partition.day <= today:
                    per_day[partition.day] += rows
                if latest is not None:
                    newest[partition.day] = max(latest, newest.get(partition.day, latest))
        organisations.append(
            OrganisationTelemetry(
                organisation=org,
                per_day=tuple(per_day[day] for day in window),
                events=sum(per_day.values()),
                # the newest day's latest time: a day's events are of that day
                last_event=newest[max(newest)] if newest else None,
                days_held=len(partitions),
                files=files,
                bytes=size,
                retention_days=overrides.get(org, default_retention),
            )
        )
    health = None
    if can_see_lake_health(actor):
        segments, pending = spool_backlog(lake_root)
        quarantined, _ = spool_backlog(lake_root, "quarantine/*.wal")
        health = LakeHealth(segments, pending, quarantined)
    return TelemetryOverview(window, tuple(organisations), health)


#: What the footer of each Parquet file says: (rows, latest @timestamp, bytes) by path. A
#: lake file's name is never reused for other rows (segments are named by their spool,
#: a replay writes the same rows again, compactions and bulk loads take new names), so
#: it is read once per process: the writer makes a file per organisation and second
#: of traffic today, and reading every footer again took ~0.55 ms a file (2,000 files:
#: 1.1 s a page).
_FOOTERS: dict[str, tuple[int, datetime | None, int]] = {}
_FOOTERS_LOCK = threading.Lock()
#: Entries kept at most (the oldest half goes when full): ~100 bytes each.
FOOTERS_KEPT = 500_000


def served_overview(
    conn: Connection, settings: Settings, actor: Actor, *, today: date, days: int
) -> TelemetryOverview:
    """:func:`telemetry_overview` of the configured lake, with the retention the settings
    and the database give (what the API and the web page show)."""
    return telemetry_overview(
        actor,
        settings.resolved_lake_dir(),
        today=today,
        days=days,
        default_retention=settings.lake_retention_days,
        retention=retention_overrides(conn),
    )


def _footer(path: Path) -> tuple[int, datetime | None, int] | None:
    """Rows, latest ``@timestamp`` and size of a lake file (None: it is gone)."""
    key = str(path)
    with _FOOTERS_LOCK:
        known = _FOOTERS.get(key)
    if known is not None:
        return known
    try:
        length = path.stat().st_size
        metadata = pq.read_metadata(path)
    except (OSError, ValueError):
        return None
    column = metadata.schema.to_arrow_schema().get_field_index("@timestamp")
    latest: datetime | None = None
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(column).statistics
        if stats is None or not stats.has_min_max or not isinstance(stats.max, datetime):
            continue
        value = stats.max if stats.max.tzinfo else stats.max.replace(tzinfo=UTC)
        latest = value if latest is None else max(latest, value)
    found = (metadata.num_rows, latest, length)
    with _FOOTERS_LOCK:
        if len(_FOOTERS) >= FOOTERS_KEPT:
            for stale in list(_FOOTERS)[: FOOTERS_KEPT // 2]:
                del _FOOTERS[stale]
        _FOOTERS[key] = found
    return found
