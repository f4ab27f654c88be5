"""Sightings: visible with the object, the sighting organisation named only if it allows."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from helpers import indicator
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, InputError, NotFound
from steppe.intel.sightings import SightingType, list_sightings, record_sighting, sighter_shown
from steppe.sharing.model import Distribution, ObjectRights, Role, TlpLevel
from steppe.sharing.policy import can_see
from steppe.storage.schema import audit_log, intel_objects


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> World:
    return build_world(engine, trail)


@pytest.mark.parametrize("distribution", [Distribution.GROUPS, Distribution.COMMUNITY])
def test_who_learns_what_matches_the_oracle(world: World, distribution: Distribution) -> None:
    ind = indicator("91.92.93.97", "ipv4-addr:value")
    world.load("kz", ind, distribution=distribution, tlp=TlpLevel.AMBER)
    with world.engine.begin() as conn:
        # KG-CERT saw it and stays anonymous; the center saw it and may be named
        record_sighting(conn, world.trail, world.actors["bek"], ind["id"], SightingType.SEEN,
                        count=3, source="alert-1")  # fmt: skip
        if distribution is Distribution.COMMUNITY:
            record_sighting(conn, world.trail, world.actors["root"], ind["id"],
                            SightingType.FALSE_POSITIVE, named=True)  # fmt: skip
        row = conn.execute(select(intel_objects).where(intel_objects.c.stix_id == ind["id"])).one()
    group_ids = frozenset({world.group.id}) if distribution is Distribution.GROUPS else frozenset()
    rights = ObjectRights(row.owner_org_id, distribution, TlpLevel.AMBER, group_ids)
    names = {world.orgs["kg"].id: "KG-CERT", world.orgs["center"].id: "Center"}
    named = {world.orgs["kg"].id: False, world.orgs["center"].id: True}
    for user, actor in world.actors.items():
        with world.engine.connect() as conn:
            if not can_see(actor, rights):
                with pytest.raises(NotFound):
                    list_sightings(conn, actor, ind["id"])
                continue
            found = list_sightings(conn, actor, ind["id"])
        assert found.totals.get("seen") == 3, user
        for item in found.items:
            org_id = next(o for o, n in names.items() if (item.type == "seen") == (n == "KG-CERT"))
            expected = names[org_id] if sighter_shown(actor, org_id, named[org_id]) else None
            assert item.organisation == expected, user
            if expected is None:  # an alert id would name its owner
                assert item.source is None, user
    with world.engine.connect() as conn:
        producer = list_sightings(conn, world.actors["ana"], ind["id"])
        kg = list_sightings(conn, world.actors["bek"], ind["id"])
    seen_by_producer = next(i for i in producer.items if i.type == "seen")
    assert seen_by_producer.organisation is None and seen_by_producer.count == 3
    assert next(i for i in kg.items if i.type == "seen").organisation == "KG-CERT"


def test_an_invisible_object_cannot_be_sighted(world: World) -> None:
    ind = indicator("91.92.93.98", "ipv4-addr:value")
    world.load("kz", ind, distribution=Distribution.ORGANISATION, tlp=TlpLevel.RED)
    with world.engine.begin() as conn, pytest.raises(NotFound):
        record_sighting(conn, world.trail, world.actors["uzi"], ind["id"], SightingType.SEEN)


def test_readers_cannot_sight_and_counts_are_checked(world: World) -> None:
    ind = indicator("91.92.93.99", "ipv4-addr:value")
    world.load("kz", ind)
    reader = world.actors["ana"].__class__(
        99, "r", world.orgs["kz"].id, world.actors["ana"].org_kind, frozenset({Role.READER})
    )
    with world.engine.begin() as conn:
        with pytest.raises(Forbidden):
            record_sighting(conn, world.trail, reader, ind["id"], SightingType.SEEN)
        with pytest.raises(InputError, match="count"):
            record_sighting(conn, world.trail, world.actors["bek"], ind["id"],
                            SightingType.SEEN, count=0)  # fmt: skip


def test_sightings_are_audited(world: World) -> None:
    ind = indicator("91.92.94.1", "ipv4-addr:value")
    world.load("kz", ind)
    with world.engine.begin() as conn:
        record_sighting(conn, world.trail, world.actors["bek"], ind["id"], SightingType.SEEN)
        actions = list(conn.execute(select(audit_log.c.action)).scalars())
    assert "intel.sighting" in actions
