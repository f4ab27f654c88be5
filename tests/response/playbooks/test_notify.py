"""Notify actions against real receivers: a signed webhook that fails and recovers, one
that never does, an SMTP server, the broker."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from alert_world import dns
from intel_world import World
from receivers import smtp_server, webhook_receiver
from response.playbooks.conftest import RunnerFactory, detect
from steppe.errors import NotFound
from steppe.response.playbooks.runs import get_run, list_runs, retry_run
from steppe.storage import timestamps
from steppe.workers.broker import InProcessBroker, Message

SECRET = "0123456789abcdef-hook-secret"

HOOK = """\
name: kz-hook
owner: KZ-CERT
trigger: {{type: alert, conditions: {{match_type: domain}}}}
actions:
  - type: webhook
    url: {url}
    secret: PB_TEST_SECRET
    retries: {retries}
    backoff: 30
    message: "{{alert.matched}} at {{alert.organisation}}"
"""


#: The test receivers listen on loopback, which webhooks may reach only when allowed.
LOCAL = {"playbook_webhook_allowed_hosts": ["127.0.0.1"]}


def later(start: str, seconds: float) -> str:
    return timestamps.format_ts(timestamps.parse(start) + timedelta(seconds=seconds))


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PB_TEST_SECRET", SECRET)


def test_a_failing_webhook_is_retried_with_backoff_then_delivered(
    world: World, make_runner: RunnerFactory
) -> None:
    with webhook_receiver(SECRET.encode(), fail_first=2) as hook:
        runner = make_runner(HOOK.format(url=hook.url, retries=5), **LOCAL)
        runner.run_once()  # the playbook starts watching now
        (alert,) = detect(world, "kz", [dns("c2.evil.example", 1)])
        t0 = timestamps.now()
        first = runner.run_once(now=t0)
        assert (first.runs, first.outcomes) == (1, {"retrying": 1})
        assert runner.run_once(now=later(t0, 29)).attempts == 0  # backoff: 30 s
        assert runner.run_once(now=later(t0, 31)).outcomes == {"retrying": 1}
        assert runner.run_once(now=later(t0, 31 + 59)).attempts == 0  # then 60 s
        assert runner.run_once(now=later(t0, 31 + 61)).outcomes == {"ok": 1}
        assert runner.run_once(now=later(t0, 3600)).attempts == 0
    assert len(hook.received) == 3
    assert all(d.signature_ok for d in hook.received)
    assert {d.headers["x-steppe-delivery"] for d in hook.received} == {"1.0"}
    body = hook.received[-1].json()
    assert body["alert"]["id"] == alert and body["alert"]["matched"] == "evil.example"
    assert (body["playbook"], body["trigger"]) == ("kz-hook", "alert")
    assert body["message"] == "evil.example at KZ-CERT"
    with world.engine.connect() as conn:
        run = get_run(conn, world.actors["ana"], 1)
    assert run.status == "ok"
    assert (run.actions[0].attempts, run.actions[0].result) == (3, {"status": 204})


def test_a_webhook_that_always_fails_dies_visibly_and_can_be_retried(
    world: World, make_runner: RunnerFactory
) -> None:
    with webhook_receiver(SECRET.encode(), always_fail=True) as hook:
        runner = make_runner(HOOK.format(url=hook.url, retries=2), **LOCAL)
        runner.run_once()
        detect(world, "kz", [dns("c2.evil.example", 1)])
        t0 = timestamps.now()
        assert runner.run_once(now=t0).outcomes == {"retrying": 1}
        assert runner.run_once(now=later(t0, 31)).outcomes == {"dead": 1}
        with world.engine.connect() as conn:
            dead = list_runs(conn, world.actors["ana"], status="dead")
            assert dead.total == 1
            action = dead.items[0].actions[0]
            assert (action.status, action.attempts) == ("dead", 2)
            assert "answered 503" in (action.last_error or "")
            # The center's staff see the failure, not what the run was about.
            center = get_run(conn, world.actors["root"], dead.items[0].id)
            assert center.status == "dead" and center.item is None
            with pytest.raises(NotFound):
                get_run(conn, world.actors["uzi"], dead.items[0].id)
        assert runner.run_once(now=later(t0, 10_000)).attempts == 0  # dead stays dead
        hook.always_fail = False
        with world.engine.begin() as conn:
            retried = retry_run(conn, world.trail, world.actors["ana"], dead.items[0].id)
        assert retried.status == "pending"
        assert runner.run_once(now=later(t0, 10_001)).outcomes == {"ok": 1}
    assert len(hook.received) == 3


def test_a_refusal_or_a_missing_secret_fails_at_once(
    world: World, make_runner: RunnerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_receiver(SECRET.encode(), always_fail=True, status_on_failure=400) as hook:
        runner = make_runner(HOOK.format(url=hook.url, retries=5), **LOCAL)
        runner.run_once()
        detect(world, "kz", [dns("c2.evil.example", 1)])
        assert runner.run_once().outcomes == {"failed": 1}
        monkeypatch.delenv("PB_TEST_SECRET")
        detect(world, "kz", [dns("c3.evil.example", 2, ip="10.0.0.3")])  # another host
        assert runner.run_once().outcomes == {"failed": 1}
    assert len(hook.received) == 1
    with world.engine.connect() as conn:
        errors = [r.actions[0].last_error for r in list_runs(conn, world.actors["ana"]).items]
    assert errors == [
        "the webhook secret PB_TEST_SECRET is not set in the runner's environment",
        f"{hook.url} answered 400",
    ]


def test_a_webhook_to_an_internal_address_is_refused_unless_allowed(
    world: World, make_runner: RunnerFactory
) -> None:
    with webhook_receiver(SECRET.encode()) as hook:
        runner = make_runner(HOOK.format(url=hook.url, retries=5))  # loopback not allowed
        runner.run_once()
        detect(world, "kz", [dns("c2.evil.example", 1)])
        assert runner.run_once().outcomes == {"failed": 1}  # a setting, not a retry, fixes it
        allowed = make_runner(HOOK.format(url=hook.url, retries=5),
                              playbook_webhook_allowed_hosts=["127.0.0.0/8"])  # fmt: skip
        detect(world, "kz", [dns("c3.evil.example", 2, ip="10.0.0.3")])
        assert allowed.run_once().outcomes == {"ok": 1}
    assert len(hook.received) == 1  # only the allowed run's delivery
    with world.engine.connect() as conn:
        errors = [r.actions[0].last_error for r in list_runs(conn, world.actors["ana"]).items]
    assert (
        "webhook URL host 127.0.0.1 is a loopback address; "
        "allow it with STEPPE_PLAYBOOK_WEBHOOK_ALLOWED_HOSTS"
    ) in errors


MAIL = """\
name: kz-mail
owner: KZ-CERT
trigger: {type: alert}
actions:
  - type: email
    to: [soc@kz-cert.example, duty@kz-cert.example]
    subject: "[{alert.severity}] {alert.matched} seen at {alert.organisation}"
    body: |
      Alert {alert.id} on {alert.field} = {alert.observed}.
      Run {run.id} of {playbook.name}.
"""


def test_email_goes_through_a_real_smtp_server(world: World, make_runner: RunnerFactory) -> None:
    with smtp_server() as (mailbox, port):
        runner = make_runner(MAIL, smtp_host="127.0.0.1", smtp_port=port,
                             smtp_sender="steppe@center.example")  # fmt: skip
        runner.run_once()
        (alert,) = detect(world, "kz", [dns("c2.evil.example", 1)])
        assert runner.run_once().outcomes == {"ok": 1}
    (message,) = mailbox.messages
    assert mailbox.envelopes == [
        ("steppe@center.example", ["soc@kz-cert.example", "duty@kz-cert.example"])
    ]
    assert message["Subject"] == "[high] evil.example seen at KZ-CERT"
    text = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"Alert {alert} on dns.question.name = c2.evil.example." in text
    assert "Run 1 of kz-mail." in text


def test_email_without_an_smtp_server_configured_fails_and_says_why(
    world: World, make_runner: RunnerFactory
) -> None:
    runner = make_runner(MAIL)
    runner.run_once()
    detect(world, "kz", [dns("c2.evil.example", 1)])
    assert runner.run_once().outcomes == {"failed": 1}
    with world.engine.connect() as conn:
        (run,) = list_runs(conn, world.actors["ana"]).items
    assert (
        run.actions[0].last_error == "STEPPE_SMTP_HOST is not set: no SMTP server to send through"
    )


def test_publish_puts_the_item_on_a_broker_subject(
    world: World, make_runner: RunnerFactory
) -> None:
    broker = InProcessBroker()
    seen: list[Message] = []
    broker.subscribe("response.*", seen.append)
    playbook = (
        "name: kz-bus\nowner: KZ-CERT\ntrigger: {type: alert}\n"
        "actions:\n  - {type: publish, subject: 'response.{alert.org_id}'}\n"
    )
    try:
        runner = make_runner(playbook, broker=broker)
        runner.run_once()
        (alert,) = detect(world, "kz", [dns("c2.evil.example", 1)])
        assert runner.run_once().outcomes == {"ok": 1}
        broker.drain()
    finally:
        broker.close()
    (message,) = seen
    assert message.subject == f"response.{world.orgs['kz'].id}"
    assert orjson.loads(message.data)["alert"]["id"] == alert
