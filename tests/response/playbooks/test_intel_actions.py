"""Sightings and advisories, acting as the playbook's organisation under the policy."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from alert_world import dns
from helpers import indicator
from intel_world import World
from response.playbooks.conftest import RunnerFactory, detect
from steppe.errors import NotFound
from steppe.intel.queries import get_stored
from steppe.intel.sightings import list_sightings
from steppe.response.playbooks.runs import list_runs
from steppe.sharing.model import Distribution, ObjectRights, TlpLevel
from steppe.sharing.policy import can_see
from steppe.storage import timestamps
from steppe.storage.schema import intel_objects, object_groups, object_sources

EVIL = "indicator--00000000-0000-4000-8000-000000000001"

SIGHTING = """\
name: kz-sighting
owner: KZ-CERT
trigger: {type: alert}
actions:
  - {type: sighting, sighting: false-positive, named: true}
"""


def test_a_sighting_is_recorded_as_the_playbook_s_organisation(
    world: World, make_runner: RunnerFactory
) -> None:
    runner = make_runner(SIGHTING)
    runner.run_once()
    (alert,) = detect(world, "kz", [dns("c2.evil.example", 1)])
    assert runner.run_once().outcomes == {"ok": 1}
    with world.engine.connect() as conn:
        found = list_sightings(conn, world.actors["bek"], EVIL)  # KG is in CSTO too
    fps = [s for s in found.items if s.type == "false-positive"]
    assert [(s.organisation, s.source) for s in fps] == [("KZ-CERT", alert)]


def test_a_sighting_of_an_indicator_the_organisation_may_not_see_fails(
    world: World, make_runner: RunnerFactory
) -> None:
    # The center's staff read KZ's alerts but are not in CSTO: the indicator is hidden.
    runner = make_runner(SIGHTING.replace("owner: KZ-CERT", "owner: Center"))
    runner.run_once()
    detect(world, "kz", [dns("c2.evil.example", 1)])
    assert runner.run_once().outcomes == {"failed": 1}
    with world.engine.connect() as conn:
        (run,) = list_runs(conn, world.actors["root"]).items
    assert "names no indicator" in (run.actions[0].last_error or "")


ADVISORY = """\
name: kz-advisory
owner: KZ-CERT
trigger:
  type: intel
  conditions: {labels: [c2], type: indicator}
actions:
  - type: advisory
    groups: [CSTO]
    tlp: amber
    name: "C2 warning: {intel.name}"
    description: "{intel.owner} published {intel.id} (score {intel.score})."
"""


def _report_rights(world: World, report_id: str) -> ObjectRights:
    with world.engine.connect() as conn:
        row = conn.execute(select(intel_objects).where(intel_objects.c.stix_id == report_id)).one()
        groups = frozenset(conn.scalars(
            select(object_groups.c.group_id).where(object_groups.c.object_pk == row.pk)))  # fmt: skip
        source_rows = conn.execute(
            select(intel_objects)
            .join(object_sources, object_sources.c.source_pk == intel_objects.c.pk)
            .where(object_sources.c.object_pk == row.pk)
        ).all()
    sources = tuple(
        ObjectRights(s.owner_org_id, Distribution(s.distribution), TlpLevel(s.tlp))
        for s in source_rows
    )
    return ObjectRights(row.owner_org_id, Distribution(row.distribution), TlpLevel(row.tlp),
                        groups, sources)  # fmt: skip


@pytest.mark.parametrize(
    ("distribution", "readers"),
    [
        (Distribution.COMMUNITY, {"ana", "bek"}),  # CSTO members
        (Distribution.ORGANISATION, {"ana"}),  # KG may not see the source: nor the advisory
    ],
)
def test_an_advisory_reaches_only_the_chosen_groups_and_never_widens_its_source(
    world: World, make_runner: RunnerFactory, distribution: Distribution, readers: set[str]
) -> None:
    runner = make_runner(ADVISORY)
    runner.run_once()
    now = timestamps.now()
    c2 = indicator("c2-panel.example", labels=["c2"], created=now, modified=now, valid_from=now)
    world.load("kz", c2, distribution=distribution)
    world.load("kz", indicator("benign.example", labels=["other"]))
    report = runner.run_once()
    assert (report.runs, report.outcomes) == (1, {"ok": 1})
    with world.engine.connect() as conn:
        (run,) = list_runs(conn, world.actors["ana"]).items
    report_id = run.actions[0].result["report"]  # type: ignore[index]
    rights = _report_rights(world, report_id)
    assert rights.distribution is Distribution.GROUPS and rights.tlp is TlpLevel.AMBER
    assert len(rights.sources) == 1
    seen = set()
    for user, actor in world.actors.items():
        with world.engine.connect() as conn:
            try:
                stored = get_stored(conn, actor, report_id)
            except NotFound:
                visible = False
            else:
                visible = True
                assert stored.body["object_refs"] == [c2["id"]]
                assert stored.name == "C2 warning: test c2-panel.example"
        assert visible == bool(can_see(actor, rights)), user  # the read path = the policy
        if visible:
            seen.add(user)
    assert seen == readers
    assert runner.run_once().runs == 0  # the advisory is new intel, but not labelled c2


def test_an_advisory_to_a_group_the_organisation_is_not_in_fails(
    world: World, make_runner: RunnerFactory
) -> None:
    runner = make_runner(ADVISORY.replace("owner: KZ-CERT", "owner: UZ-CERT"))
    runner.run_once()
    now = timestamps.now()
    world.load("kz", indicator("c2-panel.example", labels=["c2"], created=now, modified=now))
    assert runner.run_once().outcomes == {"failed": 1}
    with world.engine.connect() as conn:
        (run,) = list_runs(conn, world.actors["uzi"]).items
    assert run.actions[0].last_error == "UZ-CERT is not in the sharing group 'CSTO'"
