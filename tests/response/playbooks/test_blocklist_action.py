"""The blocklist action: the indicator the organisation may see lands on its list."""

from __future__ import annotations

from alert_world import dns
from intel_world import World
from response.playbooks.conftest import RunnerFactory, detect
from steppe.response.blocklists import list_entries
from steppe.response.incidents.queries import get_incident
from steppe.response.playbooks.runs import list_runs

EVIL = "indicator--00000000-0000-4000-8000-000000000001"


def _incidents(world: World, user: str) -> list[str]:
    with world.engine.connect() as conn:
        runs = list_runs(conn, world.actors[user]).items
    return [str(r.actions[0].result["incident_id"]) for r in reversed(runs)]  # type: ignore[index]


def test_open_incident_always_opens_and_blocklist_adds_the_indicator(
    world: World, make_runner: RunnerFactory
) -> None:
    playbook = """\
name: kz-block
owner: KZ-CERT
trigger: {type: alert}
actions:
  - {type: open-incident, severity: high, participants: [KG-CERT]}
  - {type: blocklist, blocklist: perimeter, reason: "alert {alert.id} (incident {incident_id})"}
"""
    runner = make_runner(playbook)
    runner.run_once()
    alerts = detect(
        world, "kz", [dns("c2.evil.example", 1), dns("c3.evil.example", 2, ip="10.0.0.2")]
    )
    assert runner.run_once().outcomes == {"ok": 4}
    incidents = _incidents(world, "ana")
    assert len(set(incidents)) == 2
    with world.engine.connect() as conn:
        entries = list_entries(conn, world.actors["ana"], "perimeter")
        assert get_incident(conn, world.actors["bek"], incidents[0]).severity == "high"
    assert [e.stix_id for e in entries] == [EVIL]
    assert entries[0].reason.startswith(f"alert {alerts[0]}") or entries[0].reason.startswith(
        f"alert {alerts[1]}"
    )
    assert "(incident incident--" in entries[0].reason
