"""Importing STIX 2.1: versions, observables, marking checks, and nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, func, select

from helpers import WHEN, bundle, indicator
from steppe.audit.trail import AuditTrail
from steppe.errors import InputError, InvalidStix, MarkingConflict
from steppe.intel.importer import Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.sharing import directory
from steppe.sharing.model import Distribution, OrgKind, TlpLevel
from steppe.storage.schema import audit_log, intel_objects, observables

DEFAULT_MARKING = Marking()


@pytest.fixture
def orgs(engine: Engine, trail: AuditTrail) -> dict[str, directory.Organisation]:
    with engine.begin() as conn:
        cn = directory.add_organisation(conn, trail, "CNCERT", "CN", OrgKind.MEMBER)
        ru = directory.add_organisation(conn, trail, "RU-CERT", "RU", OrgKind.MEMBER)
        group = directory.add_group(conn, trail, "QCCM", cn, hidden_roster=True)
        directory.add_group_member(conn, trail, group, cn)
    return {"cn": cn, "ru": ru}


def _import(
    conn: Connection,
    trail: AuditTrail,
    data: bytes,
    owner: directory.Organisation,
    marking: Marking = DEFAULT_MARKING,
) -> object:
    return import_objects(
        conn,
        trail,
        data,
        read_bundle(data, "feed.json"),
        owner=owner,
        marking=marking,
        source="feed.json",
    )


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_import_stores_objects_and_observables(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    data = bundle(
        indicator("Evil.Example."),
        indicator("10.0.0.1", "ipv4-addr:value"),
        indicator("x", "network-traffic:dst_port", pattern="[network-traffic:dst_port = 443]"),
        {
            "type": "malware",
            "spec_version": "2.1",
            "id": "malware--6b2c4f0e-3f5a-4a57-9d1e-2e1a3d6f9c10",
            "created": WHEN,
            "modified": WHEN,
            "name": "Demo",
            "is_family": True,
        },
    )
    with engine.begin() as conn:
        report = _import(conn, trail, data, orgs["cn"])
    assert (report.created, report.matchable, report.not_matchable) == (4, 2, 1)  # type: ignore[attr-defined]
    with engine.connect() as conn:
        values = set(conn.execute(select(observables.c.type, observables.c.value)).all())
    assert values == {("domain", "evil.example"), ("ipv4", "10.0.0.1")}


def test_reimport_is_a_noop_and_newer_modified_is_a_new_version(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    ind = indicator("evil.example", created="2025-11-01T00:00:00.000Z")
    with engine.begin() as conn:
        _import(conn, trail, bundle(ind), orgs["cn"])
    with engine.begin() as conn:
        report = _import(conn, trail, bundle(ind), orgs["cn"])
    assert (report.created, report.unchanged) == (0, 1)  # type: ignore[attr-defined]
    newer = dict(
        ind, modified="2026-02-01T00:00:00Z", pattern="[domain-name:value = 'worse.example']"
    )
    older = dict(ind, modified="2025-12-01T00:00:00Z")
    with engine.begin() as conn:
        report = _import(conn, trail, bundle(older, newer), orgs["cn"])
    assert (report.new_versions, report.older_versions) == (1, 1)  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            select(intel_objects.c.modified, intel_objects.c.is_current).order_by(
                intel_objects.c.modified
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("2025-12-01T00:00:00.000000Z", False),
        ("2026-01-01T00:00:00.000000Z", False),
        ("2026-02-01T00:00:00.000000Z", True),
    ]


def test_same_id_from_another_organisation_is_its_own_copy(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    ind = indicator("evil.example")
    with engine.begin() as conn:
        _import(conn, trail, bundle(ind), orgs["cn"], Marking(Distribution.ORGANISATION))
    newer = dict(ind, modified="2026-03-01T00:00:00Z")
    with engine.begin() as conn:
        report = _import(conn, trail, bundle(newer), orgs["ru"], Marking(Distribution.COMMUNITY))
    assert report.created == 1  # type: ignore[attr-defined]
    with engine.connect() as conn:
        current = conn.execute(
            select(intel_objects.c.owner_org_id, intel_objects.c.distribution).where(
                intel_objects.c.is_current.is_(True)
            )
        ).all()
    # RU's copy did not replace (or widen) CN's organisation-only object.
    assert sorted(tuple(r) for r in current) == sorted(
        [(orgs["cn"].id, "organisation"), (orgs["ru"].id, "community")]
    )


def test_bad_object_names_file_line_and_field_and_writes_nothing(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    bad = indicator("evil.example")
    del bad["valid_from"]
    data = bundle(indicator("fine.example"), bad)
    with pytest.raises(InvalidStix) as err, engine.begin() as conn:
        _import(conn, trail, data, orgs["cn"])
    message = str(err.value)
    expected_line = data.decode().splitlines().index(f'      "id": "{bad["id"]}",') + 1
    assert message == f"feed.json:{expected_line}: objects[1].valid_from: valid_from is required"
    assert _count(engine, intel_objects) == 0
    assert _count(engine, observables) == 0


def test_invalid_pattern_is_located(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    data = bundle(indicator("x", pattern="[domain-name:value = 'a'"))
    with (
        pytest.raises(InputError, match=r"feed.json:\d+: objects\[0\].pattern: "),
        engine.begin() as conn,
    ):
        _import(conn, trail, data, orgs["cn"])


def test_red_object_cannot_go_to_the_community(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    red = indicator(
        "evil.example",
        object_marking_refs=["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"],
    )
    data = bundle(indicator("ok.example"), red)
    with (
        pytest.raises(MarkingConflict, match=r"objects\[1\]: TLP:RED is for a named audience"),
        engine.begin() as conn,
    ):
        _import(conn, trail, data, orgs["cn"], Marking(Distribution.COMMUNITY, TlpLevel.GREEN))
    assert _count(engine, intel_objects) == 0


def test_object_tlp_marking_wins_over_the_default(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    tlp1_green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
    with engine.begin() as conn:
        _import(
            conn,
            trail,
            bundle(
                indicator("a.example", object_marking_refs=[tlp1_green]), indicator("b.example")
            ),
            orgs["cn"],
            Marking(Distribution.COMMUNITY, TlpLevel.AMBER),
        )
    with engine.connect() as conn:
        tlps = sorted(conn.execute(select(intel_objects.c.tlp)).scalars())
    assert tlps == ["amber", "green"]


def test_only_members_distribute_to_a_group(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    with engine.connect() as conn:
        qccm = directory.find_group(conn, "QCCM")
    with (
        pytest.raises(MarkingConflict, match="'RU-CERT' is not a member of sharing group 'QCCM'"),
        engine.begin() as conn,
    ):
        _import(
            conn,
            trail,
            bundle(indicator("a.example")),
            orgs["ru"],
            Marking(Distribution.GROUPS, TlpLevel.AMBER, (qccm,)),
        )


def test_import_is_audited_in_the_same_transaction(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    before = _count(engine, audit_log)
    with engine.begin() as conn:
        _import(conn, trail, bundle(indicator("a.example")), orgs["cn"])
    with engine.connect() as conn:
        last = conn.execute(select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)).one()
    assert _count(engine, audit_log) == before + 1
    assert last.action == "intel.import" and '"created":1' in last.detail


def test_vulnerability_and_scos_are_searchable(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    data = bundle(
        {
            "type": "vulnerability",
            "spec_version": "2.1",
            "id": "vulnerability--0f0c1c53-7a2b-4c36-8e0b-0b6f0b0e7c11",
            "created": WHEN,
            "modified": WHEN,
            "name": "PAN-OS bug",
            "external_references": [{"source_name": "cve", "external_id": "cve-2024-3400"}],
        },
        {
            "type": "ipv4-addr",
            "spec_version": "2.1",
            "id": "ipv4-addr--3c2a7b0e-1f6d-5e4a-9b8c-7d6e5f4a3b2c",
            "value": "198.51.100.7/32",
        },
        {
            "type": "file",
            "spec_version": "2.1",
            "id": "file--4d3b8c1f-2a7e-5f5b-8c9d-8e7f6a5b4c3d",
            "hashes": {"SHA-256": "A" * 64},
            "name": "dropper.exe",
        },
    )
    with engine.begin() as conn:
        _import(conn, trail, data, orgs["cn"])
    with engine.connect() as conn:
        values = set(conn.execute(select(observables.c.type, observables.c.value)).all())
    assert values == {
        ("cve", "CVE-2024-3400"),
        ("ipv4", "198.51.100.7"),
        ("sha256", "a" * 64),
        ("filename", "dropper.exe"),
    }


def test_labels_are_stored_for_tag_search_and_bad_ones_located(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    from steppe.storage.schema import object_labels

    with engine.begin() as conn:
        _import(
            conn,
            trail,
            bundle(indicator("a.example", labels=["apt", "phishing", "apt"])),
            orgs["cn"],
        )
    with engine.connect() as conn:
        assert sorted(conn.execute(select(object_labels.c.label)).scalars()) == ["apt", "phishing"]
    with (
        pytest.raises(InvalidStix, match=r"objects\[0\]\.labels\[1\]: must be a non-empty string"),
        engine.begin() as conn,
    ):
        _import(conn, trail, bundle(indicator("b.example", labels=["ok", ""])), orgs["cn"])
