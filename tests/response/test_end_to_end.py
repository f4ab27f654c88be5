"""End to end: members' telemetry → streaming detection → alerts → a playbook of the
center notifies a signed webhook and an SMTP server (real, local), and each member's
view is checked against the policy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.conftest import KEY, AppFactory, Coalition, coalition, make_app  # noqa: F401 (fixtures)
from helpers import bundle, indicator
from receivers import smtp_server, webhook_receiver
from steppe.api.app import API_PREFIX
from steppe.audit.trail import AuditTrail
from steppe.intel.importer import Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.response.playbooks import PlaybookLibrary, PlaybookRunner
from steppe.settings import Settings
from steppe.sharing import directory
from steppe.sharing.model import Distribution, TlpLevel
from steppe.sharing.policy import can_read_telemetry
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
  - type: webhook
    url: {url}
    secret: E2E_HOOK_SECRET
    retries: 3
    backoff: 1
    message: "{{alert.observed}} at {{alert.organisation}}"
  - type: email
    to: duty@center.example
    subject: "[{{alert.severity}}] {{alert.observed}} at {{alert.organisation}}"
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


def test_telemetry_to_alert_to_playbook_notifications(
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
    settings = Settings(data_dir=tmp_path, secret_key=KEY, smtp_host="127.0.0.1", smtp_port=port)
    app = make_app(detection_streaming=True, detection_retro_days=0, playbooks_enabled=False)
    with TestClient(app) as client:
        broker = client.app.state.services.telemetry.broker  # type: ignore[attr-defined]
        assert isinstance(broker, InProcessBroker)
        runner = PlaybookRunner(engine, KEY, PlaybookLibrary(folder), settings,
                                broker=broker, settle_seconds=0)  # fmt: skip
        runner.run_once()  # the playbook starts watching
        _telemetry(client, coalition, "sensor", "www.c2-e2e.example")  # KZ-CERT's sensor
        _telemetry(client, coalition, "partner", "mail.c2-e2e.example")  # KG-CERT
        _telemetry(client, coalition, "outsider", "cdn.c2-e2e.example")  # UZ-CERT
        broker.drain()
        first = runner.run_once()
        # The hook fails its first delivery: retried after its backoff (1 s), then ok.
        assert (first.runs, first.outcomes) == (2, {"retrying": 1, "ok": 3})
        soon = timestamps.format_ts(datetime.now(UTC) + timedelta(seconds=5))
        assert runner.run_once(now=soon).outcomes == {"ok": 1}
        alerts = {
            caller: client.get(f"{API_PREFIX}/alerts", headers=coalition.auth(caller)).json()
            for caller in ("analyst", "partner", "outsider", "admin")
        }
    assert [a["observed"] for a in alerts["analyst"]["items"]] == ["www.c2-e2e.example"]
    assert [a["observed"] for a in alerts["partner"]["items"]] == ["mail.c2-e2e.example"]
    assert len(alerts["admin"]["items"]) == 3
    delivered = [d for d in hook.received if d.headers["x-steppe-delivery"]]
    assert len(delivered) == 3 and all(d.signature_ok for d in delivered)
    messages = sorted({orjson.loads(d.body)["message"] for d in delivered})
    assert messages == ["mail.c2-e2e.example at KG-CERT", "www.c2-e2e.example at KZ-CERT"]
    subjects = sorted(m["Subject"] for m in mail.messages)
    assert subjects == ["[high] mail.c2-e2e.example at KG-CERT",
                        "[high] www.c2-e2e.example at KZ-CERT"]  # fmt: skip
    with engine.connect() as conn:
        kz = directory.load_actor(conn, "ana")
        kg = directory.load_actor(conn, "bek")
    assert can_read_telemetry(kz, kz.org_id) and not can_read_telemetry(kg, kz.org_id)
