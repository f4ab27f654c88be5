"""GET /api/v1/alerts: streaming detection on submitted telemetry, read through the policy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.conftest import KEY, AppFactory, Coalition
from helpers import bundle, indicator
from steppe.api.app import API_PREFIX
from steppe.audit.trail import AuditTrail
from steppe.intel.importer import Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.sharing import directory
from steppe.sharing.model import Distribution, TlpLevel
from steppe.workers.broker import InProcessBroker

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _import(engine: Engine, value: str, distribution: Distribution, **extra: Any) -> str:
    now = _now()
    obj = indicator(value, created=now, modified=now, valid_from=now, confidence=90, **extra)
    data = bundle(obj)
    with engine.begin() as conn:
        kz = directory.find_organisation(conn, "KZ-CERT")
        groups = (
            (directory.find_group(conn, "CSTO"),) if distribution is Distribution.GROUPS else ()
        )
        import_objects(conn, AuditTrail(KEY, "test"), data, read_bundle(data, "t.json"), owner=kz,
                       marking=Marking(distribution, TlpLevel.AMBER, groups), source="t.json")  # fmt: skip
    return str(obj["id"])


def _dns(name: str, i: int) -> bytes:
    # i in the source address: events of one second must not share a fingerprint
    return orjson.dumps({"@timestamp": _now(), "source.ip": f"10.0.0.{i}",
                         "dns.question.name": name})  # fmt: skip


def _alerts(client: TestClient, coalition: Coalition, caller: str, **query: str) -> Any:
    response = client.get(f"{API_PREFIX}/alerts", params=query, headers=coalition.auth(caller))
    assert response.status_code == 200, response.text
    return response.json()


def test_streaming_detection_alerts_only_the_audience(
    make_app: AppFactory, coalition: Coalition, engine: Engine
) -> None:
    csto = _import(engine, "csto-only.example", Distribution.GROUPS)
    with TestClient(make_app(detection_streaming=True, detection_retro_days=0)) as client:
        for caller in ("sensor", "partner", "outsider"):  # KZ, KG (in CSTO), UZ (not)
            body = _dns("www.csto-only.example", 1) + b"\n" + _dns("benign.example", 2)
            response = client.post(f"{API_PREFIX}/telemetry?format=jsonl", content=body,
                                   headers=coalition.auth(caller))  # fmt: skip
            assert response.status_code == 202, response.text
        broker = client.app.state.services.telemetry.broker  # type: ignore[attr-defined]
        assert isinstance(broker, InProcessBroker)
        broker.drain()
        kz = _alerts(client, coalition, "analyst")
        kg = _alerts(client, coalition, "partner")
        uz = _alerts(client, coalition, "outsider")
        center = _alerts(client, coalition, "admin")
        assert [(a["organisation"], a["indicator"]) for a in kz["items"]] == [("KZ-CERT", csto)]
        assert [(a["organisation"], a["matched"]) for a in kg["items"]] == [
            ("KG-CERT", "csto-only.example")
        ]
        assert uz == {"items": [], "total": 0}
        # The center's staff see every member's alert, not the CSTO indicator behind it.
        assert sorted(a["organisation"] for a in center["items"]) == ["KG-CERT", "KZ-CERT"]
        assert {a["indicator"] for a in center["items"]} == {None}
        one = kg["items"][0]["id"]
        shown = client.get(f"{API_PREFIX}/alerts/{one}", headers=coalition.auth("partner"))
        assert shown.json()["event"]["dns.question.name"] == "www.csto-only.example"
        hidden = client.get(f"{API_PREFIX}/alerts/{one}", headers=coalition.auth("analyst"))
        assert hidden.status_code == 404
        sensor = client.get(f"{API_PREFIX}/alerts", headers=coalition.auth("sensor"))
        assert sensor.status_code == 403


def test_new_and_revoked_intel_reach_the_stream_without_a_restart(
    make_app: AppFactory, coalition: Coalition, engine: Engine
) -> None:
    app = make_app(detection_streaming=True, detection_retro_days=0)
    with TestClient(app) as client:
        detector = app.state.ioc_detector
        stix_id = _import(engine, "late.example", Distribution.COMMUNITY)
        assert detector.refresh_changes() == [stix_id]
        post = {"content": _dns("late.example", 1), "headers": coalition.auth("sensor")}
        client.post(f"{API_PREFIX}/telemetry?format=jsonl", **post)
        app.state.services.telemetry.broker.drain()
        assert _alerts(client, coalition, "analyst")["total"] == 1
        revoked = indicator("late.example", id=stix_id, modified="2099-01-01T00:00:00.000Z",
                            revoked=True, valid_from=_now())  # fmt: skip
        data = bundle(revoked)
        with engine.begin() as conn:
            kz = directory.find_organisation(conn, "KZ-CERT")
            import_objects(conn, AuditTrail(KEY, "test"), data, read_bundle(data, "r.json"),
                           owner=kz, marking=Marking(Distribution.COMMUNITY, TlpLevel.AMBER),
                           source="r.json")  # fmt: skip
        detector.refresh_changes()
        post["content"] = _dns("late.example", 2)
        client.post(f"{API_PREFIX}/telemetry?format=jsonl", **post)
        app.state.services.telemetry.broker.drain()
        assert _alerts(client, coalition, "analyst")["total"] == 1


def test_an_indicator_deleted_over_taxii_stops_matching_without_a_restart(
    make_app: AppFactory, coalition: Coalition, engine: Engine
) -> None:
    app = make_app(detection_streaming=True, detection_retro_days=0)
    with TestClient(app) as client:
        detector = app.state.ioc_detector
        stix_id = _import(engine, "deleted.example", Distribution.COMMUNITY)
        assert detector.refresh_changes() == [stix_id]
        post = {"content": _dns("deleted.example", 1), "headers": coalition.auth("sensor")}
        client.post(f"{API_PREFIX}/telemetry?format=jsonl", **post)
        app.state.services.telemetry.broker.drain()
        assert _alerts(client, coalition, "analyst")["total"] == 1

        taxii = {**coalition.auth("analyst"), "Accept": "application/taxii+json;version=2.1"}
        listing = client.get("/taxii2/steppe/collections/", headers=taxii).json()
        community = next(c["id"] for c in listing["collections"] if c["alias"] == "community")
        gone = client.delete(
            f"/taxii2/steppe/collections/{community}/objects/{stix_id}/", headers=taxii
        )
        assert gone.status_code == 200, gone.text
        assert detector.refresh_changes() == [stix_id]  # noticed, though no row is left
        assert detector.refresh_changes() == []  # and read once
        post["content"] = _dns("deleted.example", 2)
        client.post(f"{API_PREFIX}/telemetry?format=jsonl", **post)
        app.state.services.telemetry.broker.drain()
        assert _alerts(client, coalition, "analyst")["total"] == 1  # no new alert
