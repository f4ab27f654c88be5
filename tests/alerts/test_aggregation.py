"""Aggregation: one alert per (indicator or rule, host, window) with a count, and still
nothing twice when the same events are detected again."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from alert_world import NOW, alert_world, dns
from intel_world import World
from steppe.alerts.store import AlertStore, StoreResult, store_ioc_alerts
from steppe.audit.trail import AuditTrail
from steppe.detection.ioc import IocMatcher, build_index
from steppe.detection.sigma.hits import SigmaHit
from steppe.storage.schema import alert_events, alerts


def _store(world: World, org: str, events: list[dict[str, Any]], window: int = 3600) -> StoreResult:
    with world.engine.connect() as conn:
        matcher = IocMatcher(build_index(conn, NOW))
    org_id = world.orgs[org].id
    with world.engine.begin() as conn:
        return store_ioc_alerts(
            conn,
            world.trail,
            org_id,
            matcher.match_events(events, org_id, NOW),
            window_seconds=window,
        )


def _alerts(engine: Engine) -> list[tuple[str | None, int, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(alerts.c.host, alerts.c.count, alerts.c.first_seen, alerts.c.last_seen).order_by(
                alerts.c.host, alerts.c.first_seen
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_hits_on_one_host_within_the_window_are_one_alert(world: World) -> None:
    events = [dns(f"h{n}.evil.example", n) for n in range(1, 6)]
    result = _store(world, "kz", events)
    assert (result.new, result.aggregated, result.duplicates) == (1, 0, 0)
    assert _alerts(world.engine) == [
        ("10.0.0.1", 5, "2026-01-09T10:00:01.000000Z", "2026-01-09T10:00:05.000000Z")
    ]


def test_another_host_or_another_window_is_another_alert(world: World) -> None:
    late = dns("late.evil.example", 1) | {"@timestamp": "2026-01-09T11:00:01.000000Z"}
    other = dns("x.evil.example", 2, ip="10.0.0.2")
    named = dns("y.evil.example", 3, ip="10.0.0.2") | {"host.name": "ws-17"}
    _store(world, "kz", [dns("a.evil.example", 1), late, other, named])
    assert [(h, c) for h, c, _, _ in _alerts(world.engine)] == [
        ("10.0.0.1", 1),
        ("10.0.0.1", 1),
        ("10.0.0.2", 1),
        ("ws-17", 1),  # host.name wins over source.ip
    ]


def test_rerunning_and_overlapping_batches_count_each_event_once(world: World) -> None:
    first = [dns("a.evil.example", 1), dns("b.evil.example", 2)]
    assert _store(world, "kz", first).new == 1
    again = _store(world, "kz", first)
    assert (again.new, again.aggregated, again.duplicates) == (0, 0, 2)
    overlap = _store(world, "kz", [dns("b.evil.example", 2), dns("c.evil.example", 3)])
    assert (overlap.new, overlap.aggregated, overlap.duplicates) == (0, 1, 1)
    assert [c for _, c, _, _ in _alerts(world.engine)] == [3]
    with world.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(alert_events)) == 3


def test_events_arriving_out_of_order_widen_first_and_last_seen(world: World) -> None:
    _store(world, "kz", [dns("b.evil.example", 30)])
    _store(world, "kz", [dns("a.evil.example", 10), dns("c.evil.example", 50)])
    assert _alerts(world.engine) == [
        ("10.0.0.1", 3, "2026-01-09T10:00:10.000000Z", "2026-01-09T10:00:50.000000Z")
    ]


def test_window_zero_keeps_one_alert_per_event(world: World) -> None:
    result = _store(world, "kz", [dns("a.evil.example", 1), dns("b.evil.example", 2)], window=0)
    assert result.new == 2
    assert [c for _, c, _, _ in _alerts(world.engine)] == [1, 1]


def test_sigma_hits_aggregate_per_rule_and_host(world: World) -> None:
    org = world.orgs["kg"].id
    hits = [SigmaHit("rule-1", "Odd", "high", (), dns("x", n), org) for n in range(3)]
    store = AlertStore(world.engine, world.trail)
    store.submit(hits)
    store.submit(hits)  # a replay
    assert [c for _, c, _, _ in _alerts(world.engine)] == [3]


@pytest.mark.postgres
def test_concurrent_writers_fold_the_same_events_once(pg_engine: Engine, trail: AuditTrail) -> None:
    world = alert_world(pg_engine, trail)
    events = [dns(f"h{n}.evil.example", n) for n in range(20)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker(part: list[dict[str, Any]]) -> None:
        try:
            barrier.wait()
            _store(world, "kz", part)
        except BaseException as exc:  # reported below
            errors.append(exc)

    # Each worker gets an overlapping slice, as a replay and the stream would.
    parts = [events[:12], events[4:16], events[8:], events]
    threads = [threading.Thread(target=worker, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [c for _, c, _, _ in _alerts(pg_engine)] == [20]
