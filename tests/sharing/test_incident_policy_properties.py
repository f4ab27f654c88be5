"""The incident read paths agree with can_see_incident, over generated worlds.

Each example builds a random coalition — organisations of every kind, one user per
organisation with random roles, incidents owned by members with random participants —
writes it to a real database and compares, for every user, what the SQL twin
(``incident_filter``), ``list_incidents`` and ``get_incident`` return with what
``can_see_incident`` allows. Runs on SQLite and on the machine's PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from steppe.errors import Forbidden, NotFound
from steppe.response.incidents.queries import get_incident, list_incidents
from steppe.sharing.model import READ_ROLES, Actor, IncidentRights, OrgKind, Role
from steppe.sharing.policy import can_see_incident, incident_filter
from steppe.storage.schema import incident_participants, incidents, organisations, users

NOW = "2026-01-01T00:00:00.000000Z"


@dataclass
class World:
    org_kinds: list[OrgKind]
    roles: list[frozenset[Role]]  # one user per organisation
    incidents: list[IncidentRights]  # org ids are indexes here, remapped on insert


@st.composite
def worlds(draw: st.DrawFn) -> World:
    n_orgs = draw(st.integers(2, 6))
    kinds = [
        draw(st.sampled_from([OrgKind.MEMBER, OrgKind.MEMBER, OrgKind.PEER, OrgKind.COORDINATOR]))
        for _ in range(n_orgs)
    ]
    kinds[0] = OrgKind.MEMBER  # someone owns incidents
    owners = [i for i, k in enumerate(kinds) if k is not OrgKind.PEER]
    found = [
        IncidentRights(
            draw(st.sampled_from(owners)),
            draw(st.frozensets(st.sampled_from(owners), max_size=len(owners))),
        )
        for _ in range(draw(st.integers(0, 6)))
    ]
    roles = [
        draw(st.frozensets(st.sampled_from(list(Role)), min_size=1, max_size=2))
        for _ in range(n_orgs)
    ]
    return World(kinds, roles, found)


def _check_world(engine: Engine, world: World) -> None:
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            org_ids, user_ids = [], []
            for i, kind in enumerate(world.org_kinds):
                org_id = conn.execute(
                    insert(organisations)
                    .values(name=f"org{i}", country="KZ", kind=kind.value, created_at=NOW)
                    .returning(organisations.c.id)
                ).scalar_one()
                org_ids.append(org_id)
                user_ids.append(
                    conn.execute(
                        insert(users)
                        .values(
                            name=f"u{i}",
                            organisation_id=org_id,
                            roles=",".join(sorted(world.roles[i])),
                            created_at=NOW,
                        )
                        .returning(users.c.id)
                    ).scalar_one()
                )
            stored: dict[str, IncidentRights] = {}
            for n, rights in enumerate(world.incidents):
                incident_id = f"incident--{n:08d}-0000-4000-8000-000000000000"
                owner = org_ids[rights.owner_org_id]
                conn.execute(
                    insert(incidents).values(
                        id=incident_id,
                        title=f"i{n}",
                        description="",
                        severity="medium",
                        tlp="amber",
                        status="open",
                        coordinated=False,
                        owner_org_id=owner,
                        created_by=user_ids[rights.owner_org_id],
                        created_at=NOW,
                        updated_at=NOW,
                    )
                )
                participants = frozenset(org_ids[p] for p in rights.participant_org_ids)
                for org_id in participants:
                    conn.execute(
                        insert(incident_participants).values(
                            incident_id=incident_id, org_id=org_id, added_at=NOW
                        )
                    )
                stored[incident_id] = IncidentRights(owner, participants)
            for i, org_id in enumerate(org_ids):
                actor = Actor(user_ids[i], f"u{i}", org_id, world.org_kinds[i], world.roles[i])
                expected = {k for k, r in stored.items() if can_see_incident(actor, r)}
                got = set(
                    conn.scalars(select(incidents.c.id).where(incident_filter(actor, incidents)))
                )
                assert got == expected, (actor, world)
                if world.org_kinds[i] is OrgKind.PEER or not actor.roles & READ_ROLES:
                    assert not expected  # peers and sensors never see an incident
                if not actor.roles & READ_ROLES:
                    with pytest.raises(Forbidden):
                        list_incidents(conn, actor)
                    continue
                listed = {v.id for v in list_incidents(conn, actor, limit=1000).items}
                assert listed == expected, (actor, world)
                for incident_id in stored:
                    if incident_id in expected:
                        assert get_incident(conn, actor, incident_id).id == incident_id
                    else:
                        with pytest.raises(NotFound):
                            get_incident(conn, actor, incident_id)
        finally:
            tx.rollback()


_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(world=worlds())
def test_incident_reads_agree_with_the_policy_on_sqlite(
    sqlite_engine: Engine, world: World
) -> None:
    _check_world(sqlite_engine, world)


@pytest.mark.postgres
@_SETTINGS
@given(world=worlds())
def test_incident_reads_agree_with_the_policy_on_postgres(pg_engine: Engine, world: World) -> None:
    _check_world(pg_engine, world)
