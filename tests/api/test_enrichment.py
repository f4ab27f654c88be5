"""REST: sightings, score, related objects, tags and ATT&CK, under the sharing policy.

Uses the coalition of tests/api/conftest.py: ana (KZ-CERT), bek (KG-CERT, in CSTO with
KZ-CERT), uzi (UZ-CERT, in no group), the Center (coordinator).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient

from helpers import bundle, indicator

P = "/api/v1"


def _import(client: Any, auth: dict[str, str], *objects: dict[str, Any], **params: Any) -> None:
    answer = client.post(
        f"{P}/intel/objects",
        content=bundle(*objects),
        headers={**auth, "Content-Type": "application/json"},
        params={"distribution": "community", "tlp": "green", **params},
    )
    assert answer.status_code == 201, answer.text


def test_sightings_score_and_related(client: TestClient, coalition: Any) -> None:
    a = indicator("shared.bad.test", labels=["attack.t1059.001"], confidence=90)
    b = indicator("shared.bad.test")
    secret = indicator("shared.bad.test")
    _import(client, coalition.auth("analyst"), a, b)
    _import(client, coalition.auth("partner"), secret,
            distribution="groups", group="CSTO", tlp="amber")  # fmt: skip

    url = f"{P}/intel/objects/{a['id']}"
    posted = client.post(f"{url}/sightings", json={"type": "seen", "count": 2, "source": "alert-9"},
                         headers=coalition.auth("partner"))  # fmt: skip
    assert posted.status_code == 201, posted.text
    assert posted.json()["organisation"] == "KG-CERT"
    seen_by_producer = client.get(f"{url}/sightings", headers=coalition.auth("analyst")).json()
    assert seen_by_producer["totals"] == {"seen": 2}
    assert seen_by_producer["items"][0]["organisation"] is None
    assert seen_by_producer["items"][0]["source"] is None

    fp = client.post(f"{url}/sightings", json={"type": "false-positive"},
                     headers=coalition.auth("outsider"))  # fmt: skip
    assert fp.status_code == 201
    score = client.get(f"{url}/score", headers=coalition.auth("reader")).json()
    assert score["base"] == 90 and score["score"] < 90

    rel_kz = client.get(f"{url}/related", headers=coalition.auth("analyst")).json()
    rel_uz = client.get(f"{url}/related", headers=coalition.auth("outsider")).json()
    assert {r["stix_id"] for r in rel_kz} == {b["id"], secret["id"]}
    assert {r["stix_id"] for r in rel_uz} == {b["id"]}  # CSTO's copy stays out of sight
    assert rel_uz[0]["shared"] == [{"type": "domain", "value": "shared.bad.test"}]

    hidden = f"{P}/intel/objects/{secret['id']}"
    assert client.get(f"{hidden}/sightings", headers=coalition.auth("outsider")).status_code == 404
    assert client.get(f"{hidden}/related", headers=coalition.auth("outsider")).status_code == 404
    assert (
        client.post(f"{hidden}/sightings", json={}, headers=coalition.auth("outsider")).status_code
        == 404
    )
    assert (
        client.post(f"{url}/sightings", json={}, headers=coalition.auth("reader")).status_code
        == 403
    )
    bad = client.post(f"{url}/sightings", json={"type": "maybe"}, headers=coalition.auth("analyst"))
    assert bad.status_code == 422


def test_tags_and_attack(client: TestClient, coalition: Any) -> None:
    ind = indicator("tag.bad.test")
    _import(client, coalition.auth("analyst"), ind)
    url = f"{P}/intel/objects/{ind['id']}/tags"
    added = client.post(url, json={"tag": "attack.t1566.001"}, headers=coalition.auth("analyst"))
    assert added.status_code == 200, added.text
    assert "attack.t1566.001" in added.json()["labels"]
    other = client.post(url, json={"tag": "PAP:GREEN"}, headers=coalition.auth("partner"))
    assert other.status_code == 403
    wrong = client.post(url, json={"tag": "PAP:PINK"}, headers=coalition.auth("analyst"))
    assert wrong.status_code == 422 and "PAP:PINK" in wrong.text
    clash = client.post(url, json={"tag": "tlp:red"}, headers=coalition.auth("analyst"))
    assert clash.status_code == 422 and "contradicts" in clash.text

    technique = client.get(f"{P}/attack/T1566", headers=coalition.auth("outsider")).json()
    assert technique["name"] == "Phishing"
    assert ind["id"] in technique["objects"]
    sub = client.get(f"{P}/attack/t1566.001", headers=coalition.auth("outsider")).json()
    assert sub["attack_pattern"] == sub["objects"][0] or sub["attack_pattern"] in sub["objects"]
    assert client.get(f"{P}/attack/T9999", headers=coalition.auth("outsider")).status_code == 404
    tags = client.get(f"{P}/tags", params={"namespace": "PAP"}, headers=coalition.auth("reader"))
    assert "PAP:GREEN" in {t["tag"] for t in tags.json()}
    over = client.get(f"{P}/intel/over-correlating", headers=coalition.auth("reader"))
    assert over.status_code == 200 and orjson.loads(over.content) == []
