"""STIX ids of exported values are RFC 4122 version-5 UUIDs, as ``uuid.uuid5`` makes;
the STIX bundle's objects, written as text, are exactly the reference objects; CSV rows
are exactly what the csv module writes."""

from __future__ import annotations

import csv
import io
import uuid

import orjson
from hypothesis import given
from hypothesis import strategies as st

from steppe.response.exports.base import ExportContext
from steppe.response.exports.documents import (
    _NAMESPACE,
    CSV_COLUMNS,
    CsvRows,
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


@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "remove"]), _ENTRIES)
        | st.tuples(
            st.just("add"),
            # Text that needs quoting, and text that looks as if it might.
            _ENTRIES.map(lambda e: e._replace(value='a,"b"\r\n', name=" ,", owner='"')),
        ),
        max_size=5,
    )
)
def test_csv_rows_are_what_the_csv_module_writes(changes: list[tuple[str, ExportEntry]]) -> None:
    context = ExportContext("2026-01-01T00:00:00.000000Z", "cursor", False, "KZ-CERT")
    written = b"".join(CsvRows(context).render(changes)).decode()
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for action, e in changes:
        writer.writerow(
            (
                action,
                e.type,
                e.value,
                e.stix_id,
                e.tlp,
                "" if e.confidence is None else e.confidence,
                "" if e.score is None else e.score,
                e.owner,
                e.valid_until or "",
                e.name or "",
            )
        )
    assert written == expected.getvalue()
