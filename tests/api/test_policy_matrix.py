"""Every read endpoint × every role × every visibility case, against the policy oracle.

A small coalition with every kind of organisation, overlapping groups (one with a hidden
roster) and one user per role, and objects with every distribution/TLP/group marking
their owners may use. For each user the expected set of visible objects comes from
`can_see` — the one oracle — and every API read path must return exactly that set:
GET by id (others answer 404, like a missing id), search by value, the paged list and
the bulk look-up. Write endpoints are checked role by role. SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from conftest import KEY
from helpers import bundle, indicator
from steppe.api.app import create_app
from steppe.audit.trail import AuditTrail
from steppe.intel.importer import Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.settings import Settings
from steppe.sharing import directory
from steppe.sharing.model import (
    READ_ROLES,
    Actor,
    Distribution,
    GroupRoster,
    ObjectRights,
    OrgKind,
    Role,
    TlpLevel,
)
from steppe.sharing.policy import can_see, can_see_group, can_see_roster

ORGS = {
    "Center": (None, OrgKind.COORDINATOR),
    "A": ("KZ", OrgKind.MEMBER),
    "B": ("KG", OrgKind.MEMBER),
    "C": ("UZ", OrgKind.MEMBER),
    "P": (None, OrgKind.PEER),
}
GROUPS = {"G1": ("A", True, ("A", "B")), "G2": ("Center", False, ("B", "C"))}
ROLES_BY_KIND = {
    OrgKind.COORDINATOR: [Role.ADMIN, Role.COORDINATOR, Role.READER],
    OrgKind.MEMBER: [Role.ORG_ADMIN, Role.ANALYST, Role.READER, Role.SENSOR],
    OrgKind.PEER: [Role.ANALYST, Role.READER],
}
MARKINGS = [
    (Distribution.ORGANISATION, TlpLevel.RED, ()),
    (Distribution.COMMUNITY, TlpLevel.AMBER),
    (Distribution.COMMUNITY, TlpLevel.AMBER_STRICT),
    (Distribution.FEDERATION, TlpLevel.GREEN),
    (Distribution.FEDERATION, TlpLevel.CLEAR),
    (Distribution.GROUPS, TlpLevel.AMBER, ("G1",)),
    (Distribution.GROUPS, TlpLevel.RED, ("G2",)),
    (Distribution.GROUPS, TlpLevel.GREEN, ("G1", "G2")),
]


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]  # user name → token
    actors: dict[str, Actor]
    objects: dict[str, tuple[str, str, ObjectRights]]  # stix id → (value, owner, rights)
    rosters: dict[str, GroupRoster]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def expected(self, user: str) -> set[str]:
        actor = self.actors[user]
        return {sid for sid, (_v, _o, rights) in self.objects.items() if can_see(actor, rights)}


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Iterator[World]:
    trail = AuditTrail(KEY, "test")
    tokens: dict[str, str] = {}
    objects: dict[str, tuple[str, str, ObjectRights]] = {}
    with engine.begin() as conn:
        orgs = {
            name: directory.add_organisation(conn, trail, name, country, kind)
            for name, (country, kind) in ORGS.items()
        }
        groups = {}
        for name, (owner, hidden, members) in GROUPS.items():
            group = directory.add_group(conn, trail, name, orgs[owner], hidden_roster=hidden)
            for member in members:
                group = directory.add_group_member(conn, trail, group, orgs[member])
            groups[name] = group
        for org_name, org in orgs.items():
            for role in ROLES_BY_KIND[org.kind]:
                user = f"{org_name}-{role.value}"
                directory.add_user(conn, trail, user, org, frozenset({role}))
                tokens[user] = directory.create_token(conn, trail, user).token
        counter = itertools.count()
        for owner_name in ("A", "B", "Center"):
            owner = orgs[owner_name]
            for distribution, tlp, *rest in MARKINGS:
                group_names = rest[0] if rest else ()
                chosen = tuple(groups[g] for g in group_names)
                if any(
                    owner.id not in g.member_org_ids and owner.id != g.owner_org_id for g in chosen
                ):
                    continue  # an owner may only address groups it belongs to
                value = f"o{next(counter)}.example"
                ind = indicator(value)
                data = bundle(ind)
                import_objects(
                    conn,
                    trail,
                    data,
                    read_bundle(data, "t"),
                    owner=owner,
                    marking=Marking(distribution, tlp, chosen),
                    source="t",
                )
                rights = ObjectRights(owner.id, distribution, tlp, frozenset(g.id for g in chosen))
                objects[ind["id"]] = (value, owner_name, rights)
        actors = {user: directory.load_actor(conn, user) for user in tokens}
        rosters = {name: directory.find_group(conn, name).roster() for name in GROUPS}
    settings = Settings(
        data_dir=tmp_path, secret_key=KEY, api_rate_per_minute=10**6, api_rate_burst=10**6
    )
    with TestClient(create_app(settings, engine=engine)) as client:
        yield World(client, tokens, actors, objects, rosters)


def _readers(world: World) -> list[str]:
    return [u for u, a in world.actors.items() if a.roles & READ_ROLES]


def test_the_world_covers_every_case(world: World) -> None:
    outcomes = {
        (world.actors[u].org_kind, sid in world.expected(u))
        for u in _readers(world)
        for sid in world.objects
    }
    assert outcomes == {(k, v) for k in OrgKind for v in (True, False)}


def test_get_by_id_answers_exactly_the_oracle(world: World) -> None:
    for user in _readers(world):
        expected = world.expected(user)
        for stix_id in world.objects:
            response = world.client.get(
                f"/api/v1/intel/objects/{stix_id}", headers=world.headers(user)
            )
            if stix_id in expected:
                assert response.status_code == 200, (user, stix_id)
                assert response.json()["stix_id"] == stix_id
            else:
                assert response.status_code == 404, (user, stix_id, response.text)
                assert response.json()["detail"] == f"no object {stix_id!r}"


def test_search_by_value_answers_exactly_the_oracle(world: World) -> None:
    for user in _readers(world):
        expected = world.expected(user)
        for stix_id, (value, _owner, _rights) in world.objects.items():
            response = world.client.get(
                "/api/v1/intel/objects", params={"value": value}, headers=world.headers(user)
            )
            assert response.status_code == 200
            found = {item["stix_id"] for item in response.json()["items"]}
            assert found == ({stix_id} & expected), (user, value)


def test_paged_list_answers_exactly_the_oracle(world: World) -> None:
    for user in _readers(world):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
            page = world.client.get(
                "/api/v1/intel/objects", params=params, headers=world.headers(user)
            ).json()
            seen.extend(item["stix_id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen))
        assert set(seen) == world.expected(user), user


def test_bulk_lookup_answers_exactly_the_oracle(world: World) -> None:
    values = {value: sid for sid, (value, _o, _r) in world.objects.items()}
    for user in _readers(world):
        response = world.client.post(
            "/api/v1/intel/lookup",
            json={"values": [*values, "absent.example"]},
            headers=world.headers(user),
        )
        assert response.status_code == 200
        body = response.json()
        matched = {obj["stix_id"] for m in body["matches"] for obj in m["objects"]}
        assert matched == world.expected(user), user
        assert body["unmatched"] == len(values) + 1 - len(body["matches"])


def test_sensors_read_nothing_anywhere(world: World) -> None:
    any_id = next(iter(world.objects))
    for user in (u for u, a in world.actors.items() if Role.SENSOR in a.roles):
        h = world.headers(user)
        assert world.client.get(f"/api/v1/intel/objects/{any_id}", headers=h).status_code == 403
        assert world.client.get("/api/v1/intel/objects", headers=h).status_code == 403
        assert (
            world.client.post(
                "/api/v1/intel/lookup", json={"values": ["a.example"]}, headers=h
            ).status_code
            == 403
        )
        assert world.client.get("/api/v1/groups", headers=h).status_code == 403


def test_group_rosters_follow_the_roster_policy(world: World) -> None:
    for user in _readers(world):
        actor = world.actors[user]
        groups = {
            g["name"]: g
            for g in world.client.get("/api/v1/groups", headers=world.headers(user)).json()
        }
        for name, roster in world.rosters.items():
            knows = can_see_group(actor, roster).allowed
            assert (name in groups) is knows, (user, name)
            if knows:
                visible = can_see_roster(actor, roster).allowed
                assert (groups[name]["members"] is not None) is visible, (user, name)


WRITE_CASES = [
    # (method, path, json or raw body, roles allowed)
    ("POST", "/api/v1/organisations", {"name": "New", "country": "TJ"}, {Role.ADMIN}),
    ("GET", "/api/v1/audit", None, {Role.ADMIN}),
    ("GET", "/api/v1/audit/verify", None, {Role.ADMIN}),
]


@pytest.mark.parametrize(("method", "path", "payload", "allowed"), WRITE_CASES)
def test_admin_endpoints_by_role(
    world: World, method: str, path: str, payload: object, allowed: set[Role]
) -> None:
    for user, actor in world.actors.items():
        body = (
            dict(payload, name=f"New {uuid.uuid4().hex[:6]}") if isinstance(payload, dict) else None
        )
        response = world.client.request(method, path, json=body, headers=world.headers(user))
        if actor.roles & allowed:
            assert response.status_code in (200, 201), (user, response.text)
        else:
            assert response.status_code == 403, (user, response.status_code)


def test_import_by_role(world: World) -> None:
    writers = {Role.ANALYST, Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN}
    for user, actor in world.actors.items():
        data = bundle(indicator(f"new-{uuid.uuid4().hex[:8]}.example"))
        response = world.client.post(
            "/api/v1/intel/objects",
            content=data,
            params={"distribution": "organisation"},
            headers={**world.headers(user), "Content-Type": "application/json"},
        )
        allowed = bool(actor.roles & writers) and actor.org_kind is not OrgKind.PEER
        assert response.status_code == (201 if allowed else 403), (user, response.text)


def test_changes_only_by_the_owner(world: World) -> None:
    for stix_id, (value, _owner, rights) in list(world.objects.items())[:8]:
        for user, actor in world.actors.items():
            if not actor.roles & {Role.ANALYST, Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN}:
                continue
            obj = orjson.loads(
                world.client.get(
                    f"/api/v1/intel/objects/{stix_id}",
                    headers=world.headers(
                        next(
                            u
                            for u, a in world.actors.items()
                            if a.org_id == rights.owner_org_id and a.roles & READ_ROLES
                        )
                    ),
                ).content
            )["object"]
            obj["modified"] = "2030-01-01T00:00:00.000Z"
            obj["name"] = f"changed by {user}"
            response = world.client.put(
                f"/api/v1/intel/objects/{stix_id}",
                content=orjson.dumps(obj),
                headers={**world.headers(user), "Content-Type": "application/json"},
            )
            if actor.org_id == rights.owner_org_id:
                assert response.status_code in (200, 409), (user, response.text)  # 409 once changed
            elif can_see(actor, rights):
                assert response.status_code == 403, (user, response.text)
            else:
                assert response.status_code == 404, (user, response.text)
        assert value
