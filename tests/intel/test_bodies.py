"""Feed indicators' bodies rendered on read: byte for byte the bodies the feed path stored
before it kept markers, and the same through every reader of ``intel_objects.body``."""

from __future__ import annotations

import io
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from conftest import KEY
from steppe.audit.trail import AuditTrail
from steppe.federation.collections import Audience, TaxiiCollection
from steppe.federation.reading import ObjectFilter, read_page, serialise_objects
from steppe.intel.bodies import BODY_COLUMNS, body_object, body_text, pattern_of, stix_time
from steppe.intel.feed_ingest import (
    FeedEntry,
    _Versions,
    indicator_id,
    ingest_entries,
    revoke_feed_objects,
)
from steppe.intel.feeds import Feed, FeedFormat, FeedSpec, add_feed, find_feed
from steppe.intel.importer import OBJECT_COLUMNS
from steppe.intel.observables import ObservableType
from steppe.intel.queries import export_bundle, get_object, iter_visible_bodies
from steppe.intel.stix import tlp_marking_id
from steppe.sharing import directory
from steppe.sharing.model import Actor, Distribution, OrgKind, Role, TlpLevel
from steppe.storage.engine import writing
from steppe.storage.schema import intel_objects

_KINDS = ["ipv4", "ipv6", "domain", "url", "email", "md5", "sha1", "sha256", "filename", "cidr"]
_STAMPS = st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z")


def _stored_before(
    feed_name: str,
    stix_id: str,
    kind: str,
    value: str,
    confidence: int | None,
    comment: str | None,
    first_seen: str,
    stamp: str,
    valid_until: str | None,
    revoked: bool,
) -> bytes:
    """The body the feed path stored before markers (its code, as it was)."""
    created = first_seen[:23] + "Z"
    body: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id,
        "created": created,
        "modified": stamp[:23] + "Z",
        "name": f"{feed_name}: " + value,
        "indicator_types": ["malicious-activity"],
        "pattern": pattern_of(kind, value),
        "pattern_type": "stix",
        "valid_from": created,
    }
    if valid_until is not None:
        body["valid_until"] = valid_until[:23] + "Z"
    if confidence is not None:
        body["confidence"] = confidence
    if comment:
        body["description"] = comment
    if revoked:
        body["revoked"] = True
    return orjson.dumps(body)


def _feed(name: str) -> Feed:
    return Feed(
        7, name, 1, "Center", Distribution.COMMUNITY, TlpLevel.CLEAR, frozenset(), (),
        FeedFormat.PLAIN, None, None, "file:///dev/null", None, True, "2026-01-01",
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(min_size=1, max_size=20),
    kind=st.sampled_from(_KINDS),
    value=st.text(min_size=1, max_size=80),
    confidence=st.none() | st.integers(0, 100),
    comment=st.none() | st.text(max_size=60),
    first_seen=_STAMPS,
    stamp=_STAMPS,
    valid_until=st.none() | _STAMPS,
    revoked=st.booleans(),
)
def test_a_rendered_body_is_the_body_stored_before(
    name: str,
    kind: str,
    value: str,
    confidence: int | None,
    comment: str | None,
    first_seen: str,
    stamp: str,
    valid_until: str | None,
    revoked: bool,
) -> None:
    versions = _Versions(_feed(name), stamp, 100, 5, None, revoked=revoked)
    versions.add(kind, value, confidence, comment, first_seen, valid_until)
    (row,) = versions.object_rows()
    columns = dict(zip(OBJECT_COLUMNS, row, strict=True))
    stored = columns["body"]
    assert len(stored) < 200 and stored.startswith("[")  # a marker, not a STIX object
    rendered = body_text(*(columns[n] for n in BODY_COLUMNS))
    stix_id = indicator_id(7, kind, value)
    before = _stored_before(
        name, stix_id, kind, value, confidence, comment, first_seen, stamp, valid_until, revoked
    )
    assert rendered.encode() == before
    assert body_object(*(columns[n] for n in BODY_COLUMNS)) == orjson.loads(before)


def test_a_stored_stix_body_is_read_as_stored() -> None:
    body = '{"type":"indicator","id":"indicator--x","name":"as received"}'
    assert body_text(body, "indicator--x", None, "2026-01-01", None, None, None, False) is body


def test_every_reader_sees_the_rendered_body(sqlite_engine: Engine) -> None:
    trail = AuditTrail(KEY, "test")
    with writing(sqlite_engine) as conn:
        org = directory.add_organisation(conn, trail, "Center", None, OrgKind.COORDINATOR)
        spec = FeedSpec(
            "hashes",
            "file:///dev/null",
            FeedFormat.PLAIN,
            org,
            Distribution.COMMUNITY,
            TlpLevel.GREEN,
        )
        add_feed(conn, trail, spec)
        feed = find_feed(conn, "hashes")
        entries = [
            FeedEntry(ObservableType.SHA256, "ab" * 32, 80, "Dark Caracal 'loader'"),
            FeedEntry(ObservableType.DOMAIN, "evil.example"),
        ]
        ingest_entries(conn, feed, entries, stamp="2026-11-02T03:04:05.678000Z")
    admin = Actor(0, "root", org.id, OrgKind.COORDINATOR, frozenset({Role.ADMIN}))
    stix_id = indicator_id(feed.id, "sha256", "ab" * 32)
    expected = orjson.loads(
        _stored_before(
            "hashes",
            stix_id,
            "sha256",
            "ab" * 32,
            80,
            "Dark Caracal 'loader'",
            "2026-11-02T03:04:05.678000Z",
            "2026-11-02T03:04:05.678000Z",
            None,
            False,
        )
    )
    marked = {**expected, "object_marking_refs": [tlp_marking_id(TlpLevel.GREEN)]}
    with sqlite_engine.connect() as conn:
        raw = conn.execute(select(intel_objects.c.body).where(intel_objects.c.stix_id == stix_id))
        assert raw.scalar_one() == '["sha256","' + "ab" * 32 + '","Dark Caracal \'loader\'"]'
        assert get_object(conn, admin, stix_id) == marked  # REST, CLI, web, tagging, remarks
        bodies = {o["id"]: o for o in iter_visible_bodies(conn, admin)}
        assert bodies[stix_id] == marked
        out = io.BytesIO()
        export_bundle(conn, admin, out, bundle_id="bundle--1")
        exported = {o["id"]: o for o in orjson.loads(out.getvalue())["objects"]}
        assert exported[stix_id] == marked
        collection = TaxiiCollection(
            "c", "community", "Community", "", Audience.COMMUNITY, can_read=True, can_write=False
        )
        page = read_page(conn, admin, collection, ObjectFilter(), limit=10)
        served = {o["id"]: o for o in orjson.loads("[" + serialise_objects(page.rows) + "]")}
        assert served[stix_id] == marked
    # A revoked version renders its revocation.
    with writing(sqlite_engine) as conn:
        revoke_feed_objects(conn, find_feed(conn, "hashes"), "2026-11-03T00:00:00.000000Z")
    with sqlite_engine.connect() as conn:
        revoked = get_object(conn, admin, stix_id)
    assert revoked["revoked"] is True and revoked["modified"] == stix_time(
        "2026-11-03T00:00:00.000000Z"
    )
