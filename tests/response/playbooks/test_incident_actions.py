"""Incident actions and the incident-status trigger, under the policy."""

from __future__ import annotations

import orjson
from sqlalchemy import update

from alert_world import dns
from intel_world import World
from response.playbooks.conftest import RunnerFactory, detect
from steppe.response.incidents import set_status
from steppe.response.incidents.evidence import list_evidence
from steppe.response.incidents.queries import get_incident
from steppe.response.playbooks.runs import list_runs
from steppe.storage.schema import playbook_incidents
from steppe.workers.broker import InProcessBroker, Message

SHARED = """\
name: shared
owner: Center
trigger: {type: alert, conditions: {organisation: [KZ-CERT, KG-CERT]}}
actions:
  - type: extend-incident
    title: "C2 {alert.observed}"
    participants: [KZ-CERT, KG-CERT]
    coordinated: true
    group_by: "{alert.observed}"
    window: 1h
"""


def _incidents(world: World, user: str) -> list[str]:
    with world.engine.connect() as conn:
        runs = list_runs(conn, world.actors[user]).items
    return [str(r.actions[0].result["incident_id"]) for r in reversed(runs)]  # type: ignore[index]


def test_extend_incident_groups_alerts_and_each_member_sees_its_own_evidence(
    world: World, make_runner: RunnerFactory
) -> None:
    runner = make_runner(SHARED)
    runner.run_once()
    (kz_alert,) = detect(world, "kz", [dns("c2.evil.example", 1)])
    (kg_alert,) = detect(world, "kg", [dns("c2.evil.example", 2)])
    detect(world, "kz", [dns("other.evil.example", 3, ip="10.0.0.9")])
    assert runner.run_once().outcomes == {"ok": 3}
    first, second, third = _incidents(world, "root")
    assert first == second != third  # grouped by the value seen
    with world.engine.connect() as conn:
        incident = get_incident(conn, world.actors["ana"], first)
        assert incident.title == "C2 c2.evil.example"
        kz_sees = {e.alert_id for e in list_evidence(conn, world.actors["ana"], first)}
        kg_sees = {e.alert_id for e in list_evidence(conn, world.actors["bek"], first)}
        center_sees = {e.alert_id for e in list_evidence(conn, world.actors["root"], first)}
    assert kz_sees == {kz_alert} and kg_sees == {kg_alert}
    assert center_sees == {kz_alert, kg_alert}
    # Past the window, or once the incident is closed, the group gets a new incident.
    with world.engine.begin() as conn:
        conn.execute(update(playbook_incidents).values(last_added_at="2000-01-01T00:00:00.000000Z"))
    detect(world, "kz", [dns("c2.evil.example", 4, ip="10.0.0.4")])
    assert runner.run_once().outcomes == {"ok": 1}
    assert _incidents(world, "root")[-1] not in (first, third)


def test_open_incident_always_opens_a_new_one(world: World, make_runner: RunnerFactory) -> None:
    playbook = """\
name: kz-open
owner: KZ-CERT
trigger: {type: alert}
actions:
  - {type: open-incident, severity: high, participants: [KG-CERT]}
  - {type: publish, subject: "incidents.opened", message: "{incident_id}"}
"""
    broker = InProcessBroker()
    seen: list[Message] = []
    broker.subscribe("incidents.opened", seen.append)
    runner = make_runner(playbook, broker=broker)
    runner.run_once()
    detect(world, "kz", [dns("c2.evil.example", 1), dns("c3.evil.example", 2, ip="10.0.0.2")])
    assert runner.run_once().outcomes == {"ok": 4}
    broker.drain()
    broker.close()
    incidents = _incidents(world, "ana")
    assert len(set(incidents)) == 2
    with world.engine.connect() as conn:
        assert get_incident(conn, world.actors["bek"], incidents[0]).severity == "high"
    # The publish after it names the incident the run opened.
    assert sorted(orjson.loads(m.data)["message"] for m in seen) == sorted(incidents)


def test_the_incident_status_trigger_fires_for_participants_only(
    world: World, make_runner: RunnerFactory
) -> None:
    broker = InProcessBroker()
    seen: list[Message] = []
    broker.subscribe("incidents.*", seen.append)
    watch = "name: {n}\nowner: {o}\ntrigger: {{type: incident-status, conditions: {{status: closed}}}}\nactions:\n  - {{type: publish, subject: 'incidents.{n}'}}\n"
    opener = make_runner(SHARED)
    watchers = make_runner(watch.format(n="kg", o="KG-CERT"), watch.format(n="uz", o="UZ-CERT"),
                           broker=broker)  # fmt: skip
    opener.run_once()
    watchers.run_once()
    detect(world, "kz", [dns("c2.evil.example", 1)])
    opener.run_once()
    (incident,) = _incidents(world, "root")
    with world.engine.begin() as conn:
        set_status(conn, world.trail, world.actors["root"], incident, "investigating")
        set_status(conn, world.trail, world.actors["root"], incident, "closed")
    assert watchers.run_once().outcomes == {"ok": 1}
    broker.drain()
    broker.close()
    (message,) = seen
    assert message.subject == "incidents.kg"
    body = orjson.loads(message.data)["incident"]
    assert (body["id"], body["status"], body["previous"]) == (incident, "closed", "investigating")
