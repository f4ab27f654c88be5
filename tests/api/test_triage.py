"""PATCH /api/v1/alerts/{id}, comments, history and POST /api/v1/alerts/triage."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api.conftest import KEY, Coalition
from helpers import bundle, indicator
from steppe.alerts.store import store_ioc_alerts
from steppe.api.app import API_PREFIX
from steppe.audit.trail import AuditTrail
from steppe.detection.ioc import IocMatcher, build_index
from steppe.intel.importer import Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.sharing import directory
from steppe.sharing.model import Distribution, TlpLevel
from steppe.storage.schema import alerts

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

NOW = "2026-01-10T00:00:00.000000Z"


def store_alerts(engine: Engine) -> dict[str, str]:
    """A community indicator of KZ-CERT hit in KZ's and KG's telemetry: org → alert id."""
    trail = AuditTrail(KEY, "test")
    data = bundle(indicator("c2.example", id="indicator--00000000-0000-4000-8000-00000000000a"))
    found = {}
    with engine.begin() as conn:
        kz = directory.find_organisation(conn, "KZ-CERT")
        import_objects(conn, trail, data, read_bundle(data, "t.json"), owner=kz,
                       marking=Marking(Distribution.COMMUNITY, TlpLevel.GREEN, ()), source="t.json")  # fmt: skip
        matcher = IocMatcher(build_index(conn, NOW))
        for name in ("KZ-CERT", "KG-CERT"):
            org = directory.find_organisation(conn, name).id
            event = {"@timestamp": "2026-01-09T10:00:00Z", "source.ip": "10.1.1.1",
                     "dns.question.name": "www.c2.example"}  # fmt: skip
            store_ioc_alerts(conn, trail, org, matcher.match_events([event], org, NOW))
            found[name] = str(conn.scalar(select(alerts.c.id).where(alerts.c.org_id == org)))
    return found


@pytest.fixture
def alert_ids(coalition: Coalition) -> dict[str, str]:
    return store_alerts(coalition.engine)


def test_patch_moves_and_assigns_an_alert(
    client: TestClient, coalition: Coalition, alert_ids: dict[str, str]
) -> None:
    url = f"{API_PREFIX}/alerts/{alert_ids['KZ-CERT']}"
    done = client.patch(url, json={"status": "acknowledged", "assignee": "kzboss"},
                        headers=coalition.auth("analyst"))  # fmt: skip
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["assignee"]) == ("acknowledged", "kzboss")
    again = client.patch(url, json={"status": "acknowledged"}, headers=coalition.auth("analyst"))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "already acknowledged" in again.json()["detail"]
    unassigned = client.patch(url, json={"assignee": None}, headers=coalition.auth("analyst"))
    assert unassigned.json()["assignee"] is None
    assert client.patch(url, json={}, headers=coalition.auth("analyst")).status_code == 422
    listed = client.get(f"{API_PREFIX}/alerts", params={"status": "acknowledged"},
                        headers=coalition.auth("analyst"))  # fmt: skip
    assert [a["id"] for a in listed.json()["items"]] == [alert_ids["KZ-CERT"]]


@pytest.mark.parametrize(
    ("caller", "status"),
    [("reader", 403), ("sensor", 403), ("partner", 404), ("outsider", 404), ("admin", 200)],
)
def test_who_may_triage(
    client: TestClient, coalition: Coalition, alert_ids: dict[str, str], caller: str, status: int
) -> None:
    url = f"{API_PREFIX}/alerts/{alert_ids['KZ-CERT']}"
    response = client.patch(url, json={"status": "closed"}, headers=coalition.auth(caller))
    assert response.status_code == status, response.text


def test_comments_and_history(
    client: TestClient, coalition: Coalition, alert_ids: dict[str, str]
) -> None:
    url = f"{API_PREFIX}/alerts/{alert_ids['KZ-CERT']}"
    posted = client.post(
        f"{url}/comments", json={"text": "on it"}, headers=coalition.auth("analyst")
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["author"] == "ana"
    read = client.get(f"{url}/comments", headers=coalition.auth("reader"))
    assert [c["text"] for c in read.json()] == ["on it"]
    assert client.get(f"{url}/comments", headers=coalition.auth("partner")).status_code == 404
    history = client.get(f"{url}/history", headers=coalition.auth("analyst")).json()
    assert [(h["actor"], h["action"]) for h in history] == [("ana", "comment")]


def test_bulk_triage_reports_each_alert(
    client: TestClient, coalition: Coalition, alert_ids: dict[str, str]
) -> None:
    ids = [alert_ids["KZ-CERT"], alert_ids["KG-CERT"]]
    response = client.post(f"{API_PREFIX}/alerts/triage", json={"ids": ids, "status": "closed"},
                           headers=coalition.auth("analyst"))  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] == 1
    assert [(o["id"], o["changed"]) for o in body["outcomes"]] == [(ids[0], True), (ids[1], False)]
    everyone = client.post(f"{API_PREFIX}/alerts/triage", json={"ids": ids, "status": "acknowledged"},
                           headers=coalition.auth("admin"))  # fmt: skip
    assert everyone.json()["changed"] == 2  # the center reopens KZ's and acknowledges KG's
