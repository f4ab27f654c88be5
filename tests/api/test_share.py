"""Re-marking an object (POST /intel/objects/{id}/share): only the owner, a new version,
and the new audience — no one else — sees it."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient

from api.conftest import Coalition
from helpers import bundle, indicator

OBJ = "indicator--7c1d2b3a-0000-4000-8000-00000000beef"


def _import(client: TestClient, coalition: Coalition) -> None:
    answer = client.post(
        "/api/v1/intel/objects",
        content=bundle(indicator("shared.example", id=OBJ)),
        params={"distribution": "organisation", "tlp": "amber"},
        headers={**coalition.auth("analyst"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 201, answer.text


def _sees(client: TestClient, coalition: Coalition, caller: str) -> bool:
    return (
        client.get(f"/api/v1/intel/objects/{OBJ}", headers=coalition.auth(caller)).status_code
        == 200
    )


def test_sharing_to_a_group_shows_the_object_to_its_members_only(
    client: TestClient, coalition: Coalition
) -> None:
    _import(client, coalition)
    assert not _sees(client, coalition, "partner")
    answer = client.post(
        f"/api/v1/intel/objects/{OBJ}/share",
        json={"distribution": "groups", "tlp": "amber", "groups": ["CSTO"]},
        headers=coalition.auth("analyst"),
    )
    assert answer.status_code == 200, answer.text
    body = orjson.loads(answer.content)
    assert body["distribution"] == "groups" and body["modified"] > body["created"]
    assert _sees(client, coalition, "partner")  # KG-CERT is in CSTO
    assert not _sees(client, coalition, "outsider")  # UZ-CERT is not


def test_only_the_owner_re_marks(client: TestClient, coalition: Coalition) -> None:
    _import(client, coalition)
    client.post(
        f"/api/v1/intel/objects/{OBJ}/share",
        json={"distribution": "community", "tlp": "green"},
        headers=coalition.auth("analyst"),
    )
    for caller, status in (("partner", 403), ("reader", 403), ("sensor", 403)):
        answer = client.post(
            f"/api/v1/intel/objects/{OBJ}/share",
            json={"distribution": "organisation", "tlp": "red"},
            headers=coalition.auth(caller),
        )
        assert answer.status_code == status, (caller, answer.text)


def test_contradictory_or_unknown_markings_are_refused_and_change_nothing(
    client: TestClient, coalition: Coalition
) -> None:
    _import(client, coalition)
    cases = [
        ({"distribution": "community", "tlp": "red"}, "TLP:RED"),
        ({"distribution": "groups", "tlp": "amber", "groups": ["NOPE"]}, "no sharing group"),
        ({"distribution": "groups", "tlp": "amber"}, "at least one sharing group"),
        ({"distribution": "community", "tlp": "purple"}, "unknown TLP"),
    ]
    for body, message in cases:
        answer = client.post(
            f"/api/v1/intel/objects/{OBJ}/share", json=body, headers=coalition.auth("analyst")
        )
        assert answer.status_code == 422, answer.text
        assert message in answer.text
    assert not _sees(client, coalition, "partner")
