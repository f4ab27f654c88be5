"""Retention: each organisation keeps its days; pruning removes exactly the expired ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from lake.lakedata import event, read_lake
from steppe.audit.trail import AuditTrail
from steppe.errors import InputError
from steppe.lake import EventLake
from steppe.lake.partitions import list_partitions, partition_stats, spool_backlog
from steppe.lake.retention import prune, retention_overrides, set_retention
from steppe.sharing import directory
from steppe.sharing.model import OrgKind
from steppe.storage.engine import writing
from steppe.storage.schema import audit_log

TODAY = date(2026, 11, 28)


def fill(root: Path, days_back: dict[int, list[int]]) -> None:
    """Events for each organisation on each of the given days before TODAY."""
    lake = EventLake(root)
    lake.start(background=False)
    for org, backs in days_back.items():
        for back in backs:
            day = (TODAY - timedelta(days=back)).isoformat()
            lake.accept(org, [event(back, day), event(back, day)])
    lake.close()


def present(root: Path) -> set[tuple[int, int]]:
    return {(p.organisation, (TODAY - p.day).days) for p in list_partitions(root)}


def test_prune_removes_exactly_the_expired_day_partitions(tmp_path: Path) -> None:
    fill(tmp_path, {1: [0, 9, 10, 11, 40], 2: [0, 2, 3, 4], 3: [0, 89, 90, 91]})
    gone = prune(tmp_path, TODAY, default_days=90, overrides={1: 10, 2: 3})
    assert {(p.organisation, (TODAY - p.day).days) for p in gone} == {
        (1, 11),
        (1, 40),
        (2, 4),
        (3, 91),
    }
    assert present(tmp_path) == {(1, 0), (1, 9), (1, 10), (2, 0), (2, 2), (2, 3), (3, 0),
                                 (3, 89), (3, 90)}  # fmt: skip
    assert read_lake(tmp_path).num_rows == 2 * 9
    assert prune(tmp_path, TODAY, default_days=90, overrides={1: 10, 2: 3}) == []


def test_event_lake_applies_its_default_retention(tmp_path: Path) -> None:
    fill(tmp_path, {1: [0, 5, 6]})
    lake = EventLake(tmp_path, retention_days=5)
    now = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)
    assert [p.day for p in lake.apply_retention(now)] == [TODAY - timedelta(days=6)]
    assert [p.day for p in lake.apply_retention(now, {1: 1})] == [TODAY - timedelta(days=5)]
    assert present(tmp_path) == {(1, 0)}


def test_partition_stats_count_files_rows_and_bytes(tmp_path: Path) -> None:
    fill(tmp_path, {1: [0, 1], 2: [0]})
    stats = partition_stats(tmp_path)
    assert [(s.organisation, (TODAY - s.day).days, s.files, s.rows) for s in stats] == [
        (1, 1, 1, 2),
        (1, 0, 1, 2),
        (2, 0, 1, 2),
    ]
    assert all(s.bytes > 0 for s in stats)


def test_stray_names_are_not_partitions(tmp_path: Path) -> None:
    fill(tmp_path, {1: [0]})
    (tmp_path / "organisation=x").mkdir()
    (tmp_path / "organisation=1" / "day=2026-13-01").mkdir()
    (tmp_path / "organisation=1" / ".deleting-day=2026-01-01-5").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    assert present(tmp_path) == {(1, 0)}


def test_overrides_are_stored_per_organisation(engine: Engine, trail: AuditTrail) -> None:
    with writing(engine) as conn:
        cert = directory.add_organisation(conn, trail, "CERT-A", "KZ", OrgKind.MEMBER)
        other = directory.add_organisation(conn, trail, "CERT-B", "UZ", OrgKind.MEMBER)
        set_retention(conn, trail, cert, 30)
        set_retention(conn, trail, other, 7)
        set_retention(conn, trail, cert, 45)  # changed
    with engine.connect() as conn:
        assert retention_overrides(conn) == {cert.id: 45, other.id: 7}
        actions = conn.execute(select(audit_log.c.action)).scalars().all()
        assert actions.count("lake.retention") == 3
    with writing(engine) as conn:
        set_retention(conn, trail, other, None)  # back to the default
    with engine.connect() as conn:
        assert retention_overrides(conn) == {cert.id: 45}


@pytest.mark.parametrize("days", [0, -1, 40_000])
def test_nonsense_retention_is_refused(engine: Engine, trail: AuditTrail, days: int) -> None:
    with writing(engine) as conn:
        cert = directory.add_organisation(conn, trail, "CERT-A", "KZ", OrgKind.MEMBER)
        with pytest.raises(InputError, match="1 to 36500 days"):
            set_retention(conn, trail, cert, days)


def test_spool_backlog_counts_what_is_not_yet_in_parquet(tmp_path: Path) -> None:
    lake = EventLake(tmp_path, flush_seconds=3600)
    lake.start(background=False)
    assert spool_backlog(tmp_path) == (0, 0)
    lake.accept(1, [event(1)])
    segments, size = spool_backlog(tmp_path)
    assert segments == 1 and size == lake.stats().backlog_bytes
    lake.close()
    assert spool_backlog(tmp_path) == (0, 0)
