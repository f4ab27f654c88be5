"""Correlation: bounded by the cap per value, and shown only to those who see both sides."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, func, insert, select

from helpers import indicator
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, MarkingConflict, NotFound
from steppe.intel.config import IntelConfig
from steppe.intel.correlation import (
    CorrelationConfig,
    correlate,
    correlate_observables,
    correlation_rows,
    defers_singletons,
    over_correlating,
    related,
)
from steppe.sharing.model import Actor, Distribution, ObjectRights, OrgKind, Role, TlpLevel
from steppe.sharing.policy import can_see, check_marking
from steppe.storage.schema import (
    correlation_values,
    correlations,
    group_members,
    intel_objects,
    object_groups,
    observables,
    organisations,
    sharing_groups,
)

NOW = "2026-01-01T00:00:00.000000Z"


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> World:
    return build_world(engine, trail)


def test_values_over_the_cap_stop_correlating(world: World) -> None:
    config = IntelConfig(correlation=CorrelationConfig(cap=5))
    shared = [indicator(f"c2-{i}.bad.test", pattern=f"[domain-name:value = 'hot.bad.test'] OR "
                        f"[domain-name:value = 'c2-{i}.bad.test']") for i in range(6)]  # fmt: skip
    pair = [indicator("pair.bad.test") for _ in range(2)]
    world.load("kz", *shared[:5], *pair, config=config)
    ana = world.actors["ana"]
    with world.engine.connect() as conn:
        first = related(conn, ana, shared[0]["id"])
        assert {r.stix_id for r in first} == {s["id"] for s in shared[1:5]}
        assert first[0].shared == [("domain", "hot.bad.test")]
        assert {r.stix_id for r in related(conn, ana, pair[0]["id"])} == {pair[1]["id"]}
    world.load("kz", shared[5], config=config)  # the sixth: hot.bad.test goes over the cap
    with world.engine.connect() as conn:
        assert related(conn, ana, shared[0]["id"]) == []
        assert over_correlating(conn, ana) == [("domain", "hot.bad.test")]
        assert over_correlating(conn, world.actors["root"]) == [("domain", "hot.bad.test")]
        per_value = conn.execute(
            select(func.count()).select_from(correlations).group_by(correlations.c.value_id)
        ).scalars()
        assert max(per_value) <= 5
        distinct = conn.execute(select(func.count()).select_from(correlation_values)).scalar()
        assert correlation_rows(conn) <= 5 * int(distinct or 0)


def test_warninglisted_and_excluded_values_do_not_correlate(world: World) -> None:
    config = IntelConfig(correlation=CorrelationConfig(exclusions=frozenset({"skip.bad.test"})))
    a = indicator(
        "x", pattern="[ipv4-addr:value = '8.8.8.8'] OR [domain-name:value = 'skip.bad.test']"
    )
    b = indicator(
        "y", pattern="[ipv4-addr:value = '8.8.8.8'] OR [domain-name:value = 'skip.bad.test']"
    )
    world.load("kz", a, b, config=config)
    with world.engine.connect() as conn:
        assert related(conn, world.actors["ana"], a["id"]) == []


def test_a_new_version_replaces_the_old_one_in_its_values(world: World) -> None:
    config = IntelConfig(correlation=CorrelationConfig(cap=2))
    a, b = indicator("v.bad.test"), indicator("v.bad.test")
    world.load("kz", a, b, config=config)
    for n in range(3):  # without pruning, old versions would fill the cap
        world.load("kz", {**a, "modified": f"2026-01-0{n + 2}T00:00:00.000Z"}, config=config)
    with world.engine.connect() as conn:
        assert [r.stix_id for r in related(conn, world.actors["ana"], a["id"])] == [b["id"]]


def test_a_link_is_shown_only_to_who_sees_both_sides(world: World) -> None:
    mine = indicator("both.bad.test")
    group_only = indicator("both.bad.test")
    world.load("uz", mine)
    world.load("kz", group_only, distribution=Distribution.GROUPS, tlp=TlpLevel.AMBER)
    with world.engine.connect() as conn:
        assert related(conn, world.actors["uzi"], mine["id"]) == []
        assert [r.stix_id for r in related(conn, world.actors["bek"], mine["id"])] == [
            group_only["id"]
        ]
        with pytest.raises(NotFound):
            related(conn, world.actors["uzi"], group_only["id"])


# --- the both-sides rule over generated worlds ------------------------------------------

VALUES = [f"v{i}.bad.test" for i in range(5)]


@dataclass
class Gen:
    kinds: list[OrgKind]
    groups: list[frozenset[int]]  # member org indexes (owner: the first non-peer)
    objects: list[tuple[ObjectRights, frozenset[str]]]
    roles: list[frozenset[Role]]
    cap: int


@st.composite
def gens(draw: st.DrawFn) -> Gen:
    n = draw(st.integers(2, 5))
    kinds = [
        draw(st.sampled_from([OrgKind.MEMBER, OrgKind.MEMBER, OrgKind.PEER])) for _ in range(n)
    ]
    kinds[0] = OrgKind.MEMBER
    members = [i for i, k in enumerate(kinds) if k is not OrgKind.PEER]
    groups = [
        draw(st.frozensets(st.sampled_from(members), max_size=len(members)))
        for _ in range(draw(st.integers(0, 3)))
    ]
    objects = []
    for _ in range(draw(st.integers(1, 10))):
        owner = draw(st.sampled_from(members))
        dist = draw(st.sampled_from(list(Distribution)))
        if dist is Distribution.GROUPS and not groups:
            dist = Distribution.ORGANISATION
        gids = (
            draw(st.frozensets(st.integers(0, len(groups) - 1), min_size=1))
            if dist is Distribution.GROUPS
            else frozenset()
        )
        tlp = draw(st.sampled_from(list(TlpLevel)))
        try:
            check_marking(dist, tlp, gids)
        except MarkingConflict:
            tlp = TlpLevel.GREEN if dist is not Distribution.FEDERATION else TlpLevel.CLEAR
        values = draw(st.frozensets(st.sampled_from(VALUES), min_size=1, max_size=3))
        objects.append((ObjectRights(owner, dist, tlp, gids), values))
    roles = [
        draw(st.sampled_from([frozenset({Role.ANALYST}), frozenset({Role.READER}),
                              frozenset({Role.SENSOR}), frozenset({Role.ADMIN})]))
        for _ in range(n)
    ]  # fmt: skip
    return Gen(kinds, groups, objects, roles, draw(st.integers(1, 4)))


def _insert(conn: Connection, gen: Gen) -> tuple[list[int], list[int], list[ObjectRights]]:
    org_ids = [
        conn.execute(
            insert(organisations)
            .values(name=f"org{i}", country=None, kind=kind.value, created_at=NOW)
            .returning(organisations.c.id)
        ).scalar_one()
        for i, kind in enumerate(gen.kinds)
    ]
    group_ids = []
    for i, members in enumerate(gen.groups):
        gid = conn.execute(
            insert(sharing_groups)
            .values(name=f"g{i}", description="", owner_org_id=org_ids[0], hidden_roster=False,
                    created_at=NOW)
            .returning(sharing_groups.c.id)
        ).scalar_one()  # fmt: skip
        group_ids.append(gid)
        for m in members:
            conn.execute(insert(group_members).values(group_id=gid, org_id=org_ids[m]))
    rights = []
    obs_id = 1
    for pk, (obj, values) in enumerate(gen.objects, start=1):
        real = ObjectRights(
            org_ids[obj.owner_org_id], obj.distribution, obj.tlp,
            frozenset(group_ids[g] for g in obj.group_ids),
        )  # fmt: skip
        rights.append(real)
        conn.execute(
            insert(intel_objects).values(
                pk=pk, stix_id=f"indicator--{pk}", type="indicator", modified=NOW,
                owner_org_id=real.owner_org_id, distribution=real.distribution.value,
                tlp=real.tlp.value, revoked=False, is_current=True, imported_at=NOW, body="{}",
            )
        )  # fmt: skip
        for gid in real.group_ids:
            conn.execute(insert(object_groups).values(object_pk=pk, group_id=gid))
        for value in sorted(values):
            conn.execute(
                insert(observables).values(id=obs_id, object_pk=pk, type="domain", value=value)
            )
            obs_id += 1
    return org_ids, group_ids, rights


def _check(engine: Engine, gen: Gen) -> None:
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            org_ids, group_ids, rights = _insert(conn, gen)
            pks = list(range(1, len(gen.objects) + 1))
            # two calls, as two imports would make them
            half = len(pks) // 2
            correlate(conn, pks[:half], CorrelationConfig(gen.cap))
            correlate(conn, range(half + 1, len(pks) + 1), CorrelationConfig(gen.cap))
            counts: dict[str, int] = {}
            for _rights, values in gen.objects:
                for v in values:
                    counts[v] = counts.get(v, 0) + 1
            live = {v for v, c in counts.items() if c <= gen.cap}
            per_value = conn.execute(
                select(func.count()).select_from(correlations).group_by(correlations.c.value_id)
            ).scalars()
            assert all(c <= gen.cap for c in per_value)
            # SQLite leaves a value carried by one object without rows
            kept = {v for v in live if counts[v] > 1 or not defers_singletons(conn)}
            assert correlation_rows(conn) == sum(counts[v] for v in kept)
            for i, org_id in enumerate(org_ids):
                member_of = frozenset(
                    g for g, m in zip(group_ids, gen.groups, strict=True) if i in m
                )
                actor = Actor(i, f"u{i}", org_id, gen.kinds[i], gen.roles[i], member_of)
                for x, (_x_rights, x_values) in enumerate(gen.objects):
                    stix_id = f"indicator--{x + 1}"
                    if not can_see(actor, rights[x]):
                        with pytest.raises((NotFound, Forbidden)):
                            related(conn, actor, stix_id)
                        continue
                    expected = {
                        f"indicator--{y + 1}"
                        for y, (_r, y_values) in enumerate(gen.objects)
                        if y != x and can_see(actor, rights[y]) and (x_values & y_values & live)
                    }
                    got = {r.stix_id for r in related(conn, actor, stix_id)}
                    assert got == expected, (actor, stix_id, gen)
        finally:
            tx.rollback()


_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(gen=gens())
def test_related_agrees_with_the_oracle_on_sqlite(sqlite_engine: Engine, gen: Gen) -> None:
    _check(sqlite_engine, gen)


@pytest.mark.postgres
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(gen=gens())
def test_related_agrees_with_the_oracle_on_postgres(pg_engine: Engine, gen: Gen) -> None:
    _check(pg_engine, gen)


def _correlation_state(conn: Connection) -> dict[tuple[str, str], tuple[int, bool, frozenset[int]]]:
    """(type, value) -> (members, over_cap, member pks): the tables without their ids."""
    members: dict[int, set[int]] = {}
    for value_id, pk in conn.execute(select(correlations.c.value_id, correlations.c.object_pk)):
        members.setdefault(value_id, set()).add(pk)
    return {
        (r.type, r.value): (r.members, bool(r.over_cap), frozenset(members.get(r.id, ())))
        for r in conn.execute(select(correlation_values))
    }


@_SETTINGS
@given(gen=gens(), excluded=st.frozensets(st.sampled_from(VALUES), max_size=2))
def test_held_observables_correlate_as_the_stored_ones_do(
    sqlite_engine: Engine, gen: Gen, excluded: frozenset[str]
) -> None:
    """correlate_observables (the importer's path) leaves the tables as correlate does,
    and so it does told where the block of objects just stored starts (``stored_from``,
    as the importer tells it: earlier carriers are then looked up below it only)."""
    config = CorrelationConfig(gen.cap, excluded)
    states = []
    for way in ("stored", "held", "held, block start given"):
        with sqlite_engine.connect() as conn:
            tx = conn.begin()
            try:
                _insert(conn, gen)
                pks = list(range(1, len(gen.objects) + 1))
                half = len(pks) // 2
                for part in (pks[:half], pks[half:]):  # two imports: the second meets values
                    rows = [(pk, "domain", v) for pk in part for v in gen.objects[pk - 1][1]]
                    if way == "held":
                        correlate_observables(conn, rows, config)
                    elif way == "held, block start given" and part:
                        correlate_observables(conn, rows, config, stored_from=part[0])
                    else:
                        correlate(conn, part, config)
                states.append(_correlation_state(conn))
            finally:
                tx.rollback()
    assert states[0] == states[1] == states[2]
    assert not any(value in excluded for _kind, value in states[1])
