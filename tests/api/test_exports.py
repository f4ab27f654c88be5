"""GET /api/v1/exports/{format} and /api/v1/blocklists: streamed, filtered, with cursors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.conftest import KEY, Coalition
from helpers import bundle, indicator
from steppe.api.app import API_PREFIX
from steppe.audit.trail import AuditTrail
from steppe.intel.importer import Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.sharing import directory
from steppe.sharing.model import Distribution, TlpLevel

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def _import(engine: Engine, value: str, distribution: Distribution) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    obj = indicator(value, created=now, modified=now, valid_from=now, confidence=90)
    data = bundle(obj)
    with engine.begin() as conn:
        kz = directory.find_organisation(conn, "KZ-CERT")
        import_objects(conn, AuditTrail(KEY, "test"), data, read_bundle(data, "t.json"), owner=kz,
                       marking=Marking(distribution, TlpLevel.AMBER), source="t.json")  # fmt: skip
    return str(obj["id"])


def test_export_streams_what_the_caller_may_see_with_a_cursor(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    _import(engine, "shared.example", Distribution.COMMUNITY)
    _import(engine, "kz-only.example", Distribution.ORGANISATION)
    url = f"{API_PREFIX}/exports/csv"
    mine = client.get(url, headers=coalition.auth("analyst"))
    assert mine.status_code == 200, mine.text
    assert mine.headers["content-type"].startswith("text/csv")
    assert mine.headers["x-steppe-export"] == "full"
    assert "kz-only.example" in mine.text and "shared.example" in mine.text
    theirs = client.get(url, headers=coalition.auth("outsider"))
    assert "shared.example" in theirs.text and "kz-only.example" not in theirs.text

    _import(engine, "later.example", Distribution.COMMUNITY)
    since = mine.headers["x-steppe-cursor"]
    again = client.get(url, params={"since": since}, headers=coalition.auth("analyst"))
    assert again.headers["x-steppe-export"] == "incremental"
    assert again.text.splitlines()[1:] == [again.text.splitlines()[1]]
    assert "add,domain,later.example" in again.text


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("exports/nope", {}, 422),
        ("exports/csv", {"since": "not-a-cursor"}, 422),
        ("exports/csv", {"blocklist": "missing"}, 404),
        ("exports/csv", {"types": "asn"}, 422),
    ],
)
def test_bad_export_requests_are_problems_not_streams(
    client: TestClient, coalition: Coalition, path: str, params: dict[str, str], status: int
) -> None:
    response = client.get(f"{API_PREFIX}/{path}", params=params, headers=coalition.auth("analyst"))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_sensors_get_no_export(client: TestClient, coalition: Coalition) -> None:
    response = client.get(f"{API_PREFIX}/exports/nft", headers=coalition.auth("sensor"))
    assert response.status_code == 403


def test_blocklist_crud_and_export(
    client: TestClient, coalition: Coalition, engine: Engine
) -> None:
    wanted = _import(engine, "block-me.example", Distribution.COMMUNITY)
    _import(engine, "leave-me.example", Distribution.COMMUNITY)
    auth = coalition.auth("analyst")
    base = f"{API_PREFIX}/blocklists"
    made = client.post(base, json={"name": "edge", "description": "perimeter"}, headers=auth)
    assert made.status_code == 201, made.text
    added = client.post(f"{base}/edge/entries", json={"indicator_ids": [wanted]}, headers=auth)
    assert added.json() == {"changed": 1}
    assert [b["name"] for b in client.get(base, headers=auth).json()] == ["edge"]
    shown = client.get(f"{base}/edge", headers=auth).json()
    assert [e["stix_id"] for e in shown["items"]] == [wanted]
    zone = client.get(f"{API_PREFIX}/exports/rpz", params={"blocklist": "edge"}, headers=auth)
    assert "block-me.example CNAME ." in zone.text and "leave-me" not in zone.text
    assert client.get(f"{base}/edge", headers=coalition.auth("partner")).status_code == 404
    reader = client.post(f"{base}/edge/entries", json={"indicator_ids": [wanted]},
                         headers=coalition.auth("reader"))  # fmt: skip
    assert reader.status_code == 403
    gone = client.delete(f"{base}/edge/entries/{wanted}", headers=auth)
    assert gone.json() == {"changed": 1}
