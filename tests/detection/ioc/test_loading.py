"""The index built from the store: per-organisation visibility and incremental refresh."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from helpers import indicator
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.detection.ioc import IocMatcher, build_index, refresh
from steppe.detection.ioc.loading import audit_position, deleted_after
from steppe.federation.collections import find_collection
from steppe.federation.reading import ObjectFilter
from steppe.federation.writing import delete_object
from steppe.sharing.model import Distribution, ObjectRights, Role, TlpLevel
from steppe.sharing.policy import can_see
from steppe.storage.schema import intel_objects

NOW = "2026-01-10T00:00:00.000000Z"


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> World:
    return build_world(engine, trail)


def test_a_group_only_indicator_alerts_only_the_group(world: World) -> None:
    ind = indicator("evil.example", confidence=90)
    world.load("kz", ind, distribution=Distribution.GROUPS, tlp=TlpLevel.AMBER)
    with world.engine.connect() as conn:
        index = build_index(conn, NOW)
        row = conn.execute(select(intel_objects).where(intel_objects.c.stix_id == ind["id"])).one()
    matcher = IocMatcher(index)
    rights = ObjectRights(
        row.owner_org_id, Distribution.GROUPS, TlpLevel.AMBER, frozenset({world.group.id})
    )
    event = {"dns.question.name": "c2.evil.example"}
    for org in world.orgs.values():
        actor = next(a for a in world.actors.values() if a.org_id == org.id)
        reader = actor.__class__(0, "r", org.id, actor.org_kind, frozenset({Role.READER}),
                                 actor.group_ids)  # fmt: skip
        found = matcher.match_event(event, org.id, NOW)
        assert bool(found) == can_see(reader, rights).allowed, org.name
    assert not matcher.match_event(event, world.orgs["uz"].id, NOW)
    assert matcher.match_event(event, world.orgs["kg"].id, NOW)


def test_revoked_versions_leave_the_index_on_refresh(world: World) -> None:
    ind = indicator("91.92.93.23", "ipv4-addr:value")
    world.load("kz", ind)
    event = {"destination.ip": "91.92.93.23"}
    kg = world.orgs["kg"].id
    with world.engine.connect() as conn:
        index = build_index(conn, NOW)
    matcher = IocMatcher(index)
    assert matcher.match_event(event, kg, NOW)
    world.load("kz", {**ind, "modified": "2026-02-01T00:00:00.000Z", "revoked": True})
    with world.engine.connect() as conn:
        assert refresh(conn, index, [ind["id"]], NOW) == []
    assert not matcher.match_event(event, kg, NOW)
    with world.engine.connect() as conn:
        assert not IocMatcher(build_index(conn, NOW)).match_event(event, kg, NOW)


def test_refresh_adds_new_indicators_and_expired_ones_are_not_loaded(world: World) -> None:
    with world.engine.connect() as conn:
        index = build_index(conn, NOW)
    fresh = indicator("bad.example", confidence=90)
    old = indicator("gone.example", valid_until="2026-01-05T00:00:00.000Z")
    world.load("kz", fresh, old)
    with world.engine.connect() as conn:
        added = refresh(conn, index, [fresh["id"], old["id"]], NOW)
    assert len(added) == 1 and len(index) == 1
    matcher = IocMatcher(index)
    kz = world.orgs["kz"].id
    assert matcher.match_event({"url.domain": "bad.example"}, kz, NOW)
    assert not matcher.match_event({"url.domain": "gone.example"}, kz, NOW)


def test_deleted_versions_are_found_in_the_audit_log_and_refreshed(world: World) -> None:
    first = indicator("first.example", confidence=90)
    newer = {**indicator("newer.example", confidence=90), "id": first["id"],
             "modified": "2026-01-02T00:00:00.000Z"}  # fmt: skip
    other = indicator("other.example", confidence=90)
    world.load("kz", first, other)
    world.load("kz", newer)
    kz = world.orgs["kz"].id
    with world.engine.connect() as conn:
        index = build_index(conn, NOW)
        position = audit_position(conn)
    matcher = IocMatcher(index)
    assert matcher.match_event({"url.domain": "newer.example"}, kz, NOW)
    assert not matcher.match_event({"url.domain": "first.example"}, kz, NOW)

    analyst = next(a for a in world.actors.values() if a.org_id == kz)
    with world.engine.begin() as conn:  # TAXII DELETE of the last version, then of other
        community = find_collection(conn, analyst, "community")
        delete_object(conn, world.trail, analyst, community, first["id"], ObjectFilter())
        delete_object(conn, world.trail, analyst, community, other["id"], ObjectFilter())
    with world.engine.connect() as conn:
        deleted, position = deleted_after(conn, position)
        assert deleted == sorted([first["id"], other["id"]])
        refresh(conn, index, deleted, NOW)
        assert deleted_after(conn, position) == ([], position)  # each deletion read once
    # The older version is current again and matches; the deleted ones no longer do.
    assert matcher.match_event({"url.domain": "first.example"}, kz, NOW)
    assert not matcher.match_event({"url.domain": "newer.example"}, kz, NOW)
    assert not matcher.match_event({"url.domain": "other.example"}, kz, NOW)
