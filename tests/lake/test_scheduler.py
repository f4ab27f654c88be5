"""The lake's thread in `steppe serve`: prunes and compacts on its interval, audits,
survives."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from conftest import KEY
from lake.lakedata import event, read_lake
from steppe.api.app import create_app
from steppe.audit.trail import AuditTrail
from steppe.lake import EventLake
from steppe.lake.partitions import list_partitions, parquet_files
from steppe.lake.retention import set_retention
from steppe.lake.scheduler import RetentionScheduler
from steppe.settings import Settings
from steppe.sharing import directory
from steppe.sharing.model import OrgKind
from steppe.storage.engine import make_engine, writing
from steppe.storage.schema import audit_log

TODAY = date(2026, 11, 28)
TRAIL = AuditTrail(KEY, "scheduler:retention")


def _fill(root: Path, org_days: dict[int, list[int]]) -> None:
    lake = EventLake(root)
    lake.start(background=False)
    for org, backs in org_days.items():
        for back in backs:
            lake.accept(org, [event(back, (TODAY - timedelta(days=back)).isoformat())])
    lake.close()


def _present(root: Path) -> set[tuple[int, int]]:
    return {(p.organisation, (TODAY - p.day).days) for p in list_partitions(root)}


def _wait(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the scheduler did not get there in time"
        time.sleep(0.01)


def test_the_thread_prunes_each_organisation_on_its_interval(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    with writing(sqlite_engine) as conn:
        short = directory.add_organisation(conn, TRAIL, "Short-CERT", "KZ", OrgKind.MEMBER)
        normal = directory.add_organisation(conn, TRAIL, "Normal-CERT", "KG", OrgKind.MEMBER)
        set_retention(conn, TRAIL, short, 7)
    root = tmp_path / "lake"
    _fill(root, {short.id: [1, 10], normal.id: [10, 100]})
    scheduler = RetentionScheduler(
        sqlite_engine, TRAIL, root, default_days=90, every=0.05, today=lambda: TODAY
    )
    scheduler.start()
    try:
        _wait(lambda: scheduler.rounds >= 1)
        # Each organisation by its own retention: 7 days for Short-CERT, 90 for the other.
        assert _present(root) == {(short.id, 1), (normal.id, 10)}
    finally:
        scheduler.stop()
    _fill(root, {normal.id: [120]})  # late-arriving old telemetry: gone at a later round
    scheduler.start()
    try:
        _wait(lambda: scheduler.pruned == 3)
        assert _present(root) == {(short.id, 1), (normal.id, 10)}
    finally:
        scheduler.stop()
    with sqlite_engine.connect() as conn:
        entries = conn.execute(
            select(audit_log.c.actor, audit_log.c.detail).where(audit_log.c.action == "lake.prune")
        ).all()
    assert {actor for actor, _d in entries} == {"scheduler:retention"}
    pruned = [p for _a, d in entries for p in orjson.loads(d)["partitions"]]
    assert sorted(pruned) == sorted(
        f"{org}/{(TODAY - timedelta(days=back)).isoformat()}"
        for org, back in [(short.id, 10), (normal.id, 100), (normal.id, 120)]
    )


def test_each_round_merges_the_files_of_days_past_the_last_two(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    root = tmp_path / "lake"
    for _ in range(3):  # three flushes: three files in each of these days
        _fill(root, {1: [0, 1, 2, 5]})
    scheduler = RetentionScheduler(
        sqlite_engine, TRAIL, root, default_days=90, every=3600, today=lambda: TODAY
    )
    assert scheduler.run_once() == []  # nothing past retention
    files = {(TODAY - p.day).days: len(parquet_files(p)) for p in list_partitions(root)}
    assert files == {0: 3, 1: 3, 2: 1, 5: 1}  # today and yesterday still get events
    assert scheduler.compacted == 2
    assert sorted(orjson.loads(raw)["n"] for raw in read_lake(root).column("raw").to_pylist()) == (
        sorted([0, 1, 2, 5] * 3)
    )
    scheduler.run_once()
    assert scheduler.compacted == 2  # a merged day is not merged again


def test_a_failing_round_is_logged_and_the_next_one_runs(tmp_path: Path) -> None:
    broken = make_engine(f"sqlite:///{tmp_path}/not-migrated.db")  # no tables at all
    scheduler = RetentionScheduler(broken, TRAIL, tmp_path / "lake", default_days=90, every=0.01)
    scheduler.start()
    try:
        _wait(lambda: scheduler.rounds >= 3)
    finally:
        scheduler.stop()
    assert scheduler.pruned == 0
    broken.dispose()


def test_serve_starts_it_unless_turned_off(sqlite_engine: Engine, tmp_path: Path) -> None:
    def app(every: float) -> object:
        settings = Settings(data_dir=tmp_path, secret_key=KEY, lake_retention_every_seconds=every)
        return create_app(settings, engine=sqlite_engine)

    on = app(3600)
    with TestClient(on):  # type: ignore[arg-type]
        scheduler = on.state.retention_scheduler  # type: ignore[attr-defined]
        assert isinstance(scheduler, RetentionScheduler) and scheduler.every == 3600
        assert scheduler.rounds == 0  # the first round waits one interval
    assert not scheduler.running  # stopped with the app
    off = app(0)
    with TestClient(off):  # type: ignore[arg-type]
        assert off.state.retention_scheduler is None  # type: ignore[attr-defined]
