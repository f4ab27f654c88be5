"""GET/PUT /api/v1/organisations/{org}/sighting-preference: only the organisation's
org-admins and instance admins read or change it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api.conftest import KEY, Coalition
from steppe.alerts.store import named_preferences
from steppe.api.app import API_PREFIX
from steppe.audit.trail import AuditTrail
from steppe.sharing import directory
from steppe.sharing.model import OrgKind, Role
from steppe.storage.schema import audit_log

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def _url(org: str) -> str:
    return f"{API_PREFIX}/organisations/{org}/sighting-preference"


def test_the_org_admin_lets_its_sightings_name_it(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    boss = coalition.auth("org_admin")  # KZ-CERT's org-admin
    assert client.get(_url("KZ-CERT"), headers=boss).json() == {
        "organisation": "KZ-CERT", "named": False, "updated_at": None,
    }  # fmt: skip
    put = client.put(_url("KZ-CERT"), json={"named": True}, headers=boss)
    assert put.status_code == 200, put.text
    assert put.json()["named"] is True and put.json()["updated_at"]
    with engine.connect() as conn:
        kz = directory.find_organisation(conn, "KZ-CERT")
        assert named_preferences(conn) == {kz.id: True}
        entry = conn.execute(
            select(audit_log.c.actor, audit_log.c.action).order_by(audit_log.c.seq.desc())
        ).first()
    assert tuple(entry or ()) == ("user:kzboss", "alert.sighting-preference")
    # By id too, and an admin may set any organisation's.
    admin = coalition.auth("admin")
    assert client.get(_url(str(kz.id)), headers=admin).json()["named"] is True
    off = client.put(_url("KZ-CERT"), json={"named": False}, headers=admin)
    assert off.json()["named"] is False
    kg = client.put(_url("KG-CERT"), json={"named": True}, headers=admin)
    assert kg.status_code == 200 and kg.json()["organisation"] == "KG-CERT"


@pytest.mark.parametrize(
    ("caller", "org", "status"),
    [
        ("analyst", "KZ-CERT", 403),  # own organisation, not its org-admin
        ("reader", "KZ-CERT", 403),
        ("sensor", "KZ-CERT", 403),
        ("org_admin", "KG-CERT", 403),  # another organisation's
        ("partner", "KZ-CERT", 403),
        ("org_admin", "Nowhere-CERT", 404),
        ("admin", "999999", 404),
        ("admin", "99999999999999999999999", 404),  # not an id that fits: a name
    ],
)
def test_others_may_neither_read_nor_change_it(
    client: TestClient, coalition: Coalition, caller: str, org: str, status: int
) -> None:
    headers = coalition.auth(caller)
    assert client.get(_url(org), headers=headers).status_code == status
    answer = client.put(_url(org), json={"named": True}, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_peer_center_does_not_learn_other_organisations_exist(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    trail = AuditTrail(KEY, "test")
    with engine.begin() as conn:
        peer = directory.add_organisation(conn, trail, "Node-X", None, OrgKind.PEER)
        directory.add_user(conn, trail, "nodex-admin", peer, frozenset({Role.ORG_ADMIN}))
        token = directory.create_token(conn, trail, "nodex-admin").token
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(_url("KZ-CERT"), headers=headers).status_code == 404
    assert client.get(_url("Node-X"), headers=headers).json()["named"] is False


def test_a_bad_body_is_422(client: TestClient, coalition: Coalition) -> None:
    headers = coalition.auth("org_admin")
    for body in ({"named": "perhaps"}, {}, {"named": True, "extra": 1}):
        assert client.put(_url("KZ-CERT"), json=body, headers=headers).status_code == 422
