"""/playbooks and /playbook-runs: visible to the playbook's organisation and the center's
staff only; validation answers every problem with its line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.conftest import KEY, AppFactory, Coalition
from helpers import bundle, indicator
from receivers import webhook_receiver
from steppe.api.app import API_PREFIX
from steppe.audit.trail import AuditTrail
from steppe.intel.importer import Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.response.playbooks import PlaybookLibrary, PlaybookRunner
from steppe.settings import Settings
from steppe.sharing import directory
from steppe.sharing.model import Distribution, TlpLevel
from steppe.storage import timestamps
from steppe.storage.engine import writing

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

KZ = """\
name: kz-intel-hook
owner: KZ-CERT
description: New KZ intel goes to KZ's ticketing.
trigger: {type: intel, conditions: {type: indicator}}
actions:
  - {type: webhook, url: "URL", secret: PB_API_SECRET, retries: 1}
"""
CENTER = """\
name: center-alerts
owner: Center
trigger: {type: alert, conditions: {severity: high}}
actions:
  - {type: email, to: duty@center.example}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    found = tmp_path / "playbooks"
    found.mkdir()
    (found / "kz.yml").write_text(KZ.replace("URL", "https://hooks.example/kz"))
    (found / "center.yaml").write_text(CENTER)
    return found


def _get(client: TestClient, coalition: Coalition, caller: str, path: str) -> tuple[int, object]:
    response = client.get(f"{API_PREFIX}{path}", headers=coalition.auth(caller))
    return response.status_code, response.json()


def test_playbooks_are_listed_only_to_their_organisation_and_the_center(
    make_app: AppFactory, coalition: Coalition, folder: Path
) -> None:
    with TestClient(make_app(playbook_dir=folder, playbooks_enabled=False)) as client:
        names = {
            caller: [p["name"] for p in _get(client, coalition, caller, "/playbooks")[1]]  # type: ignore[union-attr]
            for caller in ("admin", "analyst", "reader", "partner", "outsider")
        }
        assert names == {
            "admin": ["center-alerts", "kz-intel-hook"],
            "analyst": ["kz-intel-hook"],
            "reader": ["kz-intel-hook"],
            "partner": [],
            "outsider": [],
        }
        status, body = _get(client, coalition, "analyst", "/playbooks/kz-intel-hook")
        assert status == 200
        assert "https://hooks.example/kz" in body["yaml"] and body["trigger"] == "intel"  # type: ignore[index]
        assert body["actions"] == [{"type": "webhook", "retries": 1, "backoff": 30.0}]  # type: ignore[index]
        assert _get(client, coalition, "partner", "/playbooks/kz-intel-hook")[0] == 404
        assert _get(client, coalition, "analyst", "/playbooks/center-alerts")[0] == 404
        assert _get(client, coalition, "sensor", "/playbooks")[0] == 403


def test_validation_answers_every_problem_with_its_line(
    make_app: AppFactory, coalition: Coalition
) -> None:
    with TestClient(make_app()) as client:

        def validate(text: str) -> tuple[int, dict[str, object]]:
            response = client.post(
                f"{API_PREFIX}/playbooks/validate", content=text.encode(),
                headers={**coalition.auth("analyst"), "content-type": "application/yaml"},
            )  # fmt: skip
            return response.status_code, response.json()

        status, body = validate(KZ.replace("URL", "https://hooks.example/x"))
        assert status == 200 and body["valid"] is True
        broken = KZ.replace("type: indicator", "typ: indicator").replace("retries: 1", "retries: 0")
        status, body = validate(broken)
        assert status == 422
        assert body["errors"] == [
            {"message": "unknown key; expected one of: confidence, labels, name, "
             "observable_type, organisation, score, tlp, type",
             "field": "trigger.conditions.typ", "line": 4, "source": "request body"},
            {"message": "must be at least 1, got 0", "field": "actions[0].retries",
             "line": 6, "source": "request body"},
        ]  # fmt: skip
        status, body = validate(CENTER.replace("owner: Center", "owner: Nowhere-CERT"))
        assert status == 422
        assert body["errors"][0]["line"] == 2  # type: ignore[index]
        assert body["errors"][0]["field"] == "owner"  # type: ignore[index]
        status, body = validate("\xff")
        assert status == 422


def _import_kz_indicator(engine: Engine) -> None:
    now = timestamps.now()
    data = bundle(indicator("kz-new.example", created=now, modified=now, valid_from=now))
    with writing(engine) as conn:  # BEGIN IMMEDIATE: the server's runner writes meanwhile
        import_objects(conn, AuditTrail(KEY, "test"), data, read_bundle(data, "t.json"),
                       owner=directory.find_organisation(conn, "KZ-CERT"),
                       marking=Marking(Distribution.COMMUNITY, TlpLevel.GREEN), source="t.json")  # fmt: skip


def test_runs_their_failures_and_a_retry_through_the_api(
    make_app: AppFactory,
    coalition: Coalition,
    engine: Engine,
    folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PB_API_SECRET", "api-secret-0123456789")
    with webhook_receiver(b"api-secret-0123456789", always_fail=True) as hook:
        (folder / "kz.yml").write_text(KZ.replace("URL", hook.url))
        runner = PlaybookRunner(engine, KEY, PlaybookLibrary(folder),
                                Settings(data_dir=tmp_path, secret_key=KEY,
                                         playbook_webhook_allowed_hosts=["127.0.0.1"]),
                                settle_seconds=0)  # fmt: skip
        runner.run_once()
        _import_kz_indicator(engine)
        assert runner.run_once().outcomes == {"dead": 1}  # one attempt allowed
        with TestClient(make_app(playbook_dir=folder, playbooks_enabled=False)) as client:
            status, page = _get(client, coalition, "analyst", "/playbook-runs?status=dead")
            assert status == 200 and page["total"] == 1  # type: ignore[index]
            run = page["items"][0]  # type: ignore[index]
            assert run["item"]["intel"]["observables"] == [
                {"type": "domain", "value": "kz-new.example"}
            ]
            assert "answered 503" in run["actions"][0]["last_error"]
            assert _get(client, coalition, "outsider", f"/playbook-runs/{run['id']}")[0] == 404
            status, seen = _get(client, coalition, "admin", f"/playbook-runs/{run['id']}")
            assert status == 200 and seen["item"] is None  # type: ignore[index]
            retry = f"{API_PREFIX}/playbook-runs/{run['id']}/retry"
            assert client.post(retry, headers=coalition.auth("reader")).status_code == 403
            assert client.post(retry, headers=coalition.auth("outsider")).status_code == 404
            answer = client.post(retry, headers=coalition.auth("analyst"))
            assert answer.status_code == 200 and answer.json()["status"] == "pending"
            assert client.post(retry, headers=coalition.auth("analyst")).status_code == 409
            hook.always_fail = False
            assert runner.run_once().outcomes == {"ok": 1}
            status, seen = _get(client, coalition, "analyst", f"/playbook-runs/{run['id']}")
            assert seen["status"] == "ok"  # type: ignore[index]
            assert seen["actions"][0]["attempts"] == 2  # type: ignore[index]
    assert [d.signature_ok for d in hook.received] == [True, True]


def test_the_server_runs_the_folder_s_playbooks_in_the_background(
    make_app: AppFactory,
    coalition: Coalition,
    engine: Engine,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PB_API_SECRET", "api-secret-0123456789")
    with webhook_receiver(b"api-secret-0123456789") as hook:
        (folder / "kz.yml").write_text(KZ.replace("URL", hook.url))
        app = make_app(playbook_dir=folder, playbook_poll_seconds=0.05,
                       playbook_settle_seconds=0,
                       playbook_webhook_allowed_hosts=["127.0.0.1"])  # fmt: skip
        with TestClient(app) as client:
            assert client.app.state.playbook_runner is not None  # type: ignore[attr-defined]
            deadline = time.monotonic() + 20
            while not _get(client, coalition, "analyst", "/playbook-runs")[1]["total"]:  # type: ignore[index]
                _import_kz_indicator(engine)  # after the runner's first poll, it fires
                assert time.monotonic() < deadline, "the background runner made no run"
                time.sleep(0.2)
            while not hook.received:
                assert time.monotonic() < deadline, "the background runner sent nothing"
                time.sleep(0.05)
    assert hook.received[0].signature_ok
    assert hook.received[0].json()["intel"]["owner"] == "KZ-CERT"
