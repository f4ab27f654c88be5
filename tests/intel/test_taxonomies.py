"""Tags: MISP taxonomies checked and normalised, TLP tags agree, ATT&CK linked."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from helpers import indicator
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, InputError, MarkingConflict
from steppe.intel import attack
from steppe.intel.config import IntelConfig
from steppe.intel.queries import get_stored, list_objects
from steppe.intel.tagging import add_tag
from steppe.intel.taxonomies import InvalidTag, list_tags, normalise_tag, normalise_tags
from steppe.sharing.model import Distribution, TlpLevel
from steppe.storage.schema import intel_objects, object_labels, organisations


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> World:
    return build_world(engine, trail)


def test_machine_tags_are_normalised() -> None:
    assert normalise_tag("pap:green") == ("PAP:GREEN",)
    assert normalise_tag("TLP:Amber") == ("tlp:amber",)
    assert normalise_tag('admiralty-scale:source-reliability="B"') == (
        'admiralty-scale:source-reliability="b"',
    )
    assert normalise_tag("attack.T1059.001") == (
        "attack.t1059.001",
        'misp-galaxy:mitre-attack-pattern="PowerShell - T1059.001"',
    )
    assert normalise_tag('misp-galaxy:mitre-attack-pattern="PowerShell - T1059.001"')[0] == (
        "attack.t1059.001"
    )
    assert normalise_tag("malicious-activity") == ("malicious-activity",)


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("tlp:purple", "has no predicate 'purple'"),
        ('admiralty-scale:source-reliability="z"', "has no value 'z'"),
        ("admiralty-scale:source-reliability", "needs a value"),
        ("attack.t9999", "no ATT&CK technique T9999"),
        ('misp-galaxy:no-such-cluster="x"', "no MISP galaxy cluster"),
    ],
)
def test_unknown_predicates_and_values_name_the_tag(tag: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        normalise_tag(tag)
    assert tag.split(":")[0].split(".")[0] in str(caught.value)


def test_free_form_tags_can_be_turned_off() -> None:
    with pytest.raises(InvalidTag, match="free-form tags are off"):
        normalise_tag("malicious-activity", free_tags=False)
    with pytest.raises(InvalidTag, match="free-form"):
        normalise_tag("acme:internal", free_tags=False)
    assert normalise_tag("acme:internal") == ("acme:internal",)
    assert normalise_tag("PAP:RED", free_tags=False) == ("PAP:RED",)


def test_tlp_tags_must_agree_with_the_marking() -> None:
    assert normalise_tags(["tlp:amber"], TlpLevel.AMBER) == ["tlp:amber"]
    assert normalise_tags(["tlp:white"], TlpLevel.CLEAR) == ["tlp:white"]
    with pytest.raises(MarkingConflict, match="contradicts"):
        normalise_tags(["tlp:red"], TlpLevel.GREEN)


def test_list_tags_of_a_namespace() -> None:
    tags = {t.tag for t in list_tags("PAP")}
    assert "PAP:GREEN" in tags and all(t.startswith("PAP:") for t in tags)
    with pytest.raises(InputError, match="no taxonomy"):
        list_tags("nope")


def test_import_stores_normalised_labels_and_refuses_bad_ones(world: World) -> None:
    ind = indicator("tagged.bad.test", labels=["pap:green", "malicious-activity"])
    world.load("kz", ind)
    with world.engine.connect() as conn:
        labels = set(conn.execute(select(object_labels.c.label)).scalars())
    assert labels == {"PAP:GREEN", "malicious-activity"}
    with pytest.raises(InputError, match=r"objects\[0\].labels: tag 'tlp:purple'"):
        world.load("kz", indicator("x.bad.test", labels=["tlp:purple"]))
    with pytest.raises(MarkingConflict, match="contradicts"):
        world.load("kz", indicator("y.bad.test", labels=["tlp:red"]), tlp=TlpLevel.GREEN)
    strict = IntelConfig(free_tags=False)
    with pytest.raises(InvalidTag):
        world.load("kz", indicator("z.bad.test", labels=["whatever"]), config=strict)


def test_attack_tags_link_to_one_attack_pattern_owned_by_the_center(world: World) -> None:
    ps = indicator("ps.bad.test", labels=["attack.t1059.001"])
    cmd = indicator(
        "cmd.bad.test", labels=['misp-galaxy:mitre-attack-pattern="PowerShell - T1059.001"']
    )
    world.load("kz", ps)
    world.load("kg", cmd, distribution=Distribution.GROUPS, tlp=TlpLevel.AMBER)
    technique = attack.technique("T1059.001")
    with world.engine.connect() as conn:
        patterns = conn.execute(
            select(intel_objects, organisations.c.name.label("org"))
            .join(organisations, organisations.c.id == intel_objects.c.owner_org_id)
            .where(intel_objects.c.type == "attack-pattern")
        ).all()
        assert len(patterns) == 1  # created once
        (pattern,) = patterns
        assert pattern.stix_id == technique.stix_id
        assert (pattern.org, pattern.distribution, pattern.tlp) == ("Center", "community", "clear")
        # search by technique, parent or sub-technique, under the policy
        by_uzi = {o.stix_id for o in list_objects(conn, world.actors["uzi"], technique="T1059")}
        by_ana = {o.stix_id for o in list_objects(conn, world.actors["ana"], technique="t1059.001")}
        assert by_uzi == {ps["id"], technique.stix_id}
        assert by_ana == {ps["id"], cmd["id"], technique.stix_id}
        assert list_objects(conn, world.actors["ana"], technique="T1055") == []


def test_tag_add_makes_a_new_version_by_the_owner_only(world: World) -> None:
    ind = indicator("add.bad.test")
    world.load("kz", ind)
    with world.engine.begin() as conn:
        labels = add_tag(conn, world.trail, world.actors["ana"], ind["id"], "attack.t1566")
        assert labels == ["attack.t1566", 'misp-galaxy:mitre-attack-pattern="Phishing - T1566"']
        with pytest.raises(Forbidden):
            add_tag(conn, world.trail, world.actors["bek"], ind["id"], "PAP:GREEN")
        stored = get_stored(conn, world.actors["ana"], ind["id"])
        assert stored.modified > "2026-01-01T00:00:00.000000Z"
        found = list_objects(conn, world.actors["bek"], technique="T1566")
    assert ind["id"] in {o.stix_id for o in found}
