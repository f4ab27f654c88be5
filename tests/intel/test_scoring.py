"""Scoring: MISP's polynomial decay at chosen points, moved by sightings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from helpers import indicator
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.intel.queries import get_stored
from steppe.intel.scoring import DecayConfig, ScoreFacts, current_score, polynomial
from steppe.intel.sightings import SightingType, record_sighting, scores_for
from steppe.storage import timestamps

DAY = 86_400
START = "2026-01-01T00:00:00.000000Z"


def misp(base: float, days: float, tau: float, delta: float) -> float:
    """MISP's Polynomial::computeScore, written out from its PHP."""
    if days < 0:
        return 0.0
    score = base * (1 - pow(days * DAY / (tau * DAY), 1 / delta))
    return 0.0 if score < 0 else score


@pytest.mark.parametrize(
    ("base", "days", "tau", "delta"),
    [
        (100, 0, 30, 1.0),
        (100, 15, 30, 1.0),
        (80, 10, 30, 0.3),
        (80, 29.9, 30, 0.3),
        (50, 45, 90, 2.0),
        (70, 30, 30, 0.5),
        (70, 400, 30, 0.5),
        (60, -1, 30, 1.0),
    ],
)
def test_polynomial_matches_misp(base: float, days: float, tau: float, delta: float) -> None:
    assert polynomial(base, days * DAY, tau, delta) == pytest.approx(misp(base, days, tau, delta))


def test_known_points() -> None:
    assert polynomial(100, 15 * DAY, 30, 1.0) == pytest.approx(50.0)
    assert polynomial(100, 15 * DAY, 30, 0.3) == pytest.approx(100 * (1 - 0.5 ** (1 / 0.3)))
    assert polynomial(100, 30 * DAY, 30, 1.0) == 0.0


def at(days: float) -> str:
    return timestamps.format_ts(timestamps.parse(START) + timedelta(days=days))


def test_ips_decay_faster_than_hashes() -> None:
    ip = ScoreFacts(confidence=80, start=START, observable_types=("ipv4",))
    sha = ScoreFacts(confidence=80, start=START, observable_types=("sha256",))
    assert current_score(ip, at(20)).score < current_score(sha, at(20)).score
    assert current_score(ip, at(31)).expired
    assert not current_score(sha, at(31)).expired


def test_seen_restarts_the_clock_and_false_positives_lower_the_score() -> None:
    base = ScoreFacts(confidence=80, start=START, observable_types=("ipv4",))
    later = ScoreFacts(80, START, ("ipv4",), last_seen=at(20))
    assert current_score(later, at(20)).score == pytest.approx(80.0)
    assert current_score(base, at(20)).score == pytest.approx(80 * (1 - 20 / 30))
    one_fp = ScoreFacts(80, START, ("ipv4",), false_positives=1)
    assert current_score(one_fp, at(0)).score == pytest.approx(40.0)
    two_fp = ScoreFacts(80, START, ("ipv4",), false_positives=2)
    assert current_score(two_fp, at(0)).expired  # 20 < 30


def test_expiry_by_time_revocation_or_sighting() -> None:
    config = DecayConfig(threshold=10)
    assert current_score(ScoreFacts(80, START, valid_until=at(1)), at(2), config).expired
    assert current_score(ScoreFacts(80, START, revoked=True), at(0), config).expired
    ended = current_score(ScoreFacts(80, START, expired_by="KZ-CERT"), at(0), config)
    assert ended.expired and "KZ-CERT" in ended.reason
    assert current_score(ScoreFacts(None, START), at(0), config).base == 50.0


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> World:
    return build_world(engine, trail)


def test_a_false_positive_sighting_drops_the_stored_score(world: World) -> None:
    ind = indicator("91.92.93.94", "ipv4-addr:value", confidence=80)
    world.load("kz", ind)
    ana, bek = world.actors["ana"], world.actors["bek"]
    with world.engine.begin() as conn:
        pk = get_stored(conn, ana, ind["id"]).pk
        now = "2026-01-01T00:00:00.000000Z"
        before = scores_for(conn, [pk], now)[pk]
        record_sighting(conn, world.trail, bek, ind["id"], SightingType.FALSE_POSITIVE)
        after = scores_for(conn, [pk], now)[pk]
    assert before.score == pytest.approx(80.0) and not before.expired
    assert after.score == pytest.approx(40.0) and not after.expired
    with world.engine.begin() as conn:
        record_sighting(conn, world.trail, bek, ind["id"], SightingType.FALSE_POSITIVE)
        assert scores_for(conn, [pk], now)[pk].expired


def test_expired_ends_it_only_from_the_producer(world: World) -> None:
    ind = indicator("91.92.93.95", "ipv4-addr:value", confidence=90)
    world.load("kz", ind)
    now = "2026-01-01T00:00:00.000000Z"
    with world.engine.begin() as conn:
        pk = get_stored(conn, world.actors["ana"], ind["id"]).pk
        record_sighting(conn, world.trail, world.actors["bek"], ind["id"], SightingType.EXPIRED)
        by_other = scores_for(conn, [pk], now)[pk]
        record_sighting(conn, world.trail, world.actors["ana"], ind["id"], SightingType.EXPIRED)
        by_owner = scores_for(conn, [pk], now)[pk]
    assert not by_other.expired and by_other.score == pytest.approx(45.0)
    assert by_owner.expired and "KZ-CERT" in by_owner.reason


def test_a_seen_sighting_refreshes_the_score(world: World) -> None:
    ind = indicator("91.92.93.96", "ipv4-addr:value", confidence=80)
    world.load("kz", ind)
    with world.engine.begin() as conn:
        pk = get_stored(conn, world.actors["ana"], ind["id"]).pk
        stale = scores_for(conn, [pk], at(25))[pk]
        record_sighting(
            conn, world.trail, world.actors["bek"], ind["id"], SightingType.SEEN, last_seen=at(24)
        )
        fresh = scores_for(conn, [pk], at(25))[pk]
    assert stale.expired
    assert fresh.score == pytest.approx(80 * (1 - 1 / 30))
