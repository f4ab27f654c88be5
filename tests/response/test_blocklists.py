"""Blocklists: an organisation's named lists; nobody adds what it may not see."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from export_world import ioc
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, Forbidden, InputError, NotFound
from steppe.response.blocklists import (
    add_to_blocklist,
    create_blocklist,
    find_blocklist,
    list_blocklists,
    list_entries,
    remove_from_blocklist,
)
from steppe.sharing import directory
from steppe.sharing.model import Distribution, Role
from steppe.storage.schema import audit_log


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> World:
    return build_world(engine, trail)


def test_add_creates_the_list_and_records_who_and_why(world: World) -> None:
    obj = ioc("domain", "bad.example")
    world.load("kz", obj)
    ana = world.actor("ana")
    with world.engine.begin() as conn:
        assert add_to_blocklist(conn, world.trail, ana, "perimeter", [obj["id"]], "C2") == 1
        assert add_to_blocklist(conn, world.trail, ana, "perimeter", [obj["id"]]) == 0
    with world.engine.connect() as conn:
        [listed] = list_blocklists(conn, ana)
        assert (listed.name, listed.entries, listed.created_by) == ("perimeter", 1, "ana")
        [entry] = list_entries(conn, ana, "perimeter")
        assert (entry.stix_id, entry.reason, entry.added_by) == (obj["id"], "C2", "ana")
        actions = list(conn.scalars(select(audit_log.c.action)))
    assert actions[-2:] == ["blocklist.create", "blocklist.add"]


def test_nobody_adds_an_indicator_it_may_not_see(world: World) -> None:
    secret = ioc("domain", "secret.example")
    world.load("uz", secret, distribution=Distribution.ORGANISATION)
    with world.engine.begin() as conn, pytest.raises(NotFound) as err:
        add_to_blocklist(conn, world.trail, world.actor("ana"), "perimeter", [secret["id"]])
    assert "secret" not in err.value.message and "indicator_ids" in err.value.message
    with world.engine.connect() as conn, pytest.raises(NotFound):
        find_blocklist(conn, world.actor("ana"), "perimeter")  # nothing was created


def test_lists_are_private_to_their_organisation(world: World) -> None:
    obj = ioc("domain", "bad.example")
    world.load("kz", obj)
    with world.engine.begin() as conn:
        add_to_blocklist(conn, world.trail, world.actor("ana"), "edge", [obj["id"]])
    with world.engine.connect() as conn:
        assert list_blocklists(conn, world.actor("bek")) == []
        with pytest.raises(NotFound):
            list_entries(conn, world.actor("bek"), "edge")


def test_remove_keeps_history(world: World) -> None:
    obj = ioc("domain", "bad.example")
    world.load("kz", obj)
    ana = world.actor("ana")
    with world.engine.begin() as conn:
        add_to_blocklist(conn, world.trail, ana, "edge", [obj["id"]])
        assert remove_from_blocklist(conn, world.trail, ana, "edge", [obj["id"]]) == 1
        assert remove_from_blocklist(conn, world.trail, ana, "edge", [obj["id"]]) == 0
    with world.engine.connect() as conn:
        assert list_entries(conn, ana, "edge") == []
        [entry] = list_entries(conn, ana, "edge", include_removed=True)
        assert entry.removed_by == "ana"


def test_readers_may_not_change_lists_and_names_are_checked(world: World) -> None:
    with world.engine.begin() as conn:
        directory.add_user(conn, world.trail, "rita", world.orgs["kz"], frozenset({Role.READER}))
    rita, ana = world.actor("rita"), world.actor("ana")
    with world.engine.begin() as conn:
        with pytest.raises(Forbidden):
            create_blocklist(conn, world.trail, rita, "edge")
        with pytest.raises(InputError) as err:
            create_blocklist(conn, world.trail, ana, "bad name!")
        assert err.value.field == "blocklist"
        create_blocklist(conn, world.trail, ana, "edge")
        with pytest.raises(Conflict):
            create_blocklist(conn, world.trail, ana, "edge")
