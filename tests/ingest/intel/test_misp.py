"""MISP events and feeds: read into STIX, import, export back, attribute by attribute."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymisp import MISPEvent, MISPGalaxy, MISPObject, MISPOrganisation
from pymisp.tools import feed_meta_generator
from sqlalchemy import Engine

from steppe.audit.trail import AuditTrail
from steppe.errors import InputError, MarkingConflict
from steppe.ingest.intel import (
    MispImport,
    RowProblem,
    narrowest,
    read_misp_event,
    read_misp_events,
    read_misp_feed,
    to_misp_event,
)
from steppe.intel.importer import Marking, import_objects
from steppe.intel.queries import export_bundle
from steppe.sharing import directory
from steppe.sharing.directory import SharingGroup
from steppe.sharing.model import Distribution, OrgKind, Role, TlpLevel

SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _event() -> MISPEvent:
    event = MISPEvent()
    event.info = "Steppe Wind phishing wave"
    event.distribution = 1
    event.threat_level_id = 2
    event.analysis = 1
    org = MISPOrganisation()
    org.name, org.uuid = "CERT-A", "7c0e5f0a-9c1d-4d4e-8f3a-2b1c0d9e8f7a"
    event.Orgc = org
    event.add_tag("tlp:green")
    event.add_tag("PAP:GREEN")
    event.add_tag('misp-galaxy:mitre-attack-pattern="Phishing - T1566"')
    c2 = event.add_attribute(
        "ip-dst", "198.51.100.7", category="Network activity", to_ids=True, comment="C2"
    )
    c2.add_tag("kill-chain:command-and-control")  # not the taxonomy's spelling
    c2.add_tag("c2-server")
    c2.add_sighting({"type": "0", "source": "sensor-1", "date_sighting": "1767225600"})
    c2.add_sighting({"type": "1", "source": "analyst", "date_sighting": "1767229200"})
    context = event.add_attribute(
        "domain", "Evil-Mail.example", category="Network activity", to_ids=False
    )
    context.add_sighting({"type": "0", "source": "dns-logs", "date_sighting": "1767225600"})
    event.add_attribute("url", "http://evil.example/gate.php", category="Network activity")
    event.add_attribute("md5", "d41d8cd98f00b204e9800998ecf8427e", category="Payload delivery")
    event.add_attribute("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", to_ids=True)
    event.add_attribute("sha256", SHA256.upper(), category="Payload installation", to_ids=True)
    event.add_attribute("email-src", "bad-actor@evil.example", category="Payload delivery")
    event.add_attribute("filename|sha256", f"invoice.pdf.exe|{SHA256}", to_ids=True)
    event.add_attribute("ip-src|port", "203.0.113.5|8443", to_ids=True)
    event.add_attribute("hostname", "cdn.evil.example", to_ids=True, comment="it's 'quoted'")
    event.add_attribute("text", "Operators speak Esperanto", category="Other")
    event.add_attribute("vulnerability", "CVE-2021-44228", category="External analysis")
    event.add_attribute("AS", "AS64500", category="Network activity", to_ids=False)
    event.add_attribute("regkey", "HKLM\\Software\\Run\\evil", category="Persistence mechanism")
    event.add_attribute("ip-dst", "999.1.1.1", category="Network activity", to_ids=True)
    amber = event.add_attribute("domain", "amber-only.example", to_ids=True)
    amber.add_tag("tlp:amber")
    dropped = MISPObject("file")
    dropped.add_attribute("filename", "loader.dll")
    dropped.add_attribute("md5", "0cc175b9c0f1b6a831c399e269772661", to_ids=True)
    dropped.add_attribute("sha1", "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8")
    event.add_object(dropped)
    galaxy = MISPGalaxy()
    galaxy.from_dict(
        uuid="c4e851fa-775f-11e7-8163-b774922098cd",
        name="Attack Pattern",
        type="mitre-attack-pattern",
        namespace="mitre-attack",
    )
    galaxy.add_galaxy_cluster(
        uuid="a62a8db3-f23a-4d8f-afd6-9dbc77e7813b",
        value="Phishing - T1566",
        type="mitre-attack-pattern",
        tag_name='misp-galaxy:mitre-attack-pattern="Phishing - T1566"',
        meta={"external_id": ["T1566"]},
    )
    event.add_galaxy(galaxy)
    for attribute in [*event.attributes, *dropped.attributes]:
        attribute.distribution = 5  # inherit the event's (MISP's default)
    dropped.distribution = 5
    return event


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    folder = tmp_path / "feed"
    folder.mkdir()
    event = _event()
    doc = event.to_feed(with_meta=False, with_distribution=True)
    (folder / f"{event.uuid}.json").write_text(json.dumps(doc))
    feed_meta_generator(folder)
    return folder


def _attributes(event: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """uuid -> the fields a round trip must keep, top-level and in objects alike."""
    out = {}
    pool = list(event.get("Attribute") or [])
    for misp_object in event.get("Object") or []:
        pool.extend(misp_object.get("Attribute") or [])
    for a in pool:
        out[a["uuid"]] = {
            "type": a["type"],
            "category": a["category"],
            "value": a["value"],
            "to_ids": a["to_ids"] in (True, "1", 1),
            "comment": a.get("comment") or "",
            "tags": sorted(t["name"] for t in a.get("Tag") or []),
        }
    return out


def test_feed_folder_reads_into_stix(feed: Path) -> None:
    found = list(read_misp_feed(feed))
    assert len(found) == 1 and isinstance(found[0], MispImport)
    event = found[0]
    assert event.info == "Steppe Wind phishing wave"
    assert event.marking == Marking(Distribution.COMMUNITY, TlpLevel.GREEN)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for obj in event.objects:
        by_type.setdefault(obj["type"], []).append(obj)
    patterns = {o["pattern"] for o in by_type["indicator"]}
    assert "[ipv4-addr:value = '198.51.100.7']" in patterns
    assert f"[file:hashes.'SHA-256' = '{SHA256}']" in patterns  # canonical: lowercase
    assert "[ipv4-addr:value = '203.0.113.5']" in patterns  # ip|port matched on the ip
    assert "[domain-name:value = 'cdn.evil.example']" in patterns
    assert "[file:hashes.MD5 = '0cc175b9c0f1b6a831c399e269772661']" in patterns  # in an object
    c2 = next(o for o in by_type["indicator"] if "198.51.100.7" in o["pattern"])
    assert c2["description"] == "C2"
    assert c2["labels"] == ["c2-server"]  # the misspelt taxonomy tag is not a label…
    # to_ids false: searchable (an SCO), not matched.
    assert {o["value"] for o in by_type["domain-name"]} == {"evil-mail.example"}
    assert [o["name"] for o in by_type["vulnerability"]] == ["CVE-2021-44228"]
    assert {o["x_misp_attribute"]["type"] for o in by_type["x-misp-attribute"]} == {
        "text",
        "regkey",
        "ip-dst",  # 999.1.1.1: kept for the way back, not matched
    }
    [technique] = by_type["attack-pattern"]
    assert technique["external_references"] == [
        {"source_name": "mitre-attack", "external_id": "T1566"}
    ]
    assert "sighting" not in by_type  # a feed carries no sightings
    [report] = by_type["report"]
    assert "PAP:GREEN" in report["labels"]
    assert len(report["object_refs"]) > 15
    tag_problem, value_problem = event.problems  # … but said, and kept for the way back
    assert tag_problem.field == "Event.Attribute[0].Tag"
    assert "has no predicate 'command-and-control'" in tag_problem.message
    assert "999.1.1.1" in value_problem.message
    assert value_problem.field == "Event.Attribute[14].value"
    assert str(value_problem).startswith(f"{feed}/")


def _round_trip(found: MispImport, engine: Engine, trail: AuditTrail) -> dict[str, Any]:
    """Import ``found`` into a store, export what an analyst sees, write it as MISP."""
    with engine.begin() as conn:
        org = directory.add_organisation(conn, trail, "CERT-A", "KZ", OrgKind.MEMBER)
        directory.add_user(conn, trail, "analyst", org, frozenset({Role.ANALYST}))
        report = import_objects(
            conn, trail, found.data, found.objects, owner=org, marking=found.marking, source="t"
        )
        assert report.created == len(found.objects)
        actor = directory.load_actor(conn, "analyst")
        out = io.BytesIO()
        export_bundle(conn, actor, out, bundle_id="bundle--6b2c4f0e-3f5a-4a57-9d1e-2e1a3d6f9c10")
    return to_misp_event(out.getvalue())


def _same_attributes(original: dict[str, Any], exported: dict[str, Any]) -> None:
    before, after = _attributes(original), _attributes(exported["Event"])
    assert len(before) == 19
    for attribute_uuid, fields in before.items():
        assert after.get(attribute_uuid) == fields, attribute_uuid
    assert set(after) == set(before)
    loaded = MISPEvent()
    loaded.load(orjson.loads(orjson.dumps(exported)))  # PyMISP accepts it (load consumes)
    assert loaded.info == original["info"]
    assert len(loaded.attributes) + sum(len(o.attributes) for o in loaded.objects) == 19


def test_round_trip_of_a_feed_loses_no_attribute(
    feed: Path, engine: Engine, trail: AuditTrail
) -> None:
    [event_file] = [p for p in feed.glob("*.json") if p.name != "manifest.json"]
    original = orjson.loads(event_file.read_bytes())["Event"]
    [found] = list(read_misp_feed(feed))
    assert isinstance(found, MispImport)
    exported = _round_trip(found, engine, trail)
    _same_attributes(original, exported)
    event = exported["Event"]
    assert event["uuid"] == original["uuid"]
    assert event["info"] == original["info"]
    assert event["distribution"] == "1"
    assert sorted(t["name"] for t in event["Tag"]) == [
        "PAP:GREEN",
        'misp-galaxy:mitre-attack-pattern="Phishing - T1566"',
        "tlp:green",
    ]
    [file_object] = event["Object"]
    assert file_object["name"] == "file"
    assert {a["object_relation"] for a in file_object["Attribute"]} == {"filename", "md5", "sha1"}


def test_round_trip_of_an_event_keeps_sightings_and_galaxies(
    sqlite_engine: Engine, trail: AuditTrail
) -> None:
    doc = json.loads(_event().to_json())
    original = {"Event": doc.get("Event", doc)}
    found = read_misp_event(original, "event.json")
    sightings = [o for o in found.objects if o["type"] == "sighting"]
    assert sorted(s["x_misp_sighting"]["type"] for s in sightings) == [
        "false-positive",
        "sighting",
        "sighting",
    ]
    c2_id = next(o["id"] for o in found.objects if o.get("name") == "ip-dst: 198.51.100.7")
    assert {s["sighting_of_ref"].split("--")[0] for s in sightings} == {
        "indicator",
        "observed-data",  # a sighting of a to_ids=false attribute
    }
    assert sum(s["sighting_of_ref"] == c2_id for s in sightings) == 2
    # The galaxy and its tag name one cluster: one attack-pattern.
    assert len([o for o in found.objects if o["type"] == "attack-pattern"]) == 1
    exported = _round_trip(found, sqlite_engine, trail)
    _same_attributes(original["Event"], exported)
    event = exported["Event"]
    c2 = next(a for a in event["Attribute"] if a["value"] == "198.51.100.7")
    assert sorted((s["type"], s["source"]) for s in c2["Sighting"]) == [
        ("0", "sensor-1"),
        ("1", "analyst"),
    ]
    context = next(a for a in event["Attribute"] if a["value"] == "Evil-Mail.example")
    assert [(s["type"], s["source"]) for s in context["Sighting"]] == [("0", "dns-logs")]
    [galaxy] = event["Galaxy"]
    assert galaxy["type"] == "mitre-attack-pattern"
    assert [c["value"] for c in galaxy["GalaxyCluster"]] == ["Phishing - T1566"]


def test_distribution_and_tlp_table() -> None:
    def marking(distribution: str, *tags: str, attribute: dict[str, Any] | None = None) -> Any:
        event: dict[str, Any] = {
            "info": "x",
            "distribution": distribution,
            "Tag": [{"name": t} for t in tags],
            "Attribute": [attribute] if attribute else [],
        }
        found = read_misp_event({"Event": event}, "e.json")
        return found.marking.distribution.value, found.marking.tlp.value, found.sharing_groups

    assert marking("0", "tlp:amber") == ("organisation", "amber", ())
    assert marking("1", "tlp:green") == ("community", "green", ())
    assert marking("2", "tlp:white") == ("federation", "clear", ())
    assert marking("3", "TLP:CLEAR") == ("federation", "clear", ())
    # Only CLEAR and GREEN cross to peers; RED never leaves a named audience.
    assert marking("3", "tlp:amber") == ("community", "amber", ())
    assert marking("1", "tlp:red") == ("organisation", "red", ())
    assert marking("1") == ("community", "amber", ())  # no TLP tag: the default
    assert marking("5") == ("organisation", "amber", ())
    grouped = {"Event": {"info": "x", "distribution": "4", "SharingGroup": {"name": "Bloc"}}}
    found = read_misp_event(grouped, "e.json")
    assert found.marking.distribution is Distribution.GROUPS
    assert found.sharing_groups == ("Bloc",)
    # An attribute narrower than its event narrows the whole import.
    private = {"type": "domain", "value": "a.example", "distribution": "0", "category": "Other"}
    assert marking("3", "tlp:clear", attribute=private)[0] == "organisation"
    other_group = {
        "type": "domain",
        "value": "a.example",
        "distribution": "4",
        "SharingGroup": {"name": "Other bloc"},
    }
    two_groups = {"Event": {**grouped["Event"], "Attribute": [other_group]}}
    found = read_misp_event(two_groups, "e.json")
    assert found.marking.distribution is Distribution.ORGANISATION  # never the union
    assert found.sharing_groups == ()
    in_object = {
        "Event": {
            "info": "x",
            "distribution": "3",
            "Tag": [{"name": "tlp:clear"}],
            "Object": [{"name": "file", "distribution": "0", "Attribute": []}],
        }
    }
    assert read_misp_event(in_object, "e.json").marking.distribution is Distribution.ORGANISATION
    red = {"type": "domain", "value": "a.example", "Tag": [{"name": "tlp:red"}]}
    assert marking("1", "tlp:green", attribute=red)[0] == "organisation"


def test_groups_marking_without_groups_is_refused_by_the_importer(
    sqlite_engine: Engine, trail: AuditTrail
) -> None:
    found = read_misp_event(
        {"Event": {"info": "x", "distribution": "4", "Attribute": []}}, "e.json"
    )
    with sqlite_engine.begin() as conn:
        org = directory.add_organisation(conn, trail, "CERT-A", "KZ", OrgKind.MEMBER)
        with pytest.raises(MarkingConflict):
            import_objects(
                conn, trail, found.data, found.objects, owner=org, marking=found.marking, source="e"
            )
        group = directory.add_group(conn, trail, "Bloc", org)
        marking = dataclasses.replace(found.marking, groups=(group,))
        import_objects(
            conn, trail, found.data, found.objects, owner=org, marking=marking, source="e"
        )


def test_shapes_of_input() -> None:
    event = {"info": "a", "Attribute": []}
    assert len(read_misp_events({"response": [{"Event": event}, {"Event": event}]}, "r")) == 2
    assert len(read_misp_events([{"Event": event}], "r")) == 1
    attributes = {
        "response": {
            "Attribute": [
                {"type": "domain", "value": "a.example", "to_ids": True, "distribution": "3"}
            ]
        }
    }
    [found] = read_misp_events(attributes, "r")
    assert found.marking.distribution is Distribution.ORGANISATION
    assert any(o.get("pattern") == "[domain-name:value = 'a.example']" for o in found.objects)
    assert read_misp_event(orjson.dumps({"Event": event}), "r").info == "a"
    with pytest.raises(InputError, match="not valid JSON") as caught:
        read_misp_event(b'{"Event": {\n"info": }', "bad.json")
    assert caught.value.source == "bad.json" and caught.value.line == 2
    with pytest.raises(InputError, match="expected a MISP event"):
        read_misp_event({"type": "bundle"}, "x.json")


def test_nul_characters_are_dropped_from_json_text() -> None:
    data = (
        b'{"Event": {"info": "a\\u0000b", "Attribute": [{"type": "text", "value": "x\\u0000y"}]}}'
    )
    found = read_misp_event(data, "nul.json")
    assert found.info == "ab"
    [custom] = [o for o in found.objects if o["type"] == "x-misp-attribute"]
    assert custom["x_misp_attribute"]["value"] == "xy"
    assert b"\\u0000" not in found.data


def test_feed_with_a_missing_event_file(feed: Path) -> None:
    manifest = orjson.loads((feed / "manifest.json").read_bytes())
    manifest["0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e"] = {"info": "gone"}
    (feed / "manifest.json").write_bytes(orjson.dumps(manifest))
    found = list(read_misp_feed(feed))
    assert sum(isinstance(f, MispImport) for f in found) == 1
    [problem] = [f for f in found if isinstance(f, RowProblem)]
    assert "0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e.json" in problem.source


def test_native_stix_exports_as_attributes() -> None:
    bundle = {
        "type": "bundle",
        "id": "bundle--0d5e9a8c-4b8f-4c3a-9a57-1f2e3d4c5b6a",
        "objects": [
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": "indicator--6a2d3b0f-2e3c-4d4e-9f50-1b2c3d4e5f60",
                "created": "2026-01-01T00:00:00.000Z",
                "modified": "2026-01-01T00:00:00.000Z",
                "pattern": "[ipv4-addr:value = '198.51.100.7' OR url:value = 'http://a.example/']",
                "pattern_type": "stix",
                "valid_from": "2026-01-01T00:00:00.000Z",
                "labels": ["c2"],
                "object_marking_refs": ["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"],
            },
            {
                "type": "ipv4-addr",
                "spec_version": "2.1",
                "id": "ipv4-addr--1b2c3d4e-5f60-4a1b-8c2d-3e4f5a6b7c8d",
                "value": "203.0.113.1",
            },
        ],
    }
    event = to_misp_event(bundle)["Event"]
    got = {
        (a["type"], a["value"], a["to_ids"]): sorted(t["name"] for t in a["Tag"])
        for a in event["Attribute"]
    }
    assert got == {
        ("ip-dst", "198.51.100.7", True): ["c2", "tlp:red"],
        ("url", "http://a.example/", True): ["c2", "tlp:red"],
        ("ip-dst", "203.0.113.1", False): [],
    }
    MISPEvent().load({"Event": event})


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_but_input_errors(text: str) -> None:
    with contextlib.suppress(InputError):
        read_misp_events(text.encode(), "fuzz.json")


@settings(max_examples=50, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "Event",
                        "info",
                        "Attribute",
                        "type",
                        "value",
                        "Tag",
                        "name",
                        "uuid",
                        "to_ids",
                        "distribution",
                        "Object",
                        "Sighting",
                        "Galaxy",
                        "GalaxyCluster",
                        "timestamp",
                    ]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=20,
    )
)
def test_arbitrary_json_never_raises_anything_but_input_errors(doc: Any) -> None:
    with contextlib.suppress(InputError):
        read_misp_events(doc, "fuzz.json")


_TYPES = [
    "ip-dst",
    "ip-src|port",
    "domain",
    "url",
    "md5",
    "sha256",
    "email-src",
    "filename",
    "filename|md5",
    "AS",
    "vulnerability",
    "text",
    "regkey",
    "comment",
]


# NULs and lone surrogates are dropped on the way in (the store cannot keep them): not
# part of this property.
_NO_NUL = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_TYPES),
            st.one_of(
                st.text(_NO_NUL, min_size=1, max_size=40),
                st.sampled_from(
                    [
                        "198.51.100.7",
                        "10.0.0.0/8",
                        "evil.example",
                        "http://a.example/x",
                        "AS1",
                        "d41d8cd98f00b204e9800998ecf8427e",
                        "a@b.example",
                        "x.exe|" + "a" * 32,
                    ]
                ),
            ),
            st.booleans(),
            st.text(_NO_NUL, max_size=30),
            st.lists(
                st.sampled_from(["tlp:amber", "PAP:RED", "free tag", "kill-chain:nope"]),
                max_size=2,
                unique=True,
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_attribute_survives_read_and_write_back(
    rows: list[tuple[str, str, bool, str, list[str]]],
) -> None:
    event: dict[str, Any] = {"info": "prop", "distribution": "1", "Attribute": []}
    for index, (kind, value, to_ids, comment, tags) in enumerate(rows):
        event["Attribute"].append(
            {
                "uuid": f"00000000-0000-4000-8000-{index:012d}",
                "type": kind,
                "category": "Other",
                "value": value,
                "to_ids": to_ids,
                "comment": comment,
                "Tag": [{"name": t} for t in tags],
            }
        )
    found = read_misp_event({"Event": event}, "prop.json")
    exported = to_misp_event({"type": "bundle", "objects": found.objects})
    assert _attributes(exported["Event"]) == _attributes(event)


def _group(group_id: int, name: str) -> SharingGroup:
    return SharingGroup(group_id, name, "", 1, False, frozenset({1}))


def test_within_a_feed_marking_is_never_wider() -> None:
    community_green = Marking(Distribution.COMMUNITY, TlpLevel.GREEN)
    found = read_misp_event(
        {"Event": {"info": "x", "distribution": "3", "Tag": [{"name": "tlp:clear"}]}}, "e"
    )
    assert found.within(community_green) == community_green
    assert found.within(Marking(Distribution.FEDERATION, TlpLevel.CLEAR)) == Marking(
        Distribution.FEDERATION, TlpLevel.CLEAR
    )
    private = read_misp_event({"Event": {"info": "x", "distribution": "0"}}, "e")
    assert private.within(community_green).distribution is Distribution.ORGANISATION
    grouped = read_misp_event({"Event": {"info": "x", "distribution": "4"}}, "e")
    # Sharing groups the caller did not map: kept to the organisation.
    assert grouped.within(community_green).distribution is Distribution.ORGANISATION
    a, b, c = _group(1, "A"), _group(2, "B"), _group(3, "C")
    mapped = dataclasses.replace(grouped.marking, groups=(a, b))
    assert narrowest(mapped, community_green).groups == (a, b)
    assert narrowest(mapped, Marking(Distribution.GROUPS, TlpLevel.GREEN, (b, c))).groups == (b,)
    disjoint = narrowest(mapped, Marking(Distribution.GROUPS, TlpLevel.GREEN, (c,)))
    assert disjoint == Marking(Distribution.ORGANISATION, TlpLevel.AMBER)
    red = narrowest(
        Marking(Distribution.FEDERATION, TlpLevel.CLEAR),
        Marking(Distribution.COMMUNITY, TlpLevel.RED),
    )
    assert red == Marking(Distribution.ORGANISATION, TlpLevel.RED)


_STIX_KEYS = [
    "type",
    "id",
    "pattern",
    "pattern_type",
    "labels",
    "x_misp_attribute",
    "x_misp_object",
    "x_misp_event",
    "object_marking_refs",
    "sighting_of_ref",
    "x_misp_sighting",
    "x_misp_cluster",
    "value",
    "hashes",
    "modified",
    "uuid",
    "Tag",
    "galaxy",
    "cluster",
    "object_refs",
    "description",
]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(_STIX_KEYS),
            st.recursive(
                st.none()
                | st.booleans()
                | st.integers()
                | st.sampled_from(
                    [
                        "indicator",
                        "report",
                        "sighting",
                        "observed-data",
                        "ipv4-addr",
                        "file",
                        "indicator--6a2d3b0f-2e3c-4d4e-9f50-1b2c3d4e5f60",
                        "stix",
                        "[ipv4-addr:value = '1.2.3.4']",
                        "2026-01-01T00:00:00Z",
                        "x",
                    ]
                )
                | st.text(max_size=10),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(_STIX_KEYS), inner, max_size=3)
                ),
                max_leaves=10,
            ),
            max_size=8,
        ),
        max_size=5,
    )
)
def test_export_of_arbitrary_objects_never_raises_anything_but_input_errors(
    objects: list[dict[str, Any]],
) -> None:
    with contextlib.suppress(InputError):
        event = to_misp_event({"type": "bundle", "objects": objects})
        orjson.dumps(event)


_TAGS = [
    "tlp:amber",
    "tlp:green",
    "tlp:clear",
    "tlp:red",
    "tlp:amber+strict",
    "PAP:RED",
    "pap:green",
    "free tag",
    "kill-chain:nope",
    'misp-galaxy:mitre-attack-pattern="Phishing - T1566"',
    'misp-galaxy:mitre-attack-pattern="No Such Thing - T9999"',
    'misp-galaxy:threat-actor="Nobody"',
    "attack.t1059.001",
]
_VALUES = st.one_of(
    st.text(min_size=1, max_size=30),
    st.sampled_from(
        [
            "198.51.100.7",
            "2001:db8::1",
            "10.0.0.0/8",
            "evil.example",
            "EVIL.example.",
            "http://a.example/x?q='1'\\",
            "AS1",
            "as4294967295",
            "d41d8cd98f00b204e9800998ecf8427e",
            "a@b.example",
            "x.exe|" + "a" * 32,
            "1.2.3.4|80",
            "o'brien.exe",
        ]
    ),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    event_tags=st.lists(st.sampled_from(_TAGS), max_size=3, unique=True),
    distribution=st.sampled_from(["0", "1", "2", "3", "5", None]),
    rows=st.lists(
        st.tuples(
            st.sampled_from([*_TYPES, "ip-src", "hostname", "domain|ip", "sha1", "link"]),
            _VALUES,
            st.booleans(),
            st.lists(st.sampled_from(_TAGS), max_size=3, unique=True),
            st.sampled_from(["0", "1", "3", "5", None]),
        ),
        max_size=6,
    ),
)
def test_what_the_reader_gives_the_importer_takes(
    sqlite_engine: Engine,
    trail: AuditTrail,
    event_tags: list[str],
    distribution: str | None,
    rows: list[tuple[str, str, bool, list[str], str | None]],
) -> None:
    """One odd attribute must never make the store refuse the whole event."""
    event: dict[str, Any] = {
        "info": "prop",
        "distribution": distribution,
        "Tag": [{"name": t} for t in event_tags],
        "Attribute": [
            {
                "type": kind,
                "value": value,
                "to_ids": to_ids,
                "Tag": [{"name": t} for t in tags],
                "distribution": attribute_distribution,
                "Sighting": [{"type": "1", "date_sighting": "1767225600"}],
            }
            for kind, value, to_ids, tags, attribute_distribution in rows
        ],
    }
    found = read_misp_event({"Event": event}, "prop.json")
    with sqlite_engine.connect() as conn:
        transaction = conn.begin()
        try:
            org = directory.add_organisation(conn, trail, "CERT-A", "KZ", OrgKind.MEMBER)
            report = import_objects(
                conn, trail, found.data, found.objects, owner=org, marking=found.marking, source="p"
            )
            assert report.objects == len(found.objects)
        finally:
            transaction.rollback()
