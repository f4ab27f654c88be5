"""Reading STIX 2.1: bundles, the checks every stored object must pass, TLP markings.

Checks here are the cheap structural ones needed to store an object safely (type, id,
spec_version, timestamps, required properties). Full schema validation with
stix2-validator runs ~200 objects/s, so it belongs in tests, not on every object at
ingest (see docs/benchmarks.md).

    >>> objs = read_bundle(b'{"type": "bundle", "id": "bundle--...", "objects": []}', "x.json")
    Traceback (most recent call last):
    ...
    steppe.errors.InvalidStix: x.json: id: 'bundle--...' is not a valid bundle id
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from steppe.errors import InvalidStix
from steppe.sharing.model import TlpLevel
from steppe.storage import timestamps

__all__ = [
    "KNOWN_TYPES",
    "SCO_TYPES",
    "SDO_TYPES",
    "SRO_TYPES",
    "TLP_MARKING_IDS",
    "bundle_tlp_definitions",
    "check_object",
    "check_object_times",
    "line_of",
    "read_bundle",
    "tlp_marking_definition",
    "tlp_marking_id",
    "tlp_of",
]

SDO_TYPES = frozenset(
    [
        "attack-pattern",
        "campaign",
        "course-of-action",
        "grouping",
        "identity",
        "incident",
        "indicator",
        "infrastructure",
        "intrusion-set",
        "location",
        "malware",
        "malware-analysis",
        "note",
        "observed-data",
        "opinion",
        "report",
        "threat-actor",
        "tool",
        "vulnerability",
    ]
)
SRO_TYPES = frozenset({"relationship", "sighting"})
SCO_TYPES = frozenset(
    [
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    ]
)
META_TYPES = frozenset({"marking-definition", "language-content", "extension-definition"})
KNOWN_TYPES = SDO_TYPES | SRO_TYPES | SCO_TYPES | META_TYPES

#: TLP 2.0 marking definitions (FIRST/OASIS) and the STIX 2.1 built-in TLP 1.0 ones.
TLP_MARKING_IDS: dict[str, TlpLevel] = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": TlpLevel.CLEAR,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": TlpLevel.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": TlpLevel.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": TlpLevel.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": TlpLevel.RED,
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TlpLevel.CLEAR,  # TLP 1.0 WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TlpLevel.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TlpLevel.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TlpLevel.RED,
}
_TLP2_IDS = {level: mid for mid, level in list(TLP_MARKING_IDS.items())[:5]}
_TLP_ORDER = [TlpLevel.CLEAR, TlpLevel.GREEN, TlpLevel.AMBER, TlpLevel.AMBER_STRICT, TlpLevel.RED]
_TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ID = re.compile(rf"([a-z0-9][a-z0-9-]*[a-z0-9])--{_UUID}")
_TYPE = re.compile(r"[a-z0-9][a-z0-9-]{1,248}[a-z0-9]")


def read_bundle(data: bytes, source: str) -> list[dict[str, Any]]:
    """The objects of a STIX 2.1 bundle (or of a single top-level object)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidStix(f"not valid JSON: {exc.msg}", source=source, line=exc.lineno) from None
    if not isinstance(doc, dict):
        raise InvalidStix("expected a STIX bundle (a JSON object)", source=source, line=1)
    if doc.get("type") != "bundle":
        return [doc]
    bundle_id = doc.get("id")
    if not isinstance(bundle_id, str) or not re.fullmatch(rf"bundle--{_UUID}", bundle_id):
        raise InvalidStix(f"{bundle_id!r} is not a valid bundle id", source=source, field="id")
    objects = doc.get("objects", [])
    if not isinstance(objects, list):
        raise InvalidStix("must be a list", source=source, field="objects")
    return objects


def check_object(obj: Any) -> dict[str, Any]:
    """Structural checks; raises InvalidStix with the field (relative to the object)."""
    check_object_times(obj)
    checked: dict[str, Any] = obj
    return checked


#: ``created``, ``modified``, ``valid_from`` and ``valid_until`` in stored form.
Times = tuple[str | None, str | None, str | None, str | None]

_TIMED_TYPES = SDO_TYPES | SRO_TYPES
_normalise = timestamps.normalise  # raises TypeError on a non-string, ValueError on a bad one
_ID_PREFIX = {t: f"{t}--" for t in KNOWN_TYPES}
_UUID_RE = re.compile(_UUID)


def check_object_times(obj: Any) -> Times:
    """:func:`check_object`, returning the object's timestamps in stored form.

    The importer needs them normalised anyway; this checks and normalises each once.
    ``valid_from`` and ``valid_until`` outside indicators are optional, but when there
    they must be timestamps too (they fill the same columns). None where absent::

        >>> check_object_times({"type": "domain-name", "spec_version": "2.1",
        ...     "id": "domain-name--3c2a7b0e-1f6d-5e4a-9b8c-7d6e5f4a3b2c", "value": "a.example"})
        (None, None, None, None)

    Hot path (every imported object): the common case is decided by a set look-up and a
    slice compare before any regex; anything unusual goes through the full checks, which
    word the errors.
    """
    if not isinstance(obj, dict):
        raise InvalidStix("must be a JSON object")
    stix_type = obj.get("type")
    if not isinstance(stix_type, str) or stix_type not in KNOWN_TYPES:
        stix_type = _checked_unusual_type(stix_type)
    stix_id = obj.get("id")
    prefix = _ID_PREFIX.get(stix_type) or f"{stix_type}--"
    if not (
        isinstance(stix_id, str)
        and stix_id.startswith(prefix)
        and _UUID_RE.fullmatch(stix_id, len(prefix))
    ):
        _check_unusual_id(stix_id, stix_type)
    spec = obj.get("spec_version")
    if spec != "2.1":
        if spec is not None:
            raise InvalidStix(
                f"spec_version {spec!r} is not supported; use '2.1'", field="spec_version"
            )
        if stix_type not in SCO_TYPES:
            raise InvalidStix(
                "spec_version is missing; Steppe reads STIX 2.1 (spec_version '2.1')",
                field="spec_version",
            )
    created: str | None
    modified: str | None
    if stix_type in _TIMED_TYPES or stix_type.startswith("x-"):
        try:
            created = _normalise(obj["created"])
            modified = _normalise(obj["modified"])
        except (KeyError, TypeError, ValueError):
            created = _required_time(obj, "created")  # raises, with the wording
            modified = _required_time(obj, "modified")
        if modified < created:
            raise InvalidStix("modified is earlier than created", field="modified")
    else:
        created = _time(obj, "created")
        modified = _time(obj, "modified")
    if "revoked" in obj and not isinstance(obj["revoked"], bool):
        raise InvalidStix("must be true or false", field="revoked")
    if "confidence" in obj:
        conf = obj["confidence"]
        if not isinstance(conf, int) or isinstance(conf, bool) or not 0 <= conf <= 100:
            raise InvalidStix(f"must be an integer 0-100, got {conf!r}", field="confidence")
    refs = obj.get("object_marking_refs")
    if refs is not None and (
        not isinstance(refs, list) or not all(isinstance(r, str) for r in refs)
    ):
        raise InvalidStix("must be a list of marking-definition ids", field="object_marking_refs")
    valid_from: str | None
    if stix_type == "indicator":
        valid_from, valid_until = _check_indicator(obj)
    else:
        checker = _TYPE_CHECKS.get(stix_type)
        if checker is not None:
            checker(obj)
        valid_from = _time(obj, "valid_from")
        # Outside indicators a falsy valid_until has always meant "none".
        valid_until = _time(obj, "valid_until") if obj.get("valid_until") else None
    return created, modified, valid_from, valid_until


def _checked_unusual_type(stix_type: object) -> str:
    """The type checks for anything not a built-in STIX 2.1 type: custom or an error."""
    if not isinstance(stix_type, str) or not _TYPE.fullmatch(stix_type):
        raise InvalidStix(f"{stix_type!r} is not a STIX type name", field="type")
    if stix_type not in KNOWN_TYPES and not stix_type.startswith("x-"):
        raise InvalidStix(
            f"unknown STIX 2.1 type {stix_type!r} (custom types start with 'x-')", field="type"
        )
    if stix_type == "bundle":
        raise InvalidStix("bundles cannot nest", field="type")
    return stix_type


def _check_unusual_id(stix_id: object, stix_type: str) -> None:
    """The id checks with their wording, for an id the fast check did not accept."""
    m = _ID.fullmatch(stix_id) if isinstance(stix_id, str) else None
    if m is None:
        raise InvalidStix(f"{stix_id!r} is not a STIX id (type--UUID)", field="id")
    if m.group(1) != stix_type:
        raise InvalidStix(f"id {stix_id!r} does not start with its type {stix_type!r}", field="id")


def _time(obj: Mapping[str, Any], prop: str) -> str | None:
    """The property's timestamp in stored form, or None when it is absent."""
    if obj.get(prop) is None:
        return None
    return _required_time(obj, prop)


def _required_time(obj: Mapping[str, Any], prop: str) -> str:
    value = obj.get(prop)
    if value is None:
        raise InvalidStix(f"{prop} is required", field=prop)
    if not isinstance(value, str):
        raise InvalidStix(f"must be an RFC 3339 timestamp string, got {value!r}", field=prop)
    try:
        return timestamps.normalise(value)
    except ValueError:
        raise InvalidStix(f"{value!r} is not an RFC 3339 timestamp", field=prop) from None


def _require_str(obj: Mapping[str, Any], *props: str) -> None:
    for prop in props:
        value = obj.get(prop)
        if not isinstance(value, str) or not value:
            raise InvalidStix(f"{prop} is required (a non-empty string)", field=prop)


def _check_indicator(obj: Mapping[str, Any]) -> tuple[str, str | None]:
    pattern, pattern_type = obj.get("pattern"), obj.get("pattern_type")
    if not (
        isinstance(pattern, str) and pattern and isinstance(pattern_type, str) and pattern_type
    ):
        _require_str(obj, "pattern", "pattern_type")  # raises, with the field
    try:
        valid_from = _normalise(obj["valid_from"])
    except (KeyError, TypeError, ValueError):
        valid_from = _required_time(obj, "valid_from")  # raises, with the wording
    if "valid_until" not in obj:
        return valid_from, None
    valid_until = _required_time(obj, "valid_until")
    if valid_until <= valid_from:
        raise InvalidStix("valid_until must be later than valid_from", field="valid_until")
    return valid_from, valid_until


def _check_relationship(obj: Mapping[str, Any]) -> None:
    _require_str(obj, "relationship_type", "source_ref", "target_ref")


def _check_sighting(obj: Mapping[str, Any]) -> None:
    _require_str(obj, "sighting_of_ref")


def _check_named(obj: Mapping[str, Any]) -> None:
    _require_str(obj, "name")


_TYPE_CHECKS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "relationship": _check_relationship,
    "sighting": _check_sighting,
    **dict.fromkeys(
        [
            "attack-pattern",
            "campaign",
            "course-of-action",
            "identity",
            "infrastructure",
            "intrusion-set",
            "threat-actor",
            "tool",
            "vulnerability",
        ],
        _check_named,
    ),
}


def tlp_of(obj: Mapping[str, Any], local_tlp: Mapping[str, TlpLevel]) -> TlpLevel | None:
    """The most restrictive TLP among the object's marking refs, if any.

    ``local_tlp`` maps marking-definition ids declared in the same bundle (MISP-style
    ``definition_type: tlp`` or a ``name`` like ``TLP:AMBER``) to their level.
    """
    found = [
        TLP_MARKING_IDS.get(ref) or local_tlp.get(ref)
        for ref in obj.get("object_marking_refs") or ()
    ]
    levels = [level for level in found if level is not None]
    if not levels:
        return None
    return max(levels, key=_TLP_ORDER.index)


def bundle_tlp_definitions(objects: Iterable[Any]) -> dict[str, TlpLevel]:
    """TLP marking definitions declared inside a bundle under ids of their own."""
    local: dict[str, TlpLevel] = {}
    for obj in objects:
        if not isinstance(obj, dict) or obj.get("type") != "marking-definition":
            continue
        mid = obj.get("id")
        if not isinstance(mid, str) or mid in TLP_MARKING_IDS:
            continue
        definition = obj.get("definition")
        text = None
        if obj.get("definition_type") == "tlp" and isinstance(definition, dict):
            text = definition.get("tlp")
        elif isinstance(obj.get("name"), str) and obj["name"].upper().startswith("TLP:"):
            text = obj["name"]
        if isinstance(text, str):
            try:
                local[mid] = TlpLevel.parse(text)
            except ValueError:
                continue
    return local


def tlp_marking_definition(level: TlpLevel) -> dict[str, Any]:
    """The TLP 2.0 marking-definition object for ``level``, to put in exported bundles."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": _TLP2_IDS[level],
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"TLP:{level.value.upper()}",
        "extensions": {
            _TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level.value}
        },
    }


def tlp_marking_id(level: TlpLevel) -> str:
    return _TLP2_IDS[level]


def line_of(data: bytes, stix_id: object, index: int) -> int | None:
    """Line where an object starts in the raw input, found only when reporting an error."""
    if isinstance(stix_id, str) and stix_id:
        pos = data.find(orjson.dumps(stix_id))
        if pos >= 0:
            return data.count(b"\n", 0, pos) + 1
    # No usable id: walk the JSON to the index-th element of the bundle's array.
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return None
    stack: list[str] = []
    expecting = False  # at the start of an element of a depth-2 array
    seen = -1
    in_string = escape = False
    for offset, char in enumerate(text):
        if in_string:
            if escape:
                escape = False
            elif char == "\\":
                escape = True
            elif char == '"':
                in_string = False
            continue
        if char.isspace():
            continue
        if expecting and char not in ",]":
            expecting = False
            seen += 1
            if seen == index:
                return text.count("\n", 0, offset) + 1
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
            expecting = char == "[" and len(stack) == 2
        elif char in "}]":
            if stack:
                stack.pop()
        elif char == "," and len(stack) == 2 and stack[-1] == "[":
            expecting = True
    return None
