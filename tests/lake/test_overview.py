"""The lake's overview: per organisation the policy lets the actor read, events a day,
the last event and what is held; the lake's plumbing for the center's staff only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from lake.lakedata import assert_reads_follow_the_policy, event, fill, worlds
from steppe.errors import Forbidden
from steppe.lake import EventLake
from steppe.lake import overview as overview_module
from steppe.lake.overview import telemetry_overview
from steppe.lake.partitions import delete_partition, list_partitions
from steppe.sharing.model import Actor, OrgKind, Role

A, B, CENTER = 1, 2, 3
TODAY = date(2026, 11, 28)


def actor(org: int, kind: OrgKind = OrgKind.MEMBER, *roles: Role) -> Actor:
    return Actor(org * 100, f"user{org}", org, kind, frozenset(roles or {Role.ANALYST}))


STAFF = actor(CENTER, OrgKind.COORDINATOR, Role.COORDINATOR)


def at(day: str, clock: str) -> dict[str, object]:
    return {"@timestamp": f"{day}T{clock}.000000Z"}


@pytest.fixture
def lake_root(tmp_path: Path) -> Path:
    lake = EventLake(tmp_path)
    lake.start(background=False)
    lake.accept(A, [event(n, **at("2026-11-27", "08:00:00")) for n in range(3)])
    lake.accept(A, [event(n, **at("2026-11-28", f"09:0{n}:00")) for n in range(2)])
    lake.accept(A, [event(9, **at("2026-10-01", "00:00:00"))])  # outside the window
    lake.accept(B, [event(n, **at("2026-11-20", "23:59:59")) for n in range(4)])
    lake.close()
    return tmp_path


def test_a_member_sees_its_own_days_and_last_event(lake_root: Path) -> None:
    overview = telemetry_overview(actor(A), lake_root, today=TODAY, days=3, retention={A: 30})
    assert overview.days == (date(2026, 11, 26), date(2026, 11, 27), TODAY)
    (mine,) = overview.organisations
    assert mine.organisation == A and mine.per_day == (0, 3, 2) and mine.events == 5
    assert mine.last_event == datetime(2026, 11, 28, 9, 1, tzinfo=UTC)
    assert (mine.days_held, mine.files, mine.retention_days) == (3, 3, 30)
    assert mine.bytes > 0
    assert overview.health is None  # the lake's plumbing is the center's


def test_center_staff_see_every_member_and_the_lakes_health(lake_root: Path) -> None:
    (lake_root / "quarantine").mkdir()
    (lake_root / "quarantine" / "p1-00000001.wal").write_bytes(b"kept for a person")
    overview = telemetry_overview(STAFF, lake_root, today=TODAY, days=14, default_retention=60)
    by_org = {o.organisation: o for o in overview.organisations}
    assert set(by_org) == {A, B}
    assert by_org[B].per_day[-9] == 4 and by_org[B].events == 4  # the 20th, 8 days back
    assert by_org[B].last_event == datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)
    assert by_org[B].retention_days == 60
    assert overview.health is not None
    assert overview.health.quarantined_segments == 1 and overview.health.spool_bytes == 0


def test_sensors_read_no_overview(lake_root: Path) -> None:
    with pytest.raises(Forbidden):
        telemetry_overview(actor(A, OrgKind.MEMBER, Role.SENSOR), lake_root, today=TODAY, days=1)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_the_overview_holds_exactly_what_the_policy_allows(
    tmp_path_factory: pytest.TempPathFactory, world: tuple[dict[int, int], list[Actor]]
) -> None:
    events_per_org, actors = world
    root = tmp_path_factory.mktemp("world")
    fill(root, events_per_org)
    assert_reads_follow_the_policy(
        events_per_org,
        actors,
        lambda who: {
            o.organisation: o.events
            for o in telemetry_overview(who, root, today=TODAY, days=2).organisations
        },
    )


def test_each_files_footer_is_read_once_and_gone_files_drop_out(
    lake_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real = overview_module.pq.read_metadata

    def counted(path: Path) -> object:
        reads.append(str(path))
        return real(path)

    monkeypatch.setattr(overview_module.pq, "read_metadata", counted)
    first = telemetry_overview(STAFF, lake_root, today=TODAY, days=14)
    again = telemetry_overview(STAFF, lake_root, today=TODAY, days=14)
    assert first == again
    assert len(reads) == len(set(reads)) <= 5  # the fixture's files, each at most once
    fill(lake_root, {B: 2}, "2026-11-28")  # a new file: only it is read
    before = len(reads)
    after = telemetry_overview(STAFF, lake_root, today=TODAY, days=14)
    assert len(reads) == before + 1
    assert {o.organisation: o.events for o in after.organisations} == {A: 5, B: 6}
    delete_partition(next(p for p in list_partitions(lake_root, [A]) if p.day == TODAY))
    pruned = telemetry_overview(STAFF, lake_root, today=TODAY, days=14)
    assert {o.organisation: o.events for o in pruned.organisations} == {A: 3, B: 6}
    assert pruned.organisations[0].last_event == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
