"""Evidence keeps its own rights: each participant sees only what it may, and the
incident's read paths all agree with can_see_incident."""

from __future__ import annotations

import pytest

from incident_world import EVIL, IP, IncidentWorld
from steppe.errors import InputError, MarkingConflict, NotFound
from steppe.response.incidents import add_participant, open_incident
from steppe.response.incidents.access import incident_rights
from steppe.response.incidents.evidence import add_intel, add_note, list_evidence
from steppe.response.incidents.queries import (
    get_incident,
    list_comments,
    list_incidents,
    timeline,
)
from steppe.response.incidents.store import add_comment
from steppe.response.incidents.tasks import list_tasks
from steppe.sharing.model import Distribution, TlpLevel
from steppe.sharing.policy import can_see_incident
from steppe.storage.schema import incidents


def _evidence_incident(iw: IncidentWorld) -> str:
    """KZ's incident holding its alert, a RED note, a CSTO note and both indicators."""
    w = iw.world
    with w.engine.begin() as conn:
        ana = w.actor("ana")
        incident = open_incident(conn, w.trail, ana, title="C2", alert_ids=[iw.kz_alert])
        add_note(conn, w.trail, ana, incident, title="Our own logs", body="…", tlp=TlpLevel.RED)
        add_note(
            conn,
            w.trail,
            ana,
            incident,
            title="For the bloc",
            distribution=Distribution.GROUPS,
            groups=["CSTO"],
        )
        add_intel(conn, w.trail, ana, incident, EVIL)
        add_intel(conn, w.trail, ana, incident, IP)
    return incident


def _shown(iw: IncidentWorld, user: str, incident: str) -> list[str]:
    with iw.world.engine.connect() as conn:
        return [e.title for e in list_evidence(conn, iw.world.actor(user), incident)]


def test_adding_participants_exposes_only_what_each_may_see(iw: IncidentWorld) -> None:
    w = iw.world
    incident = _evidence_incident(iw)
    with w.engine.begin() as conn:
        add_participant(conn, w.trail, w.actor("ana"), incident, w.orgs["kg"].id)
        add_participant(conn, w.trail, w.actor("ana"), incident, w.orgs["uz"].id)
    alert_title = _shown(iw, "ana", incident)[0]
    assert _shown(iw, "ana", incident) == [alert_title, "Our own logs", "For the bloc", EVIL, IP]
    assert _shown(iw, "bek", incident) == ["For the bloc", EVIL, IP]  # CSTO member
    assert _shown(iw, "uzi", incident) == [IP]  # community intel only
    assert _shown(iw, "cora", incident) == [alert_title, IP]  # staff read telemetry


def test_the_timeline_leaves_out_hidden_evidence(iw: IncidentWorld) -> None:
    w = iw.world
    incident = _evidence_incident(iw)
    with w.engine.begin() as conn:
        add_participant(conn, w.trail, w.actor("ana"), incident, w.orgs["uz"].id)
    with w.engine.connect() as conn:
        mine = timeline(conn, w.actor("ana"), incident)
        theirs = timeline(conn, w.actor("uzi"), incident)
        later = timeline(conn, w.actor("ana"), incident, after=mine[-2].id)
    assert sum(e.kind == "evidence" for e in mine) == 5
    assert [e.detail["kind"] for e in theirs if e.kind == "evidence"] == ["intel"]
    assert [e.id for e in later] == [mine[-1].id]


def test_one_adds_only_evidence_one_may_see_and_marks_it_soundly(iw: IncidentWorld) -> None:
    w = iw.world
    with w.engine.begin() as conn:
        uzi = w.actor("uzi")
        incident = open_incident(conn, w.trail, uzi, title="Probe")
        with pytest.raises(NotFound):
            add_intel(conn, w.trail, uzi, incident, EVIL)  # CSTO only; UZ is not in it
        with pytest.raises(MarkingConflict):
            add_note(
                conn,
                w.trail,
                uzi,
                incident,
                title="x",
                distribution=Distribution.COMMUNITY,
                tlp=TlpLevel.RED,
            )
        with pytest.raises(InputError, match="no sharing group named 'NATO'"):
            add_note(
                conn,
                w.trail,
                uzi,
                incident,
                title="x",
                distribution=Distribution.GROUPS,
                groups=["NATO"],
            )


def test_every_read_path_agrees_with_the_policy(iw: IncidentWorld) -> None:
    w = iw.world
    owners = {"ana": [w.orgs["kg"].id], "bek": [], "uzi": [w.orgs["kz"].id], "cora": []}
    made = {}
    with w.engine.begin() as conn:
        for user, participants in owners.items():
            made[user] = open_incident(
                conn, w.trail, w.actor(user), title=f"by {user}", participants=participants
            )
            add_comment(conn, w.trail, w.actor(user), made[user], "note")
    with w.engine.connect() as conn:
        rows = conn.execute(incidents.select()).all()
        for name in ("root", "cora", "ana", "rita", "sam", "bek", "uzi"):
            actor = w.actor(name)
            expected = {
                r.id
                for r in rows
                if can_see_incident(actor, incident_rights(conn, r.owner_org_id, r.id))
            }
            if name == "sam":
                assert expected == set()
                continue
            assert {i.id for i in list_incidents(conn, actor).items} == expected, name
            for r in rows:
                paths = (get_incident, list_tasks, list_comments, timeline, list_evidence)
                for path in paths:
                    if r.id in expected:
                        path(conn, actor, r.id)
                    else:
                        with pytest.raises(NotFound):
                            path(conn, actor, r.id)
