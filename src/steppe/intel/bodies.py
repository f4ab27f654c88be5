"""The STIX body of a stored object: as received, or rendered from its row.

``intel_objects.body`` holds the STIX 2.1 JSON of an object as it was received — except
for list-feed indicators (:mod:`steppe.intel.feed_ingest`), whose body is wholly made of
the row's columns and the entry's type, value and comment. Those store only the latter,
as a compact *marker* (a JSON array, where a STIX object is a JSON object), and get
their body rendered here on read: ipsum's 120,000 indicators took 44 MB of bodies (368
bytes each) against ~20 bytes each as markers (docs/benchmarks.md).

Every reader of ``body`` goes through :func:`body_text` or :func:`body_object` with the
row's :data:`BODY_COLUMNS`, so none sees a difference (a hypothesis test compares the
rendered bodies with the ones stored before).

    >>> marker = feed_marker("ipv4", "198.51.100.7", None)
    >>> marker
    '["ipv4","198.51.100.7"]'
    >>> body = body_object(marker, "indicator--0b8f0f2b-2b7b-5b8e-9d0a-3c1f5e0d2a11",
    ...     "2026-11-01T00:00:00.000000Z", "2026-11-02T00:00:00.000000Z",
    ...     "ipsum: 198.51.100.7", 30, None, False)
    >>> body["pattern"], body["created"], body["modified"], body["confidence"]
    ("[ipv4-addr:value = '198.51.100.7']", '2026-11-01T00:00:00.000Z', '2026-11-02T00:00:00.000Z', 30)
"""

from __future__ import annotations

from typing import Any

import orjson

from steppe.errors import InvalidObservable

__all__ = [
    "BODY_COLUMNS",
    "body_object",
    "body_of_row",
    "body_text",
    "feed_marker",
    "pattern_of",
    "stix_time",
]

#: The ``intel_objects`` columns a body is rendered from, in the renderers' order.
BODY_COLUMNS = (
    "body",
    "stix_id",
    "created",
    "modified",
    "name",
    "confidence",
    "valid_until",
    "revoked",
)

_PATHS = {
    "ipv4": "ipv4-addr:value",
    "ipv6": "ipv6-addr:value",
    "domain": "domain-name:value",
    "url": "url:value",
    "email": "email-addr:value",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
    "filename": "file:name",
}


def pattern_of(kind: str, value: str) -> str:
    """The STIX pattern that matches exactly ``value`` of observable type ``kind``.

    >>> pattern_of("sha256", "ab" * 32)[:28]
    "[file:hashes.'SHA-256' = 'ab"
    >>> pattern_of("cidr", "10.0.0.0/8")
    "[ipv4-addr:value = '10.0.0.0/8']"
    """
    if kind == "asn":
        return f"[autonomous-system:number = {int(value[2:])}]"
    if kind == "cidr":
        path = "ipv6-addr:value" if ":" in value else "ipv4-addr:value"
    else:
        found = _PATHS.get(kind)
        if found is None:
            raise InvalidObservable(f"a {kind} value cannot be an indicator pattern")
        path = found
    if "'" in value or "\\" in value:
        value = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"[{path} = '{value}']"


def feed_marker(kind: str, value: str, comment: str | None) -> str:
    """What a feed indicator stores as its body: its entry's type, value and comment."""
    return orjson.dumps((kind, value, comment) if comment else (kind, value)).decode()


def stix_time(stored: str) -> str:
    """Stored microsecond form → STIX millisecond form (``…T01:02:03.456Z``)."""
    return stored[:23] + "Z"


def body_object(
    body: str,
    stix_id: str,
    created: str | None,
    modified: str,
    name: str | None,
    confidence: int | None,
    valid_until: str | None,
    revoked: bool,
) -> dict[str, Any]:
    """The STIX object of a stored row (its :data:`BODY_COLUMNS`, in order)."""
    if body[0] != "[":
        found: dict[str, Any] = orjson.loads(body)
        return found
    kind, value, *comment = orjson.loads(body)
    when = stix_time(created or modified)
    # The key order of the bodies the feed path stored before markers (byte-equal text).
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id,
        "created": when,
        "modified": stix_time(modified),
        "name": name,
        "indicator_types": ["malicious-activity"],
        "pattern": pattern_of(kind, value),
        "pattern_type": "stix",
        "valid_from": when,
    }
    if valid_until is not None:
        obj["valid_until"] = stix_time(valid_until)
    if confidence is not None:
        obj["confidence"] = confidence
    if comment:
        obj["description"] = comment[0]
    if revoked:
        obj["revoked"] = True
    return obj


def body_of_row(row: Any) -> dict[str, Any]:
    """:func:`body_object` of a result row that has the :data:`BODY_COLUMNS` as
    attributes (the readers of one object at a time; a page reader passes them in order)."""
    return body_object(*(getattr(row, name) for name in BODY_COLUMNS))


def body_text(
    body: str,
    stix_id: str,
    created: str | None,
    modified: str,
    name: str | None,
    confidence: int | None,
    valid_until: str | None,
    revoked: bool,
) -> str:
    """:func:`body_object` as JSON text: the stored text itself when it is not a marker."""
    if body[0] != "[":
        return body
    obj = body_object(body, stix_id, created, modified, name, confidence, valid_until, revoked)
    return orjson.dumps(obj).decode()
