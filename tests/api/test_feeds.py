"""/api/v1/feeds: who may add, see, pull and remove feeds; provenance in intel views."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.conftest import AppFactory, Coalition
from feed_server import LOCAL_SETTINGS, FeedServer, feed_server_fixture  # noqa: F401
from steppe.api.app import API_PREFIX

FEEDS = f"{API_PREFIX}/feeds"


@pytest.fixture
def app(make_app: AppFactory, coalition: Coalition) -> FastAPI:
    """The API with the feed server (127.0.0.1) and the temporary folder allowed explicitly."""
    return make_app(**LOCAL_SETTINGS)


def _add(
    client: TestClient, coalition: Coalition, caller: str, **body: object
) -> dict[str, object]:
    response = client.post(FEEDS, json=body, headers=coalition.auth(caller))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_owners_manage_and_the_policy_decides_who_knows(
    client: TestClient, coalition: Coalition, feed_server: FeedServer
) -> None:
    feed_server.files["/c2.txt"] = b"# C2\n198.51.100.7\nevil.example\nnot a value\n"
    url = feed_server.url("/c2.txt")
    made = _add(
        client, coalition, "analyst", name="csto-c2", url=url, format="plain",
        distribution="groups", groups=["CSTO"], tlp="amber", every="1h",
    )  # fmt: skip
    assert made["owner"] == "KZ-CERT" and made["managed"] is True and made["url"] == url

    # A reader of the owner may see it, not pull it; the CSTO partner sees it without its
    # URL; the outsider does not know it exists.
    assert client.get(f"{FEEDS}/csto-c2", headers=coalition.auth("reader")).status_code == 200
    partner = client.get(f"{FEEDS}/csto-c2", headers=coalition.auth("partner")).json()
    assert partner["managed"] is False and partner["url"] is None and partner["groups"] == ["CSTO"]
    assert client.get(f"{FEEDS}/csto-c2", headers=coalition.auth("outsider")).status_code == 404
    assert [f["name"] for f in client.get(FEEDS, headers=coalition.auth("outsider")).json()] == []
    for caller, status in [("reader", 403), ("partner", 403), ("outsider", 404), ("sensor", 403)]:
        answer = client.post(f"{FEEDS}/csto-c2/pull", headers=coalition.auth(caller))
        assert answer.status_code == status, caller

    pulled = client.post(f"{FEEDS}/csto-c2/pull", headers=coalition.auth("org_admin")).json()
    assert pulled["status"] == "ok" and pulled["stats"]["new"] == 2
    assert pulled["stats"]["bad_rows"] == 1 and pulled["problems"][0].startswith(f"{url}:4: ")
    again = client.post(f"{FEEDS}/csto-c2/pull", headers=coalition.auth("admin")).json()
    assert again["status"] == "not-modified"

    # Provenance travels with the object, to those who may see the object.
    found = client.get(
        f"{API_PREFIX}/intel/objects", params={"value": "198.51.100.7"},
        headers=coalition.auth("partner"),
    ).json()["items"]  # fmt: skip
    assert [s["feed"] for s in found[0]["sources"]] == ["csto-c2"]
    outsider = client.get(
        f"{API_PREFIX}/intel/objects", params={"value": "198.51.100.7"},
        headers=coalition.auth("outsider"),
    ).json()["items"]  # fmt: skip
    assert outsider == []
    one = client.get(
        f"{API_PREFIX}/intel/objects/{found[0]['stix_id']}", headers=coalition.auth("analyst")
    ).json()
    assert one["sources"][0]["owner"] == "KZ-CERT" and one["sources"][0]["confidence"] is None

    # Removing it revokes its indicators.
    assert client.delete(f"{FEEDS}/csto-c2", headers=coalition.auth("partner")).status_code == 403
    removed = client.delete(f"{FEEDS}/csto-c2", headers=coalition.auth("analyst")).json()
    assert removed == {"feed": "csto-c2", "revoked": 2}
    gone = client.get(
        f"{API_PREFIX}/intel/objects/{found[0]['stix_id']}", headers=coalition.auth("analyst")
    ).json()
    assert gone["revoked"] is True and gone["sources"] == []
    assert client.get(f"{FEEDS}/csto-c2", headers=coalition.auth("admin")).status_code == 404


def test_who_may_add_what(client: TestClient, coalition: Coalition, tmp_path: Path) -> None:
    body = {"name": "x", "url": "https://feeds.example/x.txt", "format": "plain"}
    assert client.post(FEEDS, json=body, headers=coalition.auth("reader")).status_code == 403
    assert client.post(FEEDS, json=body, headers=coalition.auth("sensor")).status_code == 403
    other = {**body, "owner": "KG-CERT"}
    assert client.post(FEEDS, json=other, headers=coalition.auth("analyst")).status_code == 403
    local = {**body, "name": "local", "url": (tmp_path / "x.txt").as_uri()}
    assert client.post(FEEDS, json=local, headers=coalition.auth("analyst")).status_code == 403
    assert client.post(FEEDS, json=local, headers=coalition.auth("admin")).status_code == 201
    assert client.post(FEEDS, json=other, headers=coalition.auth("admin")).status_code == 201
    assert client.post(FEEDS, json=other, headers=coalition.auth("admin")).status_code == 409
    bad = {**body, "name": "y", "format": "csv", "mapping": {"value_column": -1}}
    assert client.post(FEEDS, json=bad, headers=coalition.auth("analyst")).status_code == 422
    red = {**body, "name": "z", "tlp": "red", "distribution": "community"}
    assert client.post(FEEDS, json=red, headers=coalition.auth("analyst")).status_code == 422
    every = {**body, "name": "w", "every": "often"}
    assert client.post(FEEDS, json=every, headers=coalition.auth("analyst")).status_code == 422


def test_the_scheduler_starts_only_when_asked(make_app: object, coalition: Coalition) -> None:
    plain: FastAPI = make_app()  # type: ignore[operator]
    with TestClient(plain):
        assert plain.state.feed_scheduler is None
    on: FastAPI = make_app(feed_scheduler=True, feed_check_seconds=3600)  # type: ignore[operator]
    with TestClient(on):
        scheduler = on.state.feed_scheduler
        assert scheduler is not None
    assert not scheduler.running  # stopped with the app
