"""Importing STIX 2.1: versions, observables, marking checks, and nothing half-written."""

from __future__ import annotations

import orjson
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
        indicator("91.92.93.94", "ipv4-addr:value"),
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
    assert values == {("domain", "evil.example"), ("ipv4", "91.92.93.94")}


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


# --------------------------------------------------------------------------- batches
#
# Big imports go in batches, checked on the calling thread while a writer thread inserts
# the batch before; these use tiny batches so that every case crosses batch boundaries,
# and compare with one batch (no writer thread), on both databases.


def _versions(engine: Engine) -> list[tuple[str, str, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(intel_objects.c.stix_id, intel_objects.c.modified, intel_objects.c.is_current)
        ).all()
    return sorted((r[0], r[1], bool(r[2])) for r in rows)


def _counts(report: object) -> tuple[int, int, int, int]:
    return (
        report.created,  # type: ignore[attr-defined]
        report.new_versions,  # type: ignore[attr-defined]
        report.older_versions,  # type: ignore[attr-defined]
        report.unchanged,  # type: ignore[attr-defined]
    )


def _at(day: int) -> str:
    return f"2026-01-{day:02d}T00:00:00.000Z"


def _stored(day: int) -> str:
    return f"2026-01-{day:02d}T00:00:00.000000Z"


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_versions_across_batches_are_decided_over_the_whole_bundle(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation], batch_size: int
) -> None:
    a = indicator("a.example", created=_at(1), modified=_at(1))
    b = indicator("b.example")
    c = indicator("c.example")
    d = indicator("d.example")
    data = bundle(
        a,
        b,
        dict(a, modified=_at(3)),  # newer: current, demotes the first (same or earlier batch)
        c,
        dict(a, modified=_at(2)),  # older than the current one, in a later batch
        dict(b),  # the same version twice: unchanged
        d,
        dict(d, modified="2026-01-05T00:00:00Z"),  # newer, right behind it
    )
    with engine.begin() as conn:
        report = import_objects(
            conn,
            trail,
            data,
            read_bundle(data, "feed.json"),
            owner=orgs["cn"],
            marking=DEFAULT_MARKING,
            source="feed.json",
            batch_size=batch_size,
        )
    # Counted as before batches existed: several new versions of one id are one new
    # version (the newest) and older ones.
    assert _counts(report) == (2, 2, 3, 1)
    assert report.objects == 8 and report.observables == 7
    assert _versions(engine) == sorted(
        [
            (a["id"], _stored(1), False),
            (a["id"], _stored(2), False),
            (a["id"], _stored(3), True),
            (b["id"], _stored(1), True),
            (c["id"], _stored(1), True),
            (d["id"], _stored(1), False),
            (d["id"], _stored(5), True),
        ]
    )


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_stored_versions_are_found_in_every_batch(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation], batch_size: int
) -> None:
    a = indicator("a.example", created=_at(1), modified=_at(2))
    b = indicator("b.example", created=_at(1), modified=_at(2))
    with engine.begin() as conn:
        _import(conn, trail, bundle(a, b), orgs["cn"])
    data = bundle(
        indicator("new.example"),
        dict(a, modified=_at(1)),  # older than the stored one
        dict(b, modified=_at(3)),  # newer: demotes the stored row
        dict(a),  # unchanged
        dict(b, modified=_at(4)),  # newer still, in a later batch
    )
    with engine.begin() as conn:
        report = import_objects(
            conn,
            trail,
            data,
            read_bundle(data, "feed.json"),
            owner=orgs["cn"],
            marking=DEFAULT_MARKING,
            source="feed.json",
            batch_size=batch_size,
        )
    assert _counts(report) == (1, 1, 2, 1)
    rows = [r for r in _versions(engine) if r[0] in (a["id"], b["id"])]
    assert rows == sorted(
        [
            (a["id"], _stored(1), False),
            (a["id"], _stored(2), True),
            (b["id"], _stored(2), False),
            (b["id"], _stored(3), False),
            (b["id"], _stored(4), True),
        ]
    )


@pytest.mark.parametrize("count", [6, 7])
def test_batch_boundaries_store_everything_once_and_report_progress(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation], count: int
) -> None:
    objects = [
        indicator(f"h{i}.example", labels=[f"l{i}"], object_marking_refs=[]) for i in range(count)
    ]
    objects[3] = indicator(
        "x", pattern="[domain-name:value = 'p.example' OR ipv4-addr:value = '10.0.0.3']"
    )
    data = bundle(*objects)
    seen: list[int] = []
    with engine.begin() as conn:
        groups = (directory.find_group(conn, "QCCM"),)
        report = import_objects(
            conn,
            trail,
            data,
            read_bundle(data, "feed.json"),
            owner=orgs["cn"],
            marking=Marking(Distribution.GROUPS, TlpLevel.AMBER, groups),
            source="feed.json",
            progress=seen.append,
            batch_size=3,
        )
    assert seen == [3] * (count // 3) + ([count % 3] if count % 3 else [])
    assert report.created == count and report.observables == count + 1
    from steppe.storage.schema import object_groups, object_labels

    with engine.connect() as conn:
        pks = list(conn.execute(select(intel_objects.c.pk).order_by(intel_objects.c.pk)).scalars())
        obs = conn.execute(select(observables.c.id, observables.c.object_pk)).all()
        labels = conn.execute(select(object_labels.c.object_pk, object_labels.c.label)).all()
        grouped = conn.execute(select(object_groups.c.object_pk)).scalars().all()
        bodies = dict(conn.execute(select(intel_objects.c.stix_id, intel_objects.c.body)).all())
    assert pks == list(range(pks[0], pks[0] + count))  # one block, no gaps
    assert len({i for i, _ in obs}) == len(obs) == count + 1
    assert {pk for _, pk in obs} == set(pks)
    assert len(labels) == count - 1 and sorted(grouped) == pks
    # The body is the object as received, in orjson's compact form.
    assert bodies == {o["id"]: orjson.dumps(o).decode() for o in objects}
    with engine.begin() as conn:
        from steppe.storage.ids import allocate_ids

        assert allocate_ids(conn, "intel_objects", 0).start == pks[-1] + 1
        assert allocate_ids(conn, "observables", 0).start == max(i for i, _ in obs) + 1


def _id_sequences(engine: Engine) -> dict[str, int]:
    from steppe.storage.schema import id_sequences

    with engine.connect() as conn:
        return dict(conn.execute(select(id_sequences.c.name, id_sequences.c.next_id)).all())  # type: ignore[arg-type]


def test_error_in_a_late_batch_is_located_and_leaves_nothing(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    objects = [indicator(f"h{i}.example") for i in range(9)]
    del objects[7]["valid_from"]
    data = bundle(*objects)
    before = (_count(engine, audit_log), _id_sequences(engine))
    with (
        pytest.raises(
            InvalidStix, match=r"^feed.json:\d+: objects\[7\]\.valid_from: valid_from is required$"
        ),
        engine.begin() as conn,
    ):
        import_objects(
            conn,
            trail,
            data,
            read_bundle(data, "feed.json"),
            owner=orgs["cn"],
            marking=DEFAULT_MARKING,
            source="feed.json",
            batch_size=2,  # batches 0-2 are written before batch 3 is checked
        )
    assert _count(engine, intel_objects) == 0
    assert _count(engine, observables) == 0
    assert (_count(engine, audit_log), _id_sequences(engine)) == before


def test_a_caller_that_carries_on_after_an_error_commits_nothing_of_the_import(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    objects = [indicator(f"h{i}.example") for i in range(5)]
    objects[4]["confidence"] = 200
    data = bundle(*objects)
    with engine.begin() as conn:
        with pytest.raises(InvalidStix, match=r"objects\[4\]\.confidence"):
            import_objects(
                conn,
                trail,
                data,
                read_bundle(data, "feed.json"),
                owner=orgs["cn"],
                marking=DEFAULT_MARKING,
                source="feed.json",
                batch_size=2,
            )
        # The same transaction goes on and commits: the import ran in a savepoint.
        _import(conn, trail, bundle(indicator("fine.example")), orgs["cn"])
    with engine.connect() as conn:
        names = conn.execute(select(intel_objects.c.name)).scalars().all()
    assert names == ["test fine.example"]


def _fail_inserts_of(engine: Engine, stix_id: str) -> None:
    """A real database error on one row: a trigger that refuses it."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.stix_id = '{stix_id}' THEN RAISE EXCEPTION 'refused by test'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON intel_objects "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON intel_objects "
                f"WHEN NEW.stix_id = '{stix_id}' BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
            )


@pytest.mark.parametrize("batch_size", [2, 1000])
def test_database_error_on_the_writer_leaves_nothing(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation], batch_size: int
) -> None:
    objects = [indicator(f"h{i}.example") for i in range(9)]
    _fail_inserts_of(engine, objects[6]["id"])
    data = bundle(*objects)
    before = (_count(engine, audit_log), _id_sequences(engine))
    with pytest.raises(Exception, match="refused by test"), engine.begin() as conn:
        import_objects(
            conn,
            trail,
            data,
            read_bundle(data, "feed.json"),
            owner=orgs["cn"],
            marking=DEFAULT_MARKING,
            source="feed.json",
            batch_size=batch_size,
        )
    assert _count(engine, intel_objects) == 0
    assert _count(engine, observables) == 0
    assert (_count(engine, audit_log), _id_sequences(engine)) == before
    # The connection pool is still usable: the next import works.
    with engine.begin() as conn:
        report = _import(conn, trail, bundle(objects[0]), orgs["cn"])
    assert report.created == 1  # type: ignore[attr-defined]


def test_object_too_deep_to_store_is_located(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    # 300 levels: orjson reads up to 1,024 but writes only 255.
    data = bundle(indicator("a.example"), indicator("b.example", x_deep="deep"), pretty=False)
    data = data.replace(b'"deep"', b"[" * 300 + b"]" * 300)
    with (
        pytest.raises(InvalidStix, match=r"^feed.json:1: objects\[1\]: cannot be stored as JSON"),
        engine.begin() as conn,
    ):
        _import(conn, trail, data, orgs["cn"])
    assert _count(engine, intel_objects) == 0


def test_a_malformed_id_is_reported_by_the_checks_not_the_database(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    # Ids are looked up before objects are checked; PostgreSQL refuses text with NUL.
    bad = indicator("b.example", id="indicator--\u0000")
    data = bundle(indicator("a.example"), bad, indicator("c.example", id="indicator--ü"))
    with (
        pytest.raises(InvalidStix, match=r"objects\[1\]\.id: .* is not a STIX id"),
        engine.begin() as conn,
    ):
        _import(conn, trail, data, orgs["cn"])


def test_nul_characters_and_long_custom_types(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    bad = indicator("a.example", description="has a \x00 inside")
    with (
        pytest.raises(InvalidStix, match=r"objects\[0\]: contains a NUL character"),
        engine.begin() as conn,
    ):
        _import(conn, trail, bundle(bad), orgs["cn"])
    long_type = "x-" + "a" * 248
    custom = {
        "type": long_type,
        "spec_version": "2.1",
        "id": f"{long_type}--6b2c4f0e-3f5a-4a57-9d1e-2e1a3d6f9c10",
        "created": WHEN,
        "modified": WHEN,
    }
    with engine.begin() as conn:
        report = _import(conn, trail, bundle(custom), orgs["cn"])
    assert report.created == 1  # type: ignore[attr-defined]


def test_correlations_of_an_import_are_those_read_back_from_the_tables(
    engine: Engine, trail: AuditTrail, orgs: dict[str, directory.Organisation]
) -> None:
    """The importer correlates the observables it holds; reading them back from the
    tables (correlate, the reference) finds the same: superseded versions, values on a
    warninglist and values of objects in other batches included."""
    from steppe.intel.correlation import correlate
    from steppe.storage.schema import correlation_values, correlations

    shared = "[domain-name:value = 'shared.bad.test'] OR [ipv4-addr:value = '8.8.8.8']"
    first = indicator("a", pattern=shared, modified="2026-01-15T00:00:00.000Z")
    newer = {
        **first,
        "modified": "2026-02-01T00:00:00.000Z",
        "pattern": "[url:value = 'http://x.bad.test/a']",
    }
    older = {**first, "modified": WHEN, "pattern": "[url:value = 'http://x.bad.test/a']"}
    others = [indicator(f"o{i}", pattern=shared if i % 2 else f"[domain-name:value = 'o{i % 3}.bad.test']") for i in range(7)]  # fmt: skip
    sco = {"type": "domain-name", "spec_version": "2.1", "id": "domain-name--5c2e4a4f-32b3-5a3e-9e4e-3f5bd7a1c3d1", "value": "shared.bad.test"}  # fmt: skip
    objects = [first, *others[:3], newer, *others[3:], older, sco]
    data = orjson.dumps({"type": "bundle", "objects": objects})

    def state(conn: Connection) -> set[tuple[str, str, int, bool, int]]:
        return {
            (r.type, r.value, r.members, bool(r.over_cap), r.object_pk)
            for r in conn.execute(
                select(correlation_values, correlations.c.object_pk).join(
                    correlations, correlations.c.value_id == correlation_values.c.id
                )
            )
        }

    with engine.connect() as conn, conn.begin():
        import_objects(conn, trail, data, objects, owner=orgs["cn"], marking=DEFAULT_MARKING,
                       source="feed.json", batch_size=3)  # fmt: skip
        held = state(conn)
        pks = list(conn.execute(select(intel_objects.c.pk)).scalars())
        conn.execute(correlations.delete())
        conn.execute(correlation_values.delete())
        correlate(conn, pks)
        assert held == state(conn)
        assert ("domain", "shared.bad.test") in {(t, v) for t, v, *_ in held}
        assert not any(v == "8.8.8.8" for _t, v, *_ in held)  # on a warninglist
