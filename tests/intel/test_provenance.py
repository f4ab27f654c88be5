"""Provenance: one value in feeds of different owners and audiences; each actor sees the
sources of exactly the objects the policy lets them see."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from conftest import KEY
from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden
from steppe.intel.feed_ingest import FeedEntry, ingest_entries, version_stamp
from steppe.intel.feeds import FeedFormat, FeedSpec, add_feed, find_feed
from steppe.intel.observables import ObservableType
from steppe.intel.provenance import sources_of_objects, sources_of_values
from steppe.intel.queries import search_value
from steppe.sharing import directory
from steppe.sharing.model import Actor, Distribution, OrgKind, Role, TlpLevel
from steppe.sharing.policy import can_see
from steppe.storage.engine import writing

TRAIL = AuditTrail(KEY, "test")
VALUE = "198.51.100.7"
#: feed → (owner, distribution, tlp, groups)
FEEDS = {
    "center-blocklist": ("Center", Distribution.COMMUNITY, TlpLevel.CLEAR, ()),
    "csto-c2": ("KZ-CERT", Distribution.GROUPS, TlpLevel.AMBER, ("CSTO",)),
    "uz-private": ("UZ-CERT", Distribution.ORGANISATION, TlpLevel.RED, ()),
    "peer-shared": ("KG-CERT", Distribution.FEDERATION, TlpLevel.GREEN, ()),
}


@pytest.fixture
def world(engine: Engine) -> dict[str, Actor]:
    with writing(engine) as conn:
        orgs = {
            "Center": directory.add_organisation(conn, TRAIL, "Center", None, OrgKind.COORDINATOR),
            "Peer": directory.add_organisation(conn, TRAIL, "Peer", None, OrgKind.PEER),
        }
        for name, country in [("KZ-CERT", "KZ"), ("KG-CERT", "KG"), ("UZ-CERT", "UZ")]:
            orgs[name] = directory.add_organisation(conn, TRAIL, name, country, OrgKind.MEMBER)
        group = directory.add_group(conn, TRAIL, "CSTO", orgs["KZ-CERT"])
        directory.add_group_member(conn, TRAIL, group, orgs["KZ-CERT"])
        group = directory.add_group_member(conn, TRAIL, group, orgs["KG-CERT"])
        users = {}
        for user, org, role in [
            ("root", "Center", Role.ADMIN),
            ("ana", "KZ-CERT", Role.ANALYST),
            ("bek", "KG-CERT", Role.READER),
            ("uzi", "UZ-CERT", Role.ANALYST),
            ("peer", "Peer", Role.ANALYST),
            ("sensor", "KZ-CERT", Role.SENSOR),
        ]:
            directory.add_user(conn, TRAIL, user, orgs[org], frozenset({role}))
            users[user] = user
        for name, (owner, dist, tlp, groups) in FEEDS.items():
            spec = FeedSpec(
                name,
                "file:///dev/null",
                FeedFormat.PLAIN,
                orgs[owner],
                dist,
                tlp,
                tuple(directory.find_group(conn, g) for g in groups),
            )
            feed = add_feed(conn, TRAIL, spec)
            entries = [
                FeedEntry(ObservableType.IPV4, VALUE, 40),
                FeedEntry(ObservableType.IPV4, f"203.0.113.{len(name)}"),
            ]
            ingest_entries(conn, feed, entries, stamp=version_stamp(feed))
        return {u: directory.load_actor(conn, u) for u in users}


def test_each_actor_sees_the_sources_the_policy_allows(
    engine: Engine, world: dict[str, Actor]
) -> None:
    with engine.connect() as conn:
        feeds = {name: find_feed(conn, name) for name in FEEDS}
        for user, actor in world.items():
            if user == "sensor":
                with pytest.raises(Forbidden):
                    sources_of_values(conn, actor, [("ipv4", VALUE)])
                continue
            expected = {n for n, f in feeds.items() if can_see(actor, f.rights)}
            sources = sources_of_values(conn, actor, [("ipv4", VALUE)])[("ipv4", VALUE)]
            assert {s.feed for s in sources} == expected, user
            # The search path agrees: an owner's object is found iff its source is shown.
            _kind, _value, hits = search_value(conn, actor, VALUE)
            assert {h.owner for h in hits} == {feeds[n].owner for n in expected}, user
            for hit in hits:
                by_object = sources_of_objects(conn, actor, [_pk(conn, hit.stix_id)])
                assert {s.feed for s in next(iter(by_object.values()))} == expected


def test_outside_a_group_neither_object_nor_source_shows(
    engine: Engine, world: dict[str, Actor]
) -> None:
    with engine.connect() as conn:
        uzi, bek = world["uzi"], world["bek"]
        assert "csto-c2" not in {
            s.feed for s in sources_of_values(conn, uzi, [("ipv4", VALUE)])[("ipv4", VALUE)]
        }
        assert "KZ-CERT" not in {h.owner for h in search_value(conn, uzi, VALUE)[2]}
        shown = sources_of_values(conn, bek, [("ipv4", VALUE)])[("ipv4", VALUE)]
        csto = next(s for s in shown if s.feed == "csto-c2")
        assert (csto.owner, csto.confidence, csto.expired_at) == ("KZ-CERT", 40, None)
        assert csto.first_seen <= csto.last_seen
        # The peer center sees only what may cross: federation + GREEN.
        peer = sources_of_values(conn, world["peer"], [("ipv4", VALUE)])[("ipv4", VALUE)]
        assert [s.feed for s in peer] == ["peer-shared"]


def _pk(conn: object, stix_id: str) -> int:
    from sqlalchemy import select

    from steppe.storage.schema import intel_objects

    return int(
        conn.execute(  # type: ignore[attr-defined]
            select(intel_objects.c.pk).where(
                intel_objects.c.stix_id == stix_id, intel_objects.c.is_current.is_(True)
            )
        ).scalar_one()
    )
