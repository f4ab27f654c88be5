"""STIX ids of exported values are RFC 4122 version-5 UUIDs, as ``uuid.uuid5`` makes;
the STIX bundle's objects, written as text, are exactly the reference objects."""

from __future__ import annotations

import uuid

import orjson
from hypothesis import given
from hypothesis import strategies as st

from steppe.response.exports.documents import (
    _NAMESPACE,
    stix_indicator,
    stix_indicator_json,
    uuid5_text,
)
from steppe.response.exports.selection import ExportEntry
from steppe.sharing.model import TlpLevel


@given(st.text(max_size=200))
def test_uuid5_text_is_uuid5(name: str) -> None:
    made = uuid5_text(name)
    assert made == str(uuid.uuid5(_NAMESPACE, name))
    assert uuid.UUID(made).version == 5


_STAMP = st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
_ENTRIES = st.builds(
    ExportEntry,
    type=st.sampled_from(["ipv4", "ipv6", "cidr", "domain", "url", "sha256", "md5", "email"]),
    # Values with quotes, backslashes, control and non-ASCII characters: the pattern and
    # the name must come out as valid, equal JSON strings.
    value=st.text(min_size=1, max_size=80),
    stix_id=st.uuids().map(lambda u: f"indicator--{u}"),
    observable_id=st.integers(1, 2**40),
    tlp=st.sampled_from([level.value for level in TlpLevel]),
    confidence=st.none() | st.integers(0, 100),
    score=st.none() | st.floats(0, 100),
    name=st.none() | st.text(max_size=300),
    valid_until=st.none() | _STAMP,
    owner=st.text(min_size=1, max_size=20),
    created=st.none() | _STAMP,
    modified=st.none() | _STAMP,
)


@given(_ENTRIES, _STAMP, st.booleans())
def test_the_bundle_s_text_is_the_reference_object(
    entry: ExportEntry, generated_at: str, revoked: bool
) -> None:
    written = orjson.loads(stix_indicator_json(entry, generated_at, revoked))
    assert written == stix_indicator(entry, generated_at, revoked)
