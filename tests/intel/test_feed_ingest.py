"""The fast path of list feeds: deterministic, valid STIX indicators with provenance,
re-pulls that version, expire and bump last_seen without duplicating anything."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, func, select

from conftest import KEY
from steppe.audit.trail import AuditTrail
from steppe.ingest.intel import PRESETS, RowProblem, read_list
from steppe.intel.bodies import BODY_COLUMNS, body_object, body_text
from steppe.intel.config import IntelConfig
from steppe.intel.correlation import CorrelationConfig, correlation_rows
from steppe.intel.feed_ingest import (
    FEED_NAMESPACE,
    FeedEntry,
    indicator_id,
    ingest_entries,
    pattern_of,
    version_stamp,
)
from steppe.intel.feeds import Feed, FeedFormat, FeedSpec, add_feed, find_feed, record_pull
from steppe.intel.observables import ObservableType
from steppe.intel.patterns import parse_pattern
from steppe.intel.provenance import Source, sources_of_values
from steppe.sharing import directory
from steppe.sharing.model import Actor, Distribution, OrgKind, Role, TlpLevel
from steppe.storage import migrate
from steppe.storage.engine import make_engine, writing
from steppe.storage.schema import feed_entries, intel_objects, observables

ROOT = Path(__file__).resolve().parents[2]
IPSUM = ROOT / "tests" / "data" / "feeds" / "ipsum" / "ipsum.txt"
IP = ObservableType.IPV4


def _feed(engine: Engine, name: str = "list") -> Feed:
    trail = AuditTrail(KEY, "test")
    with writing(engine) as conn:
        try:
            org = directory.find_organisation(conn, "Center")
        except Exception:
            org = directory.add_organisation(conn, trail, "Center", None, OrgKind.COORDINATOR)
        spec = FeedSpec(
            name, "file:///dev/null", FeedFormat.PLAIN, org, Distribution.COMMUNITY, TlpLevel.CLEAR
        )
        return add_feed(conn, trail, spec)


def _pull(engine: Engine, name: str, entries: list[FeedEntry]) -> dict[str, int]:
    with writing(engine) as conn:
        feed = find_feed(conn, name)
        stamp = version_stamp(feed)
        stats = ingest_entries(conn, feed, entries, stamp=stamp)
        from steppe.intel.feeds import record_pull

        record_pull(conn, feed, at=stamp, status="ok", stats=stats.as_dict(), version_at=stamp)
    return {k: v for k, v in stats.as_dict().items() if k != "seconds"}


def test_indicator_ids_are_uuid5_of_feed_type_and_value() -> None:
    expected = f"indicator--{uuid.uuid5(FEED_NAMESPACE, '7:ipv4:198.51.100.7')}"
    assert indicator_id(7, "ipv4", "198.51.100.7") == expected
    assert indicator_id(8, "ipv4", "198.51.100.7") != expected


@given(feed_id=st.integers(1, 10**9), kind=st.sampled_from(list(ObservableType)), value=st.text())
def test_indicator_ids_equal_uuid5_for_any_value(
    feed_id: int, kind: ObservableType, value: str
) -> None:
    """indicator_id writes uuid5 out by hand: every version and variant digit as uuid5's."""
    name = f"{feed_id}:{kind.value}:{value}"
    expected = f"indicator--{uuid.uuid5(FEED_NAMESPACE, name)}"
    assert indicator_id(feed_id, kind.value, value) == expected


_VALUES = {
    "ipv4": "198.51.100.7",
    "ipv6": "2001:db8::1",
    "cidr": "10.0.0.0/8",
    "domain": "evil.example",
    "url": "http://evil.example/a'b\\c",
    "email": "bad@evil.example",
    "md5": "d41d8cd98f00b204e9800998ecf8427e",
    "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "filename": "evil.exe",
    "asn": "AS64496",
}


@pytest.mark.parametrize("kind", sorted(_VALUES))
def test_patterns_give_back_the_value(kind: str) -> None:
    parsed = parse_pattern(pattern_of(kind, _VALUES[kind]))
    assert parsed.matchable
    assert [(o.type.value, o.value) for o in parsed.observables] == [(kind, _VALUES[kind])]


@given(st.from_regex(r"[a-z0-9]{1,20}\.example", fullmatch=True))
def test_domain_patterns_round_trip(domain: str) -> None:
    parsed = parse_pattern(pattern_of("domain", domain))
    assert [o.value for o in parsed.observables] == [domain]


def test_stored_bodies_are_valid_stix(sqlite_engine: Engine) -> None:
    from stix2validator import ValidationOptions, validate_instance

    _feed(sqlite_engine)
    entries = [FeedEntry(ObservableType(k), v, 60, "a comment") for k, v in sorted(_VALUES.items())]
    _pull(sqlite_engine, "list", entries)
    with sqlite_engine.connect() as conn:
        bodies = _rendered(conn)
    assert len(bodies) == len(_VALUES)
    for body in bodies:
        result = validate_instance(orjson.loads(body), ValidationOptions(version="2.1"))
        assert result.is_valid, [str(e) for e in result.errors]


def _rendered(conn: Connection) -> list[str]:
    """Every stored version's body as readers see it (rendered from its row), by pk."""
    o = intel_objects
    rows = conn.execute(select(*(o.c[n] for n in BODY_COLUMNS)).order_by(o.c.pk))
    return [body_text(*row) for row in rows]


def _current(engine: Engine) -> dict[str, dict[str, object]]:
    o = intel_objects
    with engine.connect() as conn:
        rows = conn.execute(
            select(observables.c.value, *(o.c[n] for n in BODY_COLUMNS))
            .join(o, o.c.pk == observables.c.object_pk)
            .where(o.c.is_current.is_(True))
        ).all()
    return {value: body_object(*body) for value, *body in rows}


_ADMIN = Actor(0, "root", 1, OrgKind.COORDINATOR, frozenset({Role.ADMIN}))


def _last_seen(conn: Connection) -> dict[str, str]:
    """last_seen as the provenance view gives it (to the owner's admin)."""
    found = sources_of_values(conn, _ADMIN, [("ipv4", f"77.90.185.{i}") for i in (1, 2, 3)])
    return {v: s[0].last_seen for (_k, v), s in found.items() if s}


def _sources(conn: Connection, value: str) -> list[Source]:
    """An IPv4 value's listings as the provenance view gives them (to the owner's admin)."""
    return sources_of_values(conn, _ADMIN, [("ipv4", value)])[("ipv4", value)]


def test_repulls_version_expire_and_bump_last_seen(engine: Engine) -> None:
    _feed(engine)
    a, b, c = "77.90.185.1", "77.90.185.2", "77.90.185.3"
    first = _pull(engine, "list", [FeedEntry(IP, a, 50), FeedEntry(IP, b, 50)])
    first.pop("correlated")  # counted by steppe.intel.correlation, tested there
    assert first == {
        "warninglisted": 0,
        "entries": 2,
        "new": 2,
        "updated": 0,
        "unchanged": 0,
        "expired": 0,
        "bad_rows": 0,
    }
    before = _current(engine)
    with engine.connect() as conn:
        seen_before = _last_seen(conn)

    # Same list again: nothing new is written, last_seen moves.
    again = _pull(engine, "list", [FeedEntry(IP, a, 50), FeedEntry(IP, b, 50)])
    assert again["unchanged"] == 2 and again["new"] == again["updated"] == 0
    assert _current(engine) == before
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(intel_objects)).scalar() == 2
        seen_after = _last_seen(conn)
    assert all(seen_after[v] > seen_before[v] for v in (a, b))

    # a's confidence changes, b leaves the list, c arrives.
    third = _pull(engine, "list", [FeedEntry(IP, a, 90), FeedEntry(IP, c, 10)])
    assert (third["new"], third["updated"], third["expired"], third["unchanged"]) == (1, 1, 1, 0)
    now = _current(engine)
    assert now[a]["confidence"] == 90 and now[a]["id"] == before[a]["id"]
    assert now[a]["created"] == before[a]["created"] and now[a]["modified"] > before[a]["modified"]
    assert "valid_until" in now[b] and now[b]["confidence"] == 50
    assert c in now
    with engine.connect() as conn:
        versions = conn.execute(
            select(func.count()).where(intel_objects.c.stix_id == before[a]["id"])
        ).scalar()
        expired = _sources(conn, b)[0].expired_at
    assert versions == 2 and expired is not None
    with engine.connect() as conn:
        assert seen_after[b] == _last_seen(conn)[b] < expired  # last listed by the 2nd pull

    # b comes back: a new version, valid again.
    fourth = _pull(
        engine, "list", [FeedEntry(IP, a, 90), FeedEntry(IP, b, 50), FeedEntry(IP, c, 10)]
    )
    assert (fourth["updated"], fourth["unchanged"]) == (1, 2)
    assert "valid_until" not in _current(engine)[b]


def test_a_value_listed_twice_is_one_entry_with_its_highest_confidence(
    sqlite_engine: Engine,
) -> None:
    _feed(sqlite_engine)
    stats = _pull(
        sqlite_engine, "list", [FeedEntry(IP, "192.0.2.1", 20), FeedEntry(IP, "192.0.2.1", 70)]
    )
    assert stats["entries"] == 1
    assert _current(sqlite_engine)["192.0.2.1"]["confidence"] == 70


def test_warninglisted_values_are_stored_but_not_matchable(sqlite_engine: Engine) -> None:
    _feed(sqlite_engine)
    stats = _pull(
        sqlite_engine, "list", [FeedEntry(IP, "198.51.100.7"), FeedEntry(IP, "77.90.185.9")]
    )
    assert stats["warninglisted"] == 1  # 198.51.100.0/24 is TEST-NET-2 (RFC 5737)
    with sqlite_engine.connect() as conn:
        rows = dict(
            conn.execute(
                select(observables.c.value, intel_objects.c.matchable).join(
                    intel_objects, intel_objects.c.pk == observables.c.object_pk
                )
            ).all()
        )
        flags, note = conn.execute(
            select(observables.c.warninglists, intel_objects.c.pattern_note)
            .join(intel_objects, intel_objects.c.pk == observables.c.object_pk)
            .where(observables.c.value == "198.51.100.7")
        ).one()
    assert rows == {"198.51.100.7": False, "77.90.185.9": True}
    assert flags
    # The note names every list, in the order of the flags (made in SQL on SQLite).
    assert note == "on a warninglist: " + "; ".join(flags.split("\n"))


def test_a_value_in_two_feeds_is_correlated(sqlite_engine: Engine) -> None:
    _feed(sqlite_engine, "one")
    _feed(sqlite_engine, "two")
    _pull(sqlite_engine, "one", [FeedEntry(IP, "77.90.185.9"), FeedEntry(IP, "77.90.185.10")])
    with sqlite_engine.connect() as conn:
        assert correlation_rows(conn) == 0  # one carrier each: related to nothing, no rows
    # the first feed's indicator joins the value with the second's
    assert _pull(sqlite_engine, "two", [FeedEntry(IP, "77.90.185.9")])["correlated"] == 2
    with sqlite_engine.connect() as conn:
        assert correlation_rows(conn) == 2


def _ipsum_entries(limit: int | None = None) -> list[FeedEntry]:
    if not IPSUM.exists():
        pytest.skip("tests/data/feeds/ipsum/ipsum.txt is missing")
    items = list(read_list(IPSUM.read_bytes(), PRESETS["ipsum"], "ipsum.txt"))
    assert not [i for i in items if isinstance(i, RowProblem)]
    entries = [
        FeedEntry(i.type, i.value, i.confidence) for i in items if not isinstance(i, RowProblem)
    ]
    return entries[:limit] if limit else entries


def test_the_whole_ipsum_feed_lands_on_sqlite(sqlite_engine: Engine) -> None:
    entries = _ipsum_entries()
    assert len(entries) > 120_000
    _feed(sqlite_engine, "ipsum")
    stats = _pull(sqlite_engine, "ipsum", entries)
    assert stats["new"] == len({e.value for e in entries})
    with sqlite_engine.connect() as conn:
        count = conn.execute(
            select(func.count()).select_from(observables).where(observables.c.type == "ipv4")
        ).scalar()
        top = _sources(conn, "77.90.185.20")[0].confidence
        by_pk = select(intel_objects.c.stix_id).order_by(intel_objects.c.pk)
        ids = list(conn.execute(by_pk).scalars())
    assert count == stats["new"]
    assert top == 100  # listed by 10 blocklists
    # New indicators are stored in the order of their ids (the unique index on stix_id
    # grows at its end), sorted a bucket at a time before and during the batches.
    assert len(ids) == stats["new"] and ids == sorted(ids)


@pytest.mark.postgres
def test_an_ipsum_slice_lands_on_postgresql(pg_engine: Engine) -> None:
    entries = _ipsum_entries(20_000)
    _feed(pg_engine, "ipsum")
    assert _pull(pg_engine, "ipsum", entries)["new"] == 20_000
    again = _pull(pg_engine, "ipsum", entries[:19_000])
    assert (again["unchanged"], again["expired"]) == (19_000, 1_000)


def test_batches_on_the_writer_thread_give_the_same_store(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import steppe.intel.feed_ingest as feed_ingest

    monkeypatch.setattr(feed_ingest, "BATCH_SIZE", 3)
    monkeypatch.setattr(feed_ingest, "FIRST_BATCH_SIZE", 2)  # the first batch is smaller
    _feed(engine)
    values = [f"77.90.186.{i}" for i in range(10)]
    first = _pull(engine, "list", [FeedEntry(IP, v, 10) for v in values])
    assert first["new"] == 10
    # Four new, two changed, five gone: 11 versions in batches of 2, 3, 3 and 3.
    second = [FeedEntry(IP, v, 10) for v in values[:5]]
    second[0] = FeedEntry(IP, values[0], 90)
    second[1] = FeedEntry(IP, values[1], 80)
    second += [FeedEntry(IP, f"77.90.187.{i}", 5) for i in range(4)]
    stats = _pull(engine, "list", second)
    assert (stats["new"], stats["updated"], stats["expired"], stats["unchanged"]) == (4, 2, 5, 3)
    now = _current(engine)
    assert len(now) == 14 and now[values[0]]["confidence"] == 90
    assert all("valid_until" in now[v] for v in values[5:])
    with engine.connect() as conn:
        entries = conn.execute(select(func.count()).select_from(feed_entries)).scalar()
        current = conn.execute(
            select(func.count()).where(intel_objects.c.is_current.is_(True))
        ).scalar()
    assert entries == current == 14
    # Each version's observable, body and listing are its own value's, batch after batch
    # (the stage numbers a batch's rows from 1; their pks are that plus the batch's base).
    assert all(now[v]["pattern"] == f"[ipv4-addr:value = '{v}']" for v in now)
    with engine.connect() as conn:
        for v, obj in now.items():
            (source,) = _sources(conn, v)
            assert (source.stix_id, source.confidence) == (obj["id"], obj.get("confidence"))
            assert (source.expired_at is None) == ("valid_until" not in obj)


# --- the SQLite stage against the row-by-row path (PostgreSQL's), on the same pulls

_POOL = [
    (IP, "77.90.185.1"),
    (IP, "77.90.185.2"),
    (IP, "77.90.185.3"),
    (IP, "198.51.100.7"),  # on a warninglist: stored, not matchable, not correlated
    (IP, "203.0.113.50"),  # in the correlation exclusions below
    (ObservableType.DOMAIN, "evil.example"),
    (ObservableType.URL, "http://evil.example/a'b\\c\"d"),
    (ObservableType.SHA256, "ab" * 32),
    (ObservableType.EMAIL, "bad@evil.example"),
    (ObservableType.CIDR, "10.0.0.0/8"),
]
#: Comments some entries carry (their versions take the stage's every column).
_COMMENTS = {1: 'c2 of "x"', 5: "phishing"}
_CONFIG = IntelConfig(correlation=CorrelationConfig(cap=2, exclusions=frozenset({"203.0.113.50"})))
#: A pull: which feed (0 or 1), its entries ({pool index: confidence}), whole or partial.
_PULLS = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.dictionaries(
            st.integers(0, len(_POOL) - 1), st.sampled_from([None, 10, 50, 90]), max_size=10
        ),
        st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with two feeds (one for a sharing group), to copy per run."""
    path = tmp_path_factory.mktemp("stage") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    trail = AuditTrail(KEY, "test")
    with writing(engine) as conn:
        org = directory.add_organisation(conn, trail, "Center", None, OrgKind.COORDINATOR)
        group = directory.add_group(conn, trail, "CSTO", org)
        for name, dist, groups in [
            ("zero", Distribution.COMMUNITY, ()),
            ("one", Distribution.GROUPS, (group,)),
        ]:
            spec = FeedSpec(
                name, "file:///dev/null", FeedFormat.PLAIN, org, dist, TlpLevel.CLEAR, groups
            )
            add_feed(conn, trail, spec)
    engine.dispose()
    return path


def _store_after(
    template: Path, folder: Path, pulls: list[tuple[int, dict[int, int | None], bool]]
) -> dict[str, list[tuple[object, ...]]]:
    """Every table the fast path writes, after ``pulls`` (fixed stamps)."""
    path = folder / "steppe.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    for n, (which, chosen, complete) in enumerate(pulls):
        stamp = f"2026-11-0{n + 1}T00:00:00.000000Z"
        entries = [
            FeedEntry(*_POOL[i], confidence, _COMMENTS.get(i)) for i, confidence in chosen.items()
        ]
        with writing(engine) as conn:
            feed = find_feed(conn, ("zero", "one")[which])
            ingest_entries(conn, feed, entries, stamp=stamp, complete=complete, config=_CONFIG)
            record_pull(conn, feed, at=stamp, status="ok", version_at=stamp)
    tables = {
        "intel_objects": "SELECT * FROM intel_objects ORDER BY pk",
        "observables": "SELECT * FROM observables ORDER BY id",
        "object_groups": "SELECT * FROM object_groups ORDER BY object_pk, group_id",
        "feed_entries": "SELECT * FROM feed_entries ORDER BY object_pk",
        "correlation_values": "SELECT * FROM correlation_values ORDER BY id",
        "correlations": "SELECT * FROM correlations ORDER BY value_id, object_pk",
        "id_sequences": "SELECT * FROM id_sequences ORDER BY name",
    }
    imported_at = list(intel_objects.c.keys()).index("imported_at")
    with engine.connect() as conn:
        store = {
            name: [
                tuple(None if name == "intel_objects" and i == imported_at else v
                      for i, v in enumerate(row))
                for row in conn.exec_driver_sql(sql)
            ]
            for name, sql in tables.items()
        }  # fmt: skip
        store["bodies"] = [(body,) for body in _rendered(conn)]  # as every reader sees them
    engine.dispose()
    return store


@settings(max_examples=25, deadline=None)
@given(pulls=_PULLS)
def test_the_sqlite_stage_stores_what_the_row_path_stores(
    migrated: Path, pulls: list[tuple[int, dict[int, int | None], bool]]
) -> None:
    import steppe.intel.feed_ingest as feed_ingest

    with tempfile.TemporaryDirectory() as staged, tempfile.TemporaryDirectory() as rows:
        assert feed_ingest.STAGED_SQLITE
        fast = _store_after(migrated, Path(staged), pulls)
        feed_ingest.STAGED_SQLITE = False
        try:
            reference = _store_after(migrated, Path(rows), pulls)
        finally:
            feed_ingest.STAGED_SQLITE = True
    assert fast == reference
    if any(chosen for _w, chosen, _c in pulls):
        assert fast["intel_objects"]


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from([t.value for t in ObservableType]), value=st.text(max_size=80))
def test_the_stage_writes_a_new_entrys_marker_as_feed_marker_does(kind: str, value: str) -> None:
    # New entries' body markers are made in SQL (feed_ingest._MARKER_SQL): byte for byte
    # what feed_marker makes for the row path and the versions with a comment.
    import sqlite3

    from steppe.intel.bodies import feed_marker
    from steppe.intel.feed_ingest import _MARKER_SQL

    with sqlite3.connect(":memory:") as db:
        (made,) = db.execute(
            f"SELECT {_MARKER_SQL} FROM (SELECT ? AS type, ? AS value)", (kind, value)
        ).fetchone()
    assert made == feed_marker(kind, value, None)
