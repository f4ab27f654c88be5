"""The runner: each organisation's playbook sees only what it may, and a trigger item
runs a playbook once — across rounds, restarts and a rewound cursor."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from alert_world import dns
from conftest import KEY
from helpers import indicator
from intel_world import World
from response.playbooks.conftest import RunnerFactory, detect
from steppe.response.playbooks import PlaybookLibrary, PlaybookRunner, RoundReport
from steppe.response.playbooks.runs import list_runs
from steppe.settings import Settings
from steppe.sharing.model import Distribution
from steppe.storage import timestamps
from steppe.storage.schema import playbook_actions, playbook_cursors, playbook_runs
from steppe.workers.broker import InProcessBroker

BUS = "name: {name}\nowner: {owner}\ntrigger: {{type: {kind}{extra}}}\nactions:\n  - {{type: publish, subject: x}}\n"


def bus(name: str, owner: str, kind: str = "alert", extra: str = "") -> str:
    return BUS.format(name=name, owner=owner, kind=kind, extra=extra)


def _runs(world: World) -> list[tuple[str, str]]:
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(playbook_runs.c.playbook, playbook_runs.c.item_key).order_by(playbook_runs.c.id)
        ).all()
    return [(r.playbook, r.item_key) for r in rows]


def _plus(moment: str, seconds: int) -> str:
    return timestamps.format_ts(timestamps.parse(moment) + timedelta(seconds=seconds))


def test_a_member_s_playbook_sees_its_own_alerts_and_the_center_s_every_member_s(
    world: World, make_runner: RunnerFactory
) -> None:
    runner = make_runner(bus("kg", "KG-CERT"), bus("center", "Center"), bus("uz", "UZ-CERT"))
    runner.run_once()
    (kz_alert,) = detect(world, "kz", [dns("c2.evil.example", 1)])
    (kg_alert,) = detect(world, "kg", [dns("c2.evil.example", 2)])
    runner.run_once()
    assert sorted(_runs(world)) == sorted(
        [("center", f"alert:{kg_alert}"), ("center", f"alert:{kz_alert}"),
         ("kg", f"alert:{kg_alert}")]
    )  # fmt: skip
    with world.engine.connect() as conn:
        kg_run = list_runs(conn, world.actors["bek"]).items
        center_runs = list_runs(conn, world.actors["root"]).items
        assert list_runs(conn, world.actors["uzi"]).total == 0
    # KG may see the CSTO indicator behind its alert; the center may not.
    assert kg_run[0].item["alert"]["indicator"] is not None  # type: ignore[index]
    center_items = [r.item for r in center_runs if r.playbook == "center"]
    assert all(i is not None and i["alert"]["indicator"] is None for i in center_items)
    assert len(center_runs) == 3  # the center oversees KG's run too, without its item
    assert [r.item for r in center_runs if r.playbook == "kg"] == [None]


def test_conditions_on_the_indicator_use_only_what_the_organisation_sees(
    world: World, make_runner: RunnerFactory
) -> None:
    amber = ", conditions: {indicator_tlp: amber}"
    runner = make_runner(bus("kz", "KZ-CERT", extra=amber), bus("c", "Center", extra=amber))
    runner.run_once()
    (alert,) = detect(world, "kz", [dns("c2.evil.example", 1)])
    runner.run_once()
    assert _runs(world) == [("kz", f"alert:{alert}")]  # the center cannot tell its TLP


def test_a_new_intel_trigger_fires_only_for_what_the_owner_may_see(
    world: World, make_runner: RunnerFactory
) -> None:
    runner = make_runner(bus("kg-intel", "KG-CERT", "intel", ", conditions: {score: 10}"))
    runner.run_once()
    now = timestamps.now()
    fresh = {"created": now, "modified": now, "valid_from": now, "confidence": 80}
    world.load("kz", indicator("kz-only.example", **fresh), distribution=Distribution.ORGANISATION)
    shared = indicator("shared.example", **fresh)
    world.load("kz", shared)
    runner.run_once()
    with world.engine.connect() as conn:
        (run,) = list_runs(conn, world.actors["bek"]).items
    assert run.item["intel"]["id"] == shared["id"]  # type: ignore[index]
    assert run.item["intel"]["observables"] == [{"type": "domain", "value": "shared.example"}]  # type: ignore[index]


def test_nothing_runs_twice_across_rounds_restarts_and_a_rewound_cursor(
    world: World, make_runner: RunnerFactory, tmp_path: Path
) -> None:
    text = bus("kz", "KZ-CERT")
    runner = make_runner(text)
    runner.run_once()
    start = timestamps.now()
    ids = detect(world, "kz", [dns("c2.evil.example", 1), dns("x", 2, ip="91.92.93.94")])
    assert runner.run_once().runs == 2
    assert runner.run_once().runs == 0
    restarted = make_runner(text)  # a new process over the same database
    assert restarted.run_once().runs == 0
    # As if the cursor had been lost: the items are examined again, and run nothing.
    with world.engine.begin() as conn:
        conn.execute(update(playbook_cursors).values(after_ts=start, after_key=""))
    again = restarted.run_once()
    assert (again.examined, again.runs) == (2, 0)
    assert sorted(_runs(world)) == sorted(("kz", f"alert:{i}") for i in ids)
    with world.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(playbook_actions)) == 2


def test_a_new_playbook_starts_now_unless_it_asks_for_a_backfill(
    world: World, make_runner: RunnerFactory
) -> None:
    detect(world, "kz", [dns("c2.evil.example", 1)])
    assert make_runner(bus("late", "KZ-CERT")).run_once().runs == 0
    assert make_runner(bus("back", "KZ-CERT", extra=", backfill: 1h")).run_once().runs == 1
    disabled = bus("paused", "KZ-CERT", extra=", backfill: 1h").replace(
        "trigger:", "enabled: false\ntrigger:"
    )
    assert make_runner(disabled).run_once().runs == 0


def test_an_abandoned_attempt_is_taken_over_when_its_lease_ends(
    world: World, make_runner: RunnerFactory
) -> None:
    broker = InProcessBroker()
    runner = make_runner(bus("kz", "KZ-CERT"), broker=broker)
    runner.run_once()
    detect(world, "kz", [dns("c2.evil.example", 1)])
    t0 = timestamps.now()
    runner._poll(runner.library.get("kz"), t0, RoundReport())  # the run, not yet attempted
    with world.engine.begin() as conn:  # a runner claimed the action, then was killed
        conn.execute(
            update(playbook_actions).values(
                status="running", attempts=1, next_attempt_at=_plus(t0, 300)
            )
        )
    assert runner.run_once(now=_plus(t0, 10)).attempts == 0  # still leased
    assert runner.run_once(now=_plus(t0, 301)).outcomes == {"ok": 1}
    broker.close()
    with world.engine.connect() as conn:
        assert conn.scalar(select(playbook_actions.c.attempts)) == 2


def test_broker_actions_wait_for_a_runner_with_a_broker(
    world: World, make_runner: RunnerFactory
) -> None:
    make_runner(bus("kz", "KZ-CERT")).run_once()
    detect(world, "kz", [dns("c2.evil.example", 1)])
    assert make_runner(bus("kz", "KZ-CERT")).run_once().attempts == 0
    broker = InProcessBroker()
    assert make_runner(bus("kz", "KZ-CERT"), broker=broker).run_once().outcomes == {"ok": 1}
    broker.close()


def test_a_playbook_of_an_unknown_organisation_is_reported_not_run(
    world: World, tmp_path: Path
) -> None:
    (tmp_path / "pb").mkdir()
    (tmp_path / "pb" / "ghost.yml").write_text(bus("ghost", "GHOST-CERT"))
    runner = PlaybookRunner(world.engine, KEY, PlaybookLibrary(tmp_path / "pb"),
                            Settings(data_dir=tmp_path, secret_key=KEY), settle_seconds=0)  # fmt: skip
    report = runner.run_once()
    assert report.problems == {
        "ghost": "no organisation named 'GHOST-CERT' (see `steppe org list`)"
    }
