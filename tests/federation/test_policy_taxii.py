"""A caller's TAXII view holds exactly what the policy oracle lets it see, over generated worlds.

Each example adds a random coalition — members, a coordinator, peer centers, overlapping
groups, one user per organisation with random roles, objects with every marking the
rules allow, derived objects with sources — to a real database, and then, over HTTP,
every user lists its collections and pages through each one (small pages, so ``next``
cursors are used). Every object served must pass ``can_see`` for that user; the union of
the user's collections must be every object ``can_see`` allows (none missing); and each
audience collection holds only its audience. Worlds accumulate in one database, so later
users also face earlier worlds' objects. SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine, insert

from conftest import KEY
from sharing.test_policy_properties import World, worlds
from steppe.api.app import create_app
from steppe.audit.trail import AuditTrail
from steppe.errors import NotFound
from steppe.federation.collections import define_collection
from steppe.settings import Settings
from steppe.sharing import directory
from steppe.sharing.model import (
    Actor,
    Distribution,
    ObjectRights,
    OrgKind,
    Role,
    TlpLevel,
)
from steppe.sharing.policy import can_see
from steppe.storage.ids import allocate_ids
from steppe.storage.schema import intel_objects, object_groups, object_sources

NOW = "2026-01-01T00:00:00.000Z"
MEDIA = "application/taxii+json;version=2.1"
_counter = itertools.count()


@dataclass
class Store:
    """Everything written so far: stix id → rights (with sources), as the oracle sees them."""

    rights: dict[str, ObjectRights] = field(default_factory=dict)


@pytest.fixture
def taxii(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with engine.begin() as conn:
        define_collection(
            conn, AuditTrail(KEY, "test"), "amber-indicators", title="Amber", tlp=("amber",)
        )
    app = create_app(
        Settings(
            data_dir=tmp_path, secret_key=KEY, api_rate_per_minute=10**7, api_rate_burst=10**7
        ),
        engine=engine,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _body(stix_id: str, n: int) -> str:
    return orjson.dumps(
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": stix_id,
            "created": NOW,
            "modified": NOW,
            "pattern": f"[domain-name:value = 'h{n}.example']",
            "pattern_type": "stix",
            "valid_from": NOW,
        }
    ).decode()


def _add_world(engine: Engine, world: World, store: Store) -> list[tuple[Actor, str]]:
    """Write ``world``; its users as (actor, token)."""
    trail = AuditTrail(KEY, "test")
    tag = next(_counter)
    with engine.begin() as conn:
        # A center has one coordinator organisation: every world's coordinator is it.
        try:
            center = directory.find_organisation(conn, "Center")
        except NotFound:
            center = directory.add_organisation(conn, trail, "Center", None, OrgKind.COORDINATOR)
        orgs = [
            center
            if kind is OrgKind.COORDINATOR
            else directory.add_organisation(
                conn, trail, f"w{tag}o{i}", "KZ" if kind is OrgKind.MEMBER else None, kind
            )
            for i, kind in enumerate(world.org_kinds)
        ]
        groups = []
        for i, (owner, hidden, members) in enumerate(world.groups):
            group = directory.add_group(
                conn, trail, f"w{tag}g{i}", orgs[owner], hidden_roster=hidden
            )
            for org_id in sorted({orgs[m].id for m in members}):
                org = next(o for o in orgs if o.id == org_id)
                group = directory.add_group_member(conn, trail, group, org)
            groups.append(group)
        pks = allocate_ids(conn, "intel_objects", len(world.objects))
        ids = [f"indicator--{uuid.uuid4()}" for _ in world.objects]
        base: list[ObjectRights] = []
        for pk, stix_id, obj in zip(pks, ids, world.objects, strict=True):
            real = ObjectRights(
                orgs[obj.owner_org_id].id,
                obj.distribution,
                obj.tlp,
                frozenset(groups[g].id for g in obj.group_ids),
            )
            base.append(real)
            conn.execute(
                insert(intel_objects).values(
                    pk=pk,
                    stix_id=stix_id,
                    type="indicator",
                    created=NOW,
                    modified="2026-01-01T00:00:00.000000Z",
                    owner_org_id=real.owner_org_id,
                    distribution=real.distribution.value,
                    tlp=real.tlp.value,
                    revoked=False,
                    is_current=True,
                    imported_at=f"2026-01-01T00:00:{tag % 60:02d}.{pk:06d}Z",
                    body=_body(stix_id, pk),
                )
            )
            for gid in real.group_ids:
                conn.execute(insert(object_groups).values(object_pk=pk, group_id=gid))
        sources: dict[int, list[int]] = {}
        for derived, source in world.sources:
            sources.setdefault(derived, []).append(source)
            conn.execute(
                insert(object_sources).values(object_pk=pks[derived], source_pk=pks[source])
            )
        for i, stix_id in enumerate(ids):
            o = base[i]
            store.rights[stix_id] = ObjectRights(
                o.owner_org_id,
                o.distribution,
                o.tlp,
                o.group_ids,
                tuple(base[s] for s in sources.get(i, [])),
            )
        users = []
        for i, org in enumerate(orgs):
            name = f"w{tag}u{i}"
            roles = world.actor_roles[i]
            if org.kind is not OrgKind.COORDINATOR:  # staff roles belong to the center's staff
                roles = roles - {Role.ADMIN, Role.COORDINATOR} or frozenset({Role.READER})
            directory.add_user(conn, trail, name, org, roles)
            token = directory.create_token(conn, trail, name).token
            users.append((directory.load_actor(conn, name), token))
    return users


def _served(client: TestClient, token: str) -> dict[str, set[str]]:
    """alias → ids served, paging with next; {} when the caller may not list collections."""
    headers = {"Authorization": f"Bearer {token}", "Accept": MEDIA}
    listing = client.get("/taxii2/steppe/collections/", headers=headers)
    if listing.status_code == 403:
        return {}
    assert listing.status_code == 200, listing.text
    served: dict[str, set[str]] = {}
    for collection in listing.json().get("collections", []):
        url = f"/taxii2/steppe/collections/{collection['id']}/objects/"
        ids: set[str] = set()
        params: dict[str, str | int] = {"limit": 25}
        while True:
            page = client.get(url, params=params, headers=headers)
            assert page.status_code == 200, page.text
            body = page.json()
            ids.update(o["id"] for o in body.get("objects", []))
            if not body["more"]:
                break
            params = {"limit": 25, "next": body["next"]}
        served[collection["alias"]] = ids
    return served


def _check(engine: Engine, client: TestClient, world: World, store: Store) -> None:
    for actor, token in _add_world(engine, world, store):
        expected = {i for i, rights in store.rights.items() if can_see(actor, rights)}
        served = _served(client, token)
        everything = set().union(*served.values()) if served else set()
        leaked = everything - expected
        assert not leaked, (actor, {i: store.rights[i] for i in leaked})
        assert everything == expected, (actor, expected - everything)
        for alias, ids in served.items():
            for stix_id in ids:
                rights = store.rights[stix_id]
                if alias == "organisation":
                    assert rights.owner_org_id == actor.org_id
                elif alias == "community":
                    assert rights.distribution is Distribution.COMMUNITY
                elif alias == "federation":
                    assert rights.distribution is Distribution.FEDERATION
                elif alias.startswith("group-"):
                    assert rights.distribution is Distribution.GROUPS
                elif alias == "amber-indicators":
                    assert rights.tlp is TlpLevel.AMBER


_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_taxii_view_matches_the_oracle(engine: Engine, taxii: TestClient) -> None:
    store = Store()

    @_SETTINGS
    @given(world=worlds())
    def run(world: World) -> None:
        _check(engine, taxii, world, store)

    run()
