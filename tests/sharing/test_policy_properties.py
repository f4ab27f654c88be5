"""The SQL twin agrees with can_see, for every actor, over generated worlds.

Each example builds a random coalition — organisations of every kind, overlapping groups,
memberships, objects with every distribution / TLP / group combination the marking rules
allow, and derived objects with sources — writes it to a real database, and compares,
for every user, the set of objects the SQL filter returns with the set can_see allows.
Runs on SQLite and on the machine's PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from steppe.errors import MarkingConflict
from steppe.sharing.model import (
    Actor,
    Distribution,
    ObjectRights,
    OrgKind,
    Role,
    TlpLevel,
)
from steppe.sharing.policy import can_see, check_marking, visible_filter
from steppe.storage.schema import (
    group_members,
    intel_objects,
    object_groups,
    object_sources,
    organisations,
    sharing_groups,
)

NOW = "2026-01-01T00:00:00.000000Z"


@dataclass
class World:
    org_kinds: list[OrgKind]
    groups: list[tuple[int, bool, frozenset[int]]]  # owner index, hidden, member indexes
    objects: list[ObjectRights]  # org/group ids are indexes here, remapped on insert
    sources: list[tuple[int, int]]  # (derived object index, source object index)
    actor_roles: list[frozenset[Role]]  # one user per organisation


@st.composite
def worlds(draw: st.DrawFn) -> World:
    n_orgs = draw(st.integers(2, 6))
    kinds = [
        draw(st.sampled_from([OrgKind.MEMBER, OrgKind.MEMBER, OrgKind.PEER, OrgKind.COORDINATOR]))
        for _ in range(n_orgs)
    ]
    non_peers = [i for i, k in enumerate(kinds) if k is not OrgKind.PEER] or [0]
    kinds[non_peers[0]] = (
        OrgKind.MEMBER if kinds[non_peers[0]] is OrgKind.PEER else kinds[non_peers[0]]
    )
    n_groups = draw(st.integers(0, 4))
    groups = []
    for _ in range(n_groups):
        owner = draw(st.sampled_from(non_peers))
        members = draw(st.frozensets(st.sampled_from(non_peers), max_size=len(non_peers)))
        groups.append((owner, draw(st.booleans()), members))
    objects = []
    for _ in range(draw(st.integers(1, 12))):
        owner = draw(st.sampled_from(non_peers))
        dist = draw(st.sampled_from(list(Distribution)))
        if dist is Distribution.GROUPS and not groups:
            dist = Distribution.COMMUNITY
        tlp = draw(st.sampled_from(list(TlpLevel)))
        gids = (
            draw(st.frozensets(st.integers(0, len(groups) - 1), min_size=1))
            if dist is Distribution.GROUPS
            else frozenset()
        )
        try:
            check_marking(dist, tlp, gids)
        except MarkingConflict:
            tlp = TlpLevel.GREEN if dist is not Distribution.FEDERATION else TlpLevel.CLEAR
        objects.append(ObjectRights(owner, dist, tlp, gids))
    sources = []
    if len(objects) > 1:
        for _ in range(draw(st.integers(0, 4))):
            derived = draw(st.integers(0, len(objects) - 1))
            source = draw(st.integers(0, len(objects) - 1))
            if derived != source:
                sources.append((derived, source))
    roles = [
        draw(st.frozensets(st.sampled_from(list(Role)), min_size=1, max_size=2))
        for _ in range(n_orgs)
    ]
    return World(kinds, groups, objects, sorted(set(sources)), roles)


def _check_world(engine: Engine, world: World) -> None:
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            org_ids = []
            for i, kind in enumerate(world.org_kinds):
                org_ids.append(
                    conn.execute(
                        insert(organisations)
                        .values(name=f"org{i}", country="KZ", kind=kind.value, created_at=NOW)
                        .returning(organisations.c.id)
                    ).scalar_one()
                )
            group_ids = []
            for i, (owner, hidden, members) in enumerate(world.groups):
                gid = conn.execute(
                    insert(sharing_groups)
                    .values(
                        name=f"g{i}",
                        description="",
                        owner_org_id=org_ids[owner],
                        hidden_roster=hidden,
                        created_at=NOW,
                    )
                    .returning(sharing_groups.c.id)
                ).scalar_one()
                group_ids.append(gid)
                for m in members:
                    conn.execute(insert(group_members).values(group_id=gid, org_id=org_ids[m]))
            stored: list[ObjectRights] = []
            for pk, obj in enumerate(world.objects, start=1):
                real = ObjectRights(
                    org_ids[obj.owner_org_id],
                    obj.distribution,
                    obj.tlp,
                    frozenset(group_ids[g] for g in obj.group_ids),
                )
                stored.append(real)
                conn.execute(
                    insert(intel_objects).values(
                        pk=pk,
                        stix_id=f"indicator--{pk}",
                        type="indicator",
                        modified=NOW,
                        owner_org_id=real.owner_org_id,
                        distribution=real.distribution.value,
                        tlp=real.tlp.value,
                        revoked=False,
                        is_current=True,
                        imported_at=NOW,
                        body="{}",
                    )
                )
                for gid in real.group_ids:
                    conn.execute(insert(object_groups).values(object_pk=pk, group_id=gid))
            derived_sources: dict[int, list[int]] = {}
            for derived, source in world.sources:
                derived_sources.setdefault(derived, []).append(source)
                conn.execute(
                    insert(object_sources).values(object_pk=derived + 1, source_pk=source + 1)
                )
            oracle_objects = [
                ObjectRights(
                    o.owner_org_id,
                    o.distribution,
                    o.tlp,
                    o.group_ids,
                    tuple(stored[s] for s in derived_sources.get(i, [])),
                )
                for i, o in enumerate(stored)
            ]
            for i, org_id in enumerate(org_ids):
                member_of = frozenset(
                    group_ids[g] for g, (_o, _h, members) in enumerate(world.groups) if i in members
                )
                actor = Actor(
                    i, f"u{i}", org_id, world.org_kinds[i], world.actor_roles[i], member_of
                )
                expected = {
                    pk for pk, obj in enumerate(oracle_objects, start=1) if can_see(actor, obj)
                }
                got = set(
                    conn.execute(
                        select(intel_objects.c.pk).where(visible_filter(actor, intel_objects))
                    ).scalars()
                )
                assert got == expected, (actor, world)
        finally:
            tx.rollback()


_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(world=worlds())
def test_sql_filter_agrees_with_can_see_on_sqlite(sqlite_engine: Engine, world: World) -> None:
    _check_world(sqlite_engine, world)


@pytest.mark.postgres
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(world=worlds())
def test_sql_filter_agrees_with_can_see_on_postgres(pg_engine: Engine, world: World) -> None:
    _check_world(pg_engine, world)
