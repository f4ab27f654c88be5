"""/api/v1/incidents: open, share, work and read incidents through the policy."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.conftest import Coalition
from api.test_triage import store_alerts
from steppe.api.app import API_PREFIX

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

URL = f"{API_PREFIX}/incidents"


def _open(client: TestClient, coalition: Coalition, caller: str = "analyst", **body: Any) -> Any:
    response = client.post(URL, json={"title": "Beaconing", **body}, headers=coalition.auth(caller))
    assert response.status_code == 201, response.text
    return response.json()


def test_open_share_and_work_an_incident(client: TestClient, coalition: Coalition) -> None:
    alerts = store_alerts(coalition.engine)
    incident = _open(client, coalition, severity="high", participants=["KG-CERT"],
                     alert_ids=[alerts["KZ-CERT"]], template="ddos", coordinated=True)  # fmt: skip
    url = f"{URL}/{incident['id']}"
    assert incident["participants"] == ["KG-CERT"] and incident["open_tasks"] == 5
    kg = client.get(url, headers=coalition.auth("partner"))
    assert kg.status_code == 200 and kg.json()["owner"] == "KZ-CERT"
    assert client.get(url, headers=coalition.auth("outsider")).status_code == 404
    # KG sees the incident, not KZ's alert in it; it adds its own.
    assert client.get(f"{url}/evidence", headers=coalition.auth("partner")).json() == []
    added = client.post(f"{url}/evidence", json={"kind": "alert", "alert_id": alerts["KG-CERT"]},
                        headers=coalition.auth("partner"))  # fmt: skip
    assert added.status_code == 201, added.text
    assert [e["alert_id"] for e in added.json()] == [alerts["KG-CERT"]]
    kz_sees = client.get(f"{url}/evidence", headers=coalition.auth("analyst")).json()
    assert [e["alert_id"] for e in kz_sees] == [alerts["KZ-CERT"]]
    # tasks, comments, status, participants
    task = client.post(f"{url}/tasks", json={"title": "Block", "assignee": "bek"},
                       headers=coalition.auth("analyst"))  # fmt: skip
    assert task.status_code == 201, task.text
    done = client.patch(f"{url}/tasks/{task.json()['id']}", json={"status": "done"},
                        headers=coalition.auth("partner"))  # fmt: skip
    assert done.json()["status"] == "done"
    comment = client.post(f"{url}/comments", json={"text": "hi"}, headers=coalition.auth("partner"))
    assert comment.status_code == 201 and comment.json()["organisation"] == "KG-CERT"
    moved = client.patch(url, json={"status": "investigating", "severity": "critical"},
                         headers=coalition.auth("analyst"))  # fmt: skip
    assert (moved.json()["status"], moved.json()["severity"]) == ("investigating", "critical")
    bad = client.patch(url, json={"status": "open"}, headers=coalition.auth("analyst"))
    assert bad.status_code == 409 and bad.headers["content-type"] == "application/problem+json"
    refused = client.post(f"{url}/participants", json={"organisation": "UZ-CERT"},
                          headers=coalition.auth("partner"))  # fmt: skip
    assert refused.status_code == 403
    shared = client.post(f"{url}/participants", json={"organisation": "UZ-CERT"},
                         headers=coalition.auth("analyst"))  # fmt: skip
    assert shared.json()["participants"] == ["KG-CERT", "UZ-CERT"]
    assert client.get(f"{url}/evidence", headers=coalition.auth("outsider")).json() == []
    kinds = [
        e["kind"] for e in client.get(f"{url}/timeline", headers=coalition.auth("outsider")).json()
    ]
    assert "evidence" not in kinds and kinds.count("status") == 1
    statuses = client.get(f"{url}/timeline", params={"after": 0}, headers=coalition.auth("analyst"))
    assert [e["detail"] for e in statuses.json() if e["kind"] == "status"] == [
        {"from": "open", "to": "investigating"}
    ]


def test_list_filters_and_visibility(client: TestClient, coalition: Coalition) -> None:
    mine = _open(client, coalition, severity="low")
    _open(client, coalition, "partner", title="KG only", coordinated=True)

    def ids(caller: str, **params: Any) -> list[str]:
        response = client.get(URL, params=params, headers=coalition.auth(caller))
        assert response.status_code == 200, response.text
        return [i["title"] for i in response.json()["items"]]

    assert ids("analyst") == ["Beaconing"]
    assert ids("reader") == ["Beaconing"]
    assert sorted(ids("admin")) == ["Beaconing", "KG only"]  # the center's staff
    assert ids("admin", coordinated="true") == ["KG only"]
    assert ids("admin", severity="low", q="beacon") == ["Beaconing"]
    assert ids("outsider") == []
    assert client.get(URL, headers=coalition.auth("sensor")).status_code == 403
    assert (
        client.get(f"{URL}/{mine['id']}/tasks", headers=coalition.auth("outsider")).status_code
        == 404
    )


def test_bad_input_is_a_problem_not_a_crash(client: TestClient, coalition: Coalition) -> None:
    auth = coalition.auth("analyst")
    unknown = client.post(URL, json={"title": "x", "participants": ["Nowhere"]}, headers=auth)
    assert unknown.status_code == 422 and "Nowhere" in unknown.json()["detail"]
    template = client.post(URL, json={"title": "x", "template": "nope"}, headers=auth)
    assert template.status_code == 422
    assert (
        client.post(URL, json={"title": "x"}, headers=coalition.auth("reader")).status_code == 403
    )
    incident = _open(client, coalition)
    note = client.post(f"{URL}/{incident['id']}/evidence",
                       json={"kind": "note", "title": "x", "tlp": "red", "distribution": "community"},
                       headers=auth)  # fmt: skip
    assert note.status_code == 422
    names = [t["name"] for t in client.get(f"{URL}/templates", headers=auth).json()]
    assert names == ["compromised-host", "ddos", "phishing", "ransomware"]
