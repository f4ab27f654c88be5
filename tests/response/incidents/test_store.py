"""Opening and running incidents: templates, participants, status, tasks, comments, and
who may do what."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from incident_world import IncidentWorld
from steppe.alerts.queries import get_alert
from steppe.errors import Forbidden, InputError, InvalidTransition, NotFound
from steppe.response.incidents import add_alerts, add_participant, open_incident, set_status
from steppe.response.incidents.queries import get_incident, list_comments, timeline
from steppe.response.incidents.store import add_comment, update_incident
from steppe.response.incidents.tasks import add_task, list_tasks, update_task
from steppe.response.incidents.templates import BUILTIN
from steppe.sharing import directory
from steppe.sharing.model import OrgKind, TlpLevel
from steppe.storage.schema import incident_timeline


def _open(iw: IncidentWorld, user: str = "ana", **kwargs: object) -> str:
    w = iw.world
    with w.engine.begin() as conn:
        return open_incident(conn, w.trail, w.actor(user), title="Beaconing", **kwargs)  # type: ignore[arg-type]


def test_open_from_alerts_with_a_template_and_a_participant(iw: IncidentWorld) -> None:
    w = iw.world
    incident = _open(
        iw,
        severity="high",
        tlp=TlpLevel.RED,
        participants=[w.orgs["kg"].id],
        alert_ids=[iw.kz_alert],
        template="phishing",
        coordinated=True,
    )
    with w.engine.connect() as conn:
        view = get_incident(conn, w.actor("bek"), incident)
        tasks = list_tasks(conn, w.actor("bek"), incident)
        entries = timeline(conn, w.actor("ana"), incident)
        alert = get_alert(conn, w.actor("ana"), iw.kz_alert)
    assert incident.startswith("incident--")
    assert (view.owner, view.participants, view.severity, view.tlp, view.status) == (
        "KZ-CERT",
        ["KG-CERT"],
        "high",
        "red",
        "open",
    )
    assert view.coordinated and view.template == "phishing"
    assert [t.title for t in tasks] == list(BUILTIN["phishing"].tasks)
    assert view.open_tasks == len(BUILTIN["phishing"].tasks)
    kinds = [e.kind for e in entries]
    assert kinds[:2] == ["opened", "participant"] and kinds[-1] == "evidence"
    assert alert.status == "escalated"  # the alert went into the incident


def test_status_moves_and_is_polled_from_the_timeline_table(iw: IncidentWorld) -> None:
    w = iw.world
    incident = _open(iw)
    with w.engine.begin() as conn:
        ana = w.actor("ana")
        for status in ("investigating", "contained", "resolved", "closed", "investigating"):
            set_status(conn, w.trail, ana, incident, status)
        with pytest.raises(InvalidTransition, match="investigating: it may become"):
            set_status(conn, w.trail, ana, incident, "open")
        with pytest.raises(InputError, match="'done' is not one of"):
            set_status(conn, w.trail, ana, incident, "done")
    with w.engine.connect() as conn:  # what the playbook engine runs
        rows = conn.execute(
            select(incident_timeline.c.id, incident_timeline.c.detail)
            .where(incident_timeline.c.kind == "status", incident_timeline.c.id > 0)
            .order_by(incident_timeline.c.id)
        ).all()
    assert rows[0].detail == '{"from":"open","to":"investigating"}'
    assert len(rows) == 5 and rows == sorted(rows)


def test_who_may_change_an_incident(iw: IncidentWorld) -> None:
    w = iw.world
    incident = _open(iw, participants=[w.orgs["kg"].id])
    with w.engine.begin() as conn:
        with pytest.raises(NotFound):
            set_status(conn, w.trail, w.actor("uzi"), incident, "investigating")
        with pytest.raises(Forbidden, match="may read this incident but not change it"):
            add_comment(conn, w.trail, w.actor("rita"), incident, "hello")
        with pytest.raises(NotFound):  # a sensor sees no incident at all
            add_comment(conn, w.trail, w.actor("sam"), incident, "hello")
        # a participant works on it, but only the owner and the center widen it
        add_comment(conn, w.trail, w.actor("bek"), incident, "seen here too")
        with pytest.raises(Forbidden, match="only the owner organisation"):
            add_participant(conn, w.trail, w.actor("bek"), incident, w.orgs["uz"].id)
        add_participant(conn, w.trail, w.actor("cora"), incident, w.orgs["uz"].id)
        with pytest.raises(Forbidden, match="may not open incidents"):
            open_incident(conn, w.trail, w.actor("rita"), title="x")
    with w.engine.connect() as conn:
        assert get_incident(conn, w.actor("uzi"), incident).participants == ["KG-CERT", "UZ-CERT"]
        comments = list_comments(conn, w.actor("uzi"), incident)
    assert [(c.author, c.organisation, c.text) for c in comments] == [
        ("bek", "KG-CERT", "seen here too")
    ]


def test_peers_never_take_part(iw: IncidentWorld) -> None:
    w = iw.world
    with w.engine.begin() as conn:
        peer = directory.add_organisation(conn, w.trail, "Peer", None, OrgKind.PEER)
        with pytest.raises(InputError, match="peer center"):
            open_incident(conn, w.trail, w.actor("ana"), title="x", participants=[peer.id])
        with pytest.raises(InputError, match="no organisation 999"):
            open_incident(conn, w.trail, w.actor("ana"), title="x", participants=[999])


def test_alerts_are_added_once_and_only_if_readable(iw: IncidentWorld) -> None:
    w = iw.world
    incident = _open(iw, participants=[w.orgs["kg"].id])
    with w.engine.begin() as conn:
        assert add_alerts(conn, w.trail, w.actor("ana"), incident, [iw.kz_alert]) == 1
        assert add_alerts(conn, w.trail, w.actor("ana"), incident, [iw.kz_alert]) == 0
        with pytest.raises(NotFound, match=iw.kg_alert):  # KZ may not read KG's alert
            add_alerts(conn, w.trail, w.actor("ana"), incident, [iw.kg_alert])
        assert add_alerts(conn, w.trail, w.actor("bek"), incident, [iw.kg_alert]) == 1


def test_tasks_are_assigned_to_those_taking_part(iw: IncidentWorld) -> None:
    w = iw.world
    incident = _open(iw, participants=[w.orgs["kg"].id])
    with w.engine.begin() as conn:
        ana = w.actor("ana")
        task = add_task(
            conn,
            w.trail,
            ana,
            incident,
            title="Isolate",
            assignee="bek",
            due="2026-12-01T00:00:00Z",
        )
        with pytest.raises(InputError, match="uzi cannot see this incident"):
            add_task(conn, w.trail, ana, incident, title="x", assignee="uzi")
        with pytest.raises(InputError, match="UZ-CERT does not take part"):
            add_task(conn, w.trail, ana, incident, title="x", assignee_org="UZ-CERT")
        with pytest.raises(InputError, match="not an RFC 3339 time"):
            add_task(conn, w.trail, ana, incident, title="x", due="tomorrow")
        update_task(conn, w.trail, w.actor("bek"), incident, task, status="done")
        with pytest.raises(InvalidTransition, match=r"task \d+ is done"):
            update_task(conn, w.trail, ana, incident, task, status="in-progress")
        with pytest.raises(NotFound):
            update_task(conn, w.trail, ana, incident, 9999, status="done")
    with w.engine.connect() as conn:
        tasks = list_tasks(conn, w.actor("ana"), incident)
        view = get_incident(conn, w.actor("ana"), incident)
    assert [(t.assignee, t.assignee_org, t.status, t.due) for t in tasks] == [
        ("bek", "KG-CERT", "done", "2026-12-01T00:00:00.000000Z")
    ]
    assert view.open_tasks == 0


def test_updates_and_unknown_templates(iw: IncidentWorld) -> None:
    w = iw.world
    with pytest.raises(InputError, match="no task template 'nope'"):
        _open(iw, template="nope")
    incident = _open(iw)
    with w.engine.begin() as conn:
        update_incident(
            conn, w.trail, w.actor("ana"), incident, title="Renamed", severity="critical"
        )
        with pytest.raises(InputError, match="severity"):
            update_incident(conn, w.trail, w.actor("ana"), incident, severity="huge")
    with w.engine.connect() as conn:
        view = get_incident(conn, w.actor("ana"), incident)
        kinds = [e.kind for e in timeline(conn, w.actor("ana"), incident)]
    assert (view.title, view.severity) == ("Renamed", "critical")
    assert kinds == ["opened", "update", "severity"]
