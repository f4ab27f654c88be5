"""Sightings in STIX exports: only of objects the reader may see, the sighting
organisation named only where it allowed it, and a bundle stix2-validator accepts."""

from __future__ import annotations

import io
import warnings
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine

from helpers import indicator
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.intel.queries import export_bundle
from steppe.intel.sighting_export import organisation_identity_id, sighting_objects
from steppe.intel.sightings import SightingType, record_sighting
from steppe.sharing.model import Distribution, TlpLevel

GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> World:
    return build_world(engine, trail)


def _seed(world: World) -> tuple[str, str]:
    """KZ's community indicator sighted by KG (named) and UZ (anonymous); its CSTO-only
    indicator sighted by KG (anonymous). Returns (community id, group id)."""
    community = indicator("seen-everywhere.example", confidence=80)
    grouped = indicator("csto-only.example", confidence=80)
    world.load("kz", community, tlp=TlpLevel.GREEN)
    world.load("kz", grouped, distribution=Distribution.GROUPS, tlp=TlpLevel.AMBER)
    with world.engine.begin() as conn:
        for user, stix_id, named in (
            ("bek", community["id"], True),
            ("uzi", community["id"], False),
            ("bek", grouped["id"], False),
        ):
            record_sighting(conn, world.trail, world.actors[user], stix_id, SightingType.SEEN,
                            count=3, named=named)  # fmt: skip
    return community["id"], grouped["id"]


def _export(world: World, user: str) -> dict[str, Any]:
    out = io.BytesIO()
    with world.engine.connect() as conn:
        actor = world.actors[user]
        export_bundle(conn, actor, out, bundle_id="bundle--6b2c4f0e-3f5a-4a57-9d1e-2e1a3d6f9c10",
                      extra=sighting_objects(conn, actor))  # fmt: skip
    doc: dict[str, Any] = orjson.loads(out.getvalue())
    return doc


def _sightings(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in doc["objects"] if o["type"] == "sighting"]


def test_a_reader_gets_the_sightings_of_what_it_may_see(world: World) -> None:
    community, grouped = _seed(world)
    uz = _sightings(_export(world, "uzi"))  # outside CSTO: the community indicator only
    assert sorted(s["sighting_of_ref"] for s in uz) == [community, community]
    kz = _sightings(_export(world, "ana"))  # the producer sees all three
    assert sorted(s["sighting_of_ref"] for s in kz) == sorted([community, community, grouped])
    assert {s["count"] for s in kz} == {3} and {s["x_steppe_sighting_type"] for s in kz} == {"seen"}
    # A sighting travels no wider than the object: its TLP marking.
    by_object = {s["sighting_of_ref"]: s["object_marking_refs"] for s in kz}
    assert by_object[community] == [GREEN]
    assert by_object[grouped] != [GREEN]


def test_the_sighter_is_named_only_where_it_allowed_it(world: World) -> None:
    community, grouped = _seed(world)
    kg, uz = organisation_identity_id("KG-CERT"), organisation_identity_id("UZ-CERT")
    # KG allowed naming its sighting of the community indicator; UZ did not, nor did KG
    # for the group indicator. A sighting organisation always sees its own named.
    expected = {
        "ana": [(community, (kg,)), (community, ()), (grouped, ())],
        "bek": [(community, (kg,)), (community, ()), (grouped, (kg,))],
        "uzi": [(community, (kg,)), (community, (uz,))],
    }
    for user, sightings in expected.items():
        doc = _export(world, user)
        got = [
            (s["sighting_of_ref"], tuple(s.get("where_sighted_refs", ()))) for s in _sightings(doc)
        ]
        assert sorted(got) == sorted(sightings), user
        named = {ref for _of, refs in sightings for ref in refs}
        identities = {o["id"]: o["name"] for o in doc["objects"] if o["type"] == "identity"}
        assert identities == {i: n for i, n in ((kg, "KG-CERT"), (uz, "UZ-CERT")) if i in named}
        # Not named: the property is left out, not an empty list.
        assert all(s.get("where_sighted_refs", ["omitted"]) != [] for s in _sightings(doc))


def test_the_export_with_sightings_validates(world: World) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stix2-validator's dependencies warn on import
        from stix2validator import ValidationOptions, validate_instance

    _seed(world)
    doc = _export(world, "ana")
    assert len(_sightings(doc)) == 3
    result = validate_instance(doc, ValidationOptions(version="2.1", strict=False))
    assert result.is_valid, [str(e) for e in result.errors]
    again = _export(world, "ana")  # deterministic ids: a consumer deduplicates re-exports
    assert [s["id"] for s in _sightings(again)] == [s["id"] for s in _sightings(doc)]
