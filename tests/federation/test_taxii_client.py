"""The unmodified taxii2-client (PyPI) drives a live Steppe over HTTP.

discovery → API root → collections → add 1,000 objects → paged get → manifest →
versions → delete, with stix2-validator checking every object served.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Server, as_pages

from federation.conftest import Coalition
from helpers import indicator

pytestmark = pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

LATER = "2026-02-01T00:00:00.000Z"


def _objects(count: int) -> list[dict[str, Any]]:
    return [indicator(f"host{i}.conformance.example") for i in range(count)]


def test_taxii2_client_round_trip(live_server: str, coalition: Coalition) -> None:
    server = Server(f"{live_server}/taxii2/", user="ana", password=coalition.tokens["ana"])
    assert server.title == "Steppe TAXII"
    root = server.default
    assert root is not None and root.url.endswith("/taxii2/steppe/")
    assert root.versions == ["application/taxii+json;version=2.1"]
    assert root.max_content_length > 0
    by_alias = {c.alias: c for c in root.collections}
    assert set(by_alias) == {"organisation", "group-csto", "community", "federation"}
    community = by_alias["community"]
    assert community.can_read and community.can_write

    sent = _objects(1000)
    for start in range(0, 1000, 500):
        status = community.add_objects({"objects": sent[start : start + 500]})
        assert status.status == "complete"
        assert (status.total_count, status.success_count, status.failure_count) == (500, 500, 0)
        again = root.get_status(status.id)  # the status resource, read back
        assert again.success_count == 500

    served: list[dict[str, Any]] = []
    pages = 0
    for envelope in as_pages(community.get_objects, per_request=128):
        served.extend(envelope.get("objects", []))
        pages += 1
    assert pages == 8
    assert sorted(o["id"] for o in served) == sorted(o["id"] for o in sent)
    options = ValidationOptions(version="2.1")
    for obj in served:
        result = validate_instance(obj, options)
        assert result.is_valid, (obj, [str(e) for e in result.errors])
        assert obj["object_marking_refs"], obj  # the stored TLP travels with it

    manifest: list[dict[str, Any]] = []
    for envelope in as_pages(community.get_manifest, per_request=400):
        manifest.extend(envelope.get("objects", []))
    assert [m["id"] for m in manifest] == [o["id"] for o in served]  # date_added order
    assert all(m["media_type"] == "application/stix+json;version=2.1" for m in manifest)
    assert all(len(m["date_added"]) == len("2026-01-01T00:00:00.000000Z") for m in manifest)

    target = sent[7]
    newer = {**target, "modified": LATER, "name": "renamed"}
    status = community.add_objects({"objects": [newer]})
    assert status.success_count == 1
    versions = community.object_versions(target["id"])
    assert versions["versions"] == [
        "2026-01-01T00:00:00.000000Z",
        "2026-02-01T00:00:00.000000Z",
    ]
    current = community.get_object(target["id"])
    assert [o["name"] for o in current["objects"]] == ["renamed"]
    first = community.get_object(target["id"], version="first")
    assert [o["name"] for o in first["objects"]] == [target["name"]]

    community.delete_object(target["id"])
    with pytest.raises(requests.HTTPError) as missing:
        community.get_object(target["id"])
    assert missing.value.response.status_code == 404
    assert missing.value.response.headers["content-type"] == "application/taxii+json;version=2.1"


def test_a_bad_object_fails_alone(live_server: str, coalition: Coalition) -> None:
    server = Server(f"{live_server}/taxii2/", user="ana", password=coalition.tokens["ana"])
    federation = next(c for c in server.default.collections if c.alias == "federation")
    good = _objects(5)
    bad_pattern = indicator("x", pattern="[not a pattern")
    amber = indicator(
        "amber.example",
        object_marking_refs=["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"],
    )
    envelope = {"objects": [good[0], bad_pattern, good[1], good[2], amber, good[3], good[4]]}
    status = federation.add_objects(envelope)
    assert (status.total_count, status.success_count, status.failure_count) == (7, 5, 2)
    assert {f["id"] for f in status.failures} == {bad_pattern["id"], amber["id"]}
    assert "pattern" in next(f for f in status.failures if f["id"] == bad_pattern["id"])["message"]
    served = federation.get_objects()["objects"]
    assert {o["id"] for o in served} == {o["id"] for o in good}


def test_basic_auth_needs_the_token_of_that_user(live_server: str, coalition: Coalition) -> None:
    wrong = Server(f"{live_server}/taxii2/", user="bek", password=coalition.tokens["ana"])
    with pytest.raises(requests.HTTPError) as refused:
        wrong.refresh()
    assert refused.value.response.status_code == 401
    unknown = str(uuid.uuid4())
    assert unknown  # a token nobody holds
    nobody = Server(f"{live_server}/taxii2/", user="ana", password=unknown)
    with pytest.raises(requests.HTTPError):
        nobody.refresh()
