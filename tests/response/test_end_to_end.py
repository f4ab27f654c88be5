"""End to end: members' telemetry → streaming detection → alerts → a playbook of the
center opens one incident with the two members as participants and notifies a signed
webhook and an SMTP server (real, local); each member's view of the incident and its
evidence, read through the API, is checked against the policy functions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.conftest import (  # noqa: F401 (coalition and make_app are fixtures)
    CALLERS,
    KEY,
    AppFactory,
    Coalition,
    coalition,
    make_app,
)
from helpers import bundle, indicator
from receivers import smtp_server, webhook_receiver
from steppe.api.app import API_PREFIX
from steppe.audit.trail import AuditTrail
from steppe.intel.importer import Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.response.playbooks import PlaybookLibrary, PlaybookRunner
from steppe.settings import Settings
from steppe.sharing import directory
from steppe.sharing.model import Distribution, IncidentRights, TlpLevel
from steppe.sharing.policy import can_read_telemetry, can_see_incident
from steppe.storage import timestamps
from steppe.workers.broker import InProcessBroker

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

SECRET = "e2e-hook-secret-0123456789"
PLAYBOOK = """\
name: shared-c2
owner: Center
description: High C2 hits at KZ-CERT or KG-CERT notify the duty desk.
trigger:
  type: alert
  conditions:
    severity: high
    organisation: [KZ-CERT, KG-CERT]
actions:
  - type: extend-incident
    title: "C2 {{alert.matched}} at KZ-CERT and KG-CERT"
    participants: [KZ-CERT, KG-CERT]
    coordinated: true
    window: 1d
  - type: webhook
    url: {url}
    secret: E2E_HOOK_SECRET
    retries: 3
    backoff: 1
    message: "{{alert.observed}} at {{alert.organisation}}: {{incident_id}}"
  - type: email
    to: duty@center.example
    subject: "[{{alert.severity}}] {{alert.observed}} at {{alert.organisation}}"
    body: "Incident {{incident_id}}, run {{run.id}} of {{playbook.name}}."
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture
def c2_indicator(engine: Engine, coalition: Coalition) -> str:  # noqa: F811
    now = _now()
    obj = indicator("c2-e2e.example", created=now, modified=now, valid_from=now, confidence=90)
    data = bundle(obj)
    with engine.begin() as conn:
        import_objects(conn, AuditTrail(KEY, "test"), data, read_bundle(data, "t.json"),
                       owner=directory.find_organisation(conn, "KZ-CERT"),
                       marking=Marking(Distribution.COMMUNITY, TlpLevel.AMBER), source="t.json")  # fmt: skip
    return str(obj["id"])


@pytest.fixture
def receivers() -> Iterator[tuple[Any, Any, int]]:
    with webhook_receiver(SECRET.encode(), fail_first=1) as hook, smtp_server() as (mail, port):
        yield hook, mail, port


def _telemetry(client: TestClient, coalition: Coalition, caller: str, host: str) -> None:  # noqa: F811
    events = [
        {"@timestamp": _now(), "source.ip": "10.1.1.1", "dns.question.name": host},
        {"@timestamp": _now(), "source.ip": "10.1.1.2", "dns.question.name": "benign.example"},
    ]
    body = b"\n".join(orjson.dumps(e) for e in events)
    response = client.post(f"{API_PREFIX}/telemetry?format=jsonl", content=body,
                           headers=coalition.auth(caller))  # fmt: skip
    assert response.status_code == 202, response.text


def test_telemetry_to_alert_to_a_shared_incident_and_notifications(
    make_app: AppFactory,  # noqa: F811
    coalition: Coalition,  # noqa: F811
    engine: Engine,
    c2_indicator: str,
    receivers: tuple[Any, Any, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook, mail, port = receivers
    monkeypatch.setenv("E2E_HOOK_SECRET", SECRET)
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "shared-c2.yml").write_text(PLAYBOOK.format(url=hook.url))
    settings = Settings(data_dir=tmp_path, secret_key=KEY, smtp_host="127.0.0.1", smtp_port=port,
                        playbook_webhook_allowed_hosts=["127.0.0.1"])  # fmt: skip
    app = make_app(detection_streaming=True, detection_retro_days=0, playbooks_enabled=False)
    callers = ("analyst", "partner", "outsider", "admin")  # KZ, KG, UZ, the center
    with TestClient(app) as client:
        broker = client.app.state.services.telemetry.broker  # type: ignore[attr-defined]
        assert isinstance(broker, InProcessBroker)
        runner = PlaybookRunner(engine, KEY, PlaybookLibrary(folder), settings,
                                broker=broker, settle_seconds=0)  # fmt: skip
        runner.run_once()  # the playbook starts watching
        _telemetry(client, coalition, "sensor", "www.c2-e2e.example")  # KZ-CERT's sensor
        _telemetry(client, coalition, "partner", "mail.c2-e2e.example")  # KG-CERT
        _telemetry(client, coalition, "outsider", "cdn.c2-e2e.example")  # UZ-CERT: not in it
        broker.drain()
        first = runner.run_once()
        # Two runs (KZ's and KG's alerts); the hook fails its first delivery: retried
        # after its backoff (1 s), then ok.
        assert (first.runs, first.outcomes) == (2, {"retrying": 1, "ok": 5})
        soon = timestamps.format_ts(datetime.now(UTC) + timedelta(seconds=5))
        assert runner.run_once(now=soon).outcomes == {"ok": 1}

        def get(caller: str, path: str) -> Any:
            response = client.get(f"{API_PREFIX}{path}", headers=coalition.auth(caller))
            return response.status_code, response.json()

        alerts = {caller: get(caller, "/alerts")[1]["items"] for caller in callers}
        (incident_id,) = {i["id"] for i in get("admin", "/incidents")[1]["items"]}
        views = {caller: get(caller, f"/incidents/{incident_id}") for caller in callers}
        evidence = {caller: get(caller, f"/incidents/{incident_id}/evidence") for caller in callers}

    # The alerts: each member its own; the center every member's.
    assert [a["observed"] for a in alerts["analyst"]] == ["www.c2-e2e.example"]
    assert [a["observed"] for a in alerts["partner"]] == ["mail.c2-e2e.example"]
    assert len(alerts["admin"]) == 3
    org_of = {a["id"]: a["org_id"] for a in alerts["admin"]}
    # One incident of the center, with the two members, holding both alerts.
    status, incident = views["admin"]
    assert status == 200
    assert (incident["owner"], incident["coordinated"]) == ("Center", True)
    assert sorted(incident["participants"]) == ["KG-CERT", "KZ-CERT"]
    assert incident["title"] == "C2 c2-e2e.example at KZ-CERT and KG-CERT"
    with engine.connect() as conn:
        actors = {c: directory.load_actor(conn, CALLERS[c][0]) for c in callers}
        orgs = {o.name: o.id for o in directory.list_organisations(conn)}
    rights = IncidentRights(orgs["Center"], frozenset({orgs["KZ-CERT"], orgs["KG-CERT"]}))
    attached = {e["alert_id"] for e in evidence["admin"][1]}
    assert attached == {a["id"] for a in alerts["admin"] if a["org_id"] != orgs["UZ-CERT"]}
    for caller, actor in actors.items():
        # Each participant's view of the incident and its evidence is what the policy says.
        visible = bool(can_see_incident(actor, rights))
        assert (views[caller][0] == 200) == visible, caller
        assert (evidence[caller][0] == 200) == visible, caller
        if visible:
            seen = {e["alert_id"] for e in evidence[caller][1]}
            expected = {a for a in attached if can_read_telemetry(actor, org_of[a])}
            assert seen == expected, caller
    assert {e["alert_id"] for e in evidence["analyst"][1]} == {alerts["analyst"][0]["id"]}
    assert {e["alert_id"] for e in evidence["partner"][1]} == {alerts["partner"][0]["id"]}
    assert views["outsider"][0] == 404
    # The notifications: signed, retried once, naming the incident.
    assert len(hook.received) == 3 and all(d.signature_ok for d in hook.received)
    messages = sorted({orjson.loads(d.body)["message"] for d in hook.received})
    assert messages == [f"mail.c2-e2e.example at KG-CERT: {incident_id}",
                        f"www.c2-e2e.example at KZ-CERT: {incident_id}"]  # fmt: skip
    assert {orjson.loads(d.body)["incident_id"] for d in hook.received} == {incident_id}
    subjects = sorted(m["Subject"] for m in mail.messages)
    assert subjects == ["[high] mail.c2-e2e.example at KG-CERT",
                        "[high] www.c2-e2e.example at KZ-CERT"]  # fmt: skip
    assert all(f"Incident {incident_id}, run" in m.get_payload() for m in mail.messages)
