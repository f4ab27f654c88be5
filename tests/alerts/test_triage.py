"""Triage: the state machine, who may change an alert, assignees, comments, history,
false-positive sightings and bulk changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from alert_world import NOW, dns
from intel_world import World
from steppe.alerts.queries import get_alert, list_alerts
from steppe.alerts.store import store_ioc_alerts
from steppe.alerts.triage import (
    alert_history,
    assign_alert,
    comment_alert,
    list_alert_comments,
    set_alert_status,
    triage_alerts,
)
from steppe.detection.ioc import IocMatcher, build_index
from steppe.errors import Forbidden, InputError, InvalidTransition, NotFound
from steppe.intel.sightings import list_sightings
from steppe.sharing import directory
from steppe.sharing.model import Role
from steppe.storage.schema import alerts

EVIL = "indicator--00000000-0000-4000-8000-000000000001"


@pytest.fixture
def alert(world: World) -> str:
    """One KZ alert on the group-only indicator, and a KZ reader and center coordinator."""
    with world.engine.begin() as conn:
        directory.add_user(conn, world.trail, "rita", world.orgs["kz"], frozenset({Role.READER}))
        directory.add_user(
            conn, world.trail, "cora", world.orgs["center"], frozenset({Role.COORDINATOR})
        )
        matcher = IocMatcher(build_index(conn, NOW))
        org_id = world.orgs["kz"].id
        store_ioc_alerts(
            conn,
            world.trail,
            org_id,
            matcher.match_events([dns("c2.evil.example", 1)], org_id, NOW),
        )
        return str(conn.scalar(select(alerts.c.id)))


def _status(world: World, user: str, alert: str, status: str) -> None:
    with world.engine.begin() as conn:
        set_alert_status(conn, world.trail, world.actor(user), alert, status)


def _view_status(world: World, alert: str) -> str:
    with world.engine.connect() as conn:
        return get_alert(conn, world.actor("ana"), alert).status


def test_an_alert_moves_through_triage_and_can_be_reopened(world: World, alert: str) -> None:
    _status(world, "ana", alert, "acknowledged")
    _status(world, "ana", alert, "closed")
    with pytest.raises(
        InvalidTransition, match="closed: it may become acknowledged, not escalated"
    ):
        _status(world, "ana", alert, "escalated")
    _status(world, "ana", alert, "acknowledged")  # reopened
    assert _view_status(world, alert) == "acknowledged"
    with pytest.raises(InvalidTransition, match="already acknowledged") as caught:
        _status(world, "ana", alert, "acknowledged")
    assert caught.value.status == 409
    with pytest.raises(InputError, match="not a triage state"):
        _status(world, "ana", alert, "done")


def test_only_who_may_read_and_act_may_triage(world: World, alert: str) -> None:
    with pytest.raises(NotFound):
        _status(world, "bek", alert, "acknowledged")  # another member: as if absent
    with pytest.raises(Forbidden, match="reader"):
        _status(world, "rita", alert, "acknowledged")
    _status(world, "cora", alert, "escalated")  # the center's staff
    assert _view_status(world, alert) == "escalated"


def test_assignee_must_be_able_to_work_the_alert(world: World, alert: str) -> None:
    with world.engine.begin() as conn:
        with pytest.raises(InputError, match="bek cannot work this alert"):
            assign_alert(conn, world.trail, world.actor("ana"), alert, "bek")
        with pytest.raises(InputError, match="no user named 'nobody'"):
            assign_alert(conn, world.trail, world.actor("ana"), alert, "nobody")
        assign_alert(conn, world.trail, world.actor("ana"), alert, "cora")
    with world.engine.connect() as conn:
        assert get_alert(conn, world.actor("ana"), alert).assignee == "cora"
        assert [a.id for a in list_alerts(conn, world.actor("ana"), assignee="cora").items] == [
            alert
        ]
    with world.engine.begin() as conn:
        assign_alert(conn, world.trail, world.actor("ana"), alert, None)
    with world.engine.connect() as conn:
        assert get_alert(conn, world.actor("ana"), alert).assignee is None


def test_comments_and_history_record_every_change(world: World, alert: str) -> None:
    with world.engine.begin() as conn:
        comment_alert(conn, world.trail, world.actor("ana"), alert, "  looks like beaconing ")
        with pytest.raises(InputError, match="1 to"):
            comment_alert(conn, world.trail, world.actor("ana"), alert, "   ")
    _status(world, "ana", alert, "acknowledged")
    with world.engine.connect() as conn:
        comments = list_alert_comments(conn, world.actor("rita"), alert)
        history = alert_history(conn, world.actor("ana"), alert)
        with pytest.raises(NotFound):
            list_alert_comments(conn, world.actor("bek"), alert)
    assert [(c.author, c.text) for c in comments] == [("ana", "looks like beaconing")]
    assert [(h.actor, h.action, h.detail.get("to")) for h in history] == [
        ("ana", "comment", None),
        ("ana", "status", "acknowledged"),
    ]


def test_false_positive_tells_the_producer(world: World, alert: str) -> None:
    _status(world, "ana", alert, "false-positive")
    with world.engine.connect() as conn:
        seen = list_sightings(conn, world.actor("ana"), EVIL)
    assert seen.totals == {"seen": 1, "false-positive": 1}


def test_bulk_triage_reports_each_alert(world: World, alert: str) -> None:
    with world.engine.begin() as conn:
        matcher = IocMatcher(build_index(conn, NOW))
        kg = world.orgs["kg"].id
        store_ioc_alerts(
            conn, world.trail, kg, matcher.match_events([dns("x.evil.example", 2)], kg, NOW)
        )
        kg_alert = conn.scalar(select(alerts.c.id).where(alerts.c.org_id == kg))
        outcomes = triage_alerts(
            conn, world.trail, world.actor("ana"), [alert, str(kg_alert)], status="closed"
        )
        assert [(o.changed, o.error) for o in outcomes] == [
            (True, None),
            (False, f"no alert {kg_alert}"),
        ]
        again = triage_alerts(
            conn, world.trail, world.actor("ana"), [alert], status="closed", assignee="ana"
        )
        assert again[0].changed is False and "already closed" in (again[0].error or "")
        with pytest.raises(InputError, match="give a status, an assignee or both"):
            triage_alerts(conn, world.trail, world.actor("ana"), [alert])
    assert _view_status(world, alert) == "closed"


def test_the_queue_lists_several_statuses_in_one_page(world: World, alert: str) -> None:
    with world.engine.begin() as conn:
        matcher = IocMatcher(build_index(conn, NOW))
        kz = world.orgs["kz"].id
        store_ioc_alerts(
            conn,
            world.trail,
            kz,
            matcher.match_events([dns("y.evil.example", 3, ip="10.0.0.3")], kz, NOW),
        )
    _status(world, "ana", alert, "acknowledged")
    ana = world.actor("ana")
    with world.engine.connect() as conn:
        queue = list_alerts(conn, ana, status=["new", "acknowledged"])
        assert queue.total == 2 and {a.status for a in queue.items} == {"new", "acknowledged"}
        assert list_alerts(conn, ana, status="acknowledged").total == 1
        assert list_alerts(conn, ana, status=["new", "acknowledged"], limit=1, offset=1).total == 2
        assert list_alerts(conn, ana, status=[]).total == 2  # no filter
        with pytest.raises(InputError, match="must be one of"):
            list_alerts(conn, ana, status=["new", "gone"])
