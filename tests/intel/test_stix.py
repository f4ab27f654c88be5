"""Reading bundles and the structural checks, with the errors a user sees."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import WHEN, indicator
from steppe.errors import InvalidStix
from steppe.intel.stix import (
    bundle_tlp_definitions,
    check_object,
    check_object_times,
    line_of,
    read_bundle,
    tlp_of,
)
from steppe.sharing.model import TlpLevel


def test_json_syntax_error_has_a_line() -> None:
    with pytest.raises(InvalidStix, match=r"^feed.json:3: not valid JSON"):
        read_bundle(b'{"type": "bundle",\n "objects": [\n  {,]}', "feed.json")


def test_a_single_object_is_accepted_as_a_bundle_of_one() -> None:
    ind = indicator("a.example")
    import orjson

    assert read_bundle(orjson.dumps(ind), "one.json") == [ind]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"type": "Indicator"}, "type", "is not a STIX type name"),
        ({"type": "widget"}, "type", "unknown STIX 2.1 type 'widget'"),
        ({"id": "indicator--not-a-uuid"}, "id", "is not a STIX id"),
        (
            {"id": "malware--6b2c4f0e-3f5a-4a57-9d1e-2e1a3d6f9c10"},
            "id",
            "does not start with its type",
        ),
        ({"spec_version": "2.0"}, "spec_version", "'2.0' is not supported"),
        ({"spec_version": None}, "spec_version", "spec_version is missing"),
        ({"created": "yesterday"}, "created", "is not an RFC 3339 timestamp"),
        ({"modified": "2025-01-01T00:00:00Z"}, "modified", "earlier than created"),
        ({"modified": "2026-13-01T00:00:00Z"}, "modified", "is not an RFC 3339 timestamp"),
        ({"pattern": ""}, "pattern", "pattern is required"),
        ({"valid_until": "2025-01-01T00:00:00Z"}, "valid_until", "later than valid_from"),
        ({"confidence": 101}, "confidence", "integer 0-100"),
        ({"confidence": True}, "confidence", "integer 0-100"),
        ({"revoked": "yes"}, "revoked", "true or false"),
        ({"object_marking_refs": "tlp"}, "object_marking_refs", "list of marking-definition ids"),
        ({"type": ["indicator"]}, "type", "is not a STIX type name"),
        ({"type": "bundle"}, "type", "unknown STIX 2.1 type 'bundle'"),
        ({"id": 7}, "id", "is not a STIX id"),
        ({"id": "indicator--6b2c4f0e-3f5a-4a57-9d1e-2e1a3d6f9c10x"}, "id", "is not a STIX id"),
        (
            {"id": "x-indicator--6b2c4f0e-3f5a-4a57-9d1e-2e1a3d6f9c10"},
            "id",
            "does not start with its type",
        ),
        ({"spec_version": 2.1}, "spec_version", "2.1 is not supported"),
        ({"created": None}, "created", "created is required"),
        ({"created": 20260101}, "created", "must be an RFC 3339 timestamp string"),
        ({"modified": ["2026-01-01T00:00:00Z"]}, "modified", "timestamp string"),
        ({"created": "2026-01-01T00:00:00"}, "created", "is not an RFC 3339 timestamp"),
        ({"confidence": 50.0}, "confidence", "integer 0-100"),
        ({"confidence": -1}, "confidence", "integer 0-100"),
        ({"confidence": "50"}, "confidence", "integer 0-100"),
        ({"pattern_type": ""}, "pattern_type", "pattern_type is required"),
        ({"pattern": None}, "pattern", "pattern is required"),
        ({"valid_from": None}, "valid_from", "valid_from is required"),
        ({"valid_from": "later"}, "valid_from", "is not an RFC 3339 timestamp"),
    ],
)
def test_structural_errors_name_the_field(change: dict[str, Any], field: str, message: str) -> None:
    obj = indicator("a.example")
    for key, value in change.items():
        if value is None:
            del obj[key]
        else:
            obj[key] = value
    with pytest.raises(InvalidStix) as err:
        check_object(obj)
    assert err.value.field == field
    assert message in err.value.message


def test_scos_need_no_timestamps_and_custom_types_pass() -> None:
    check_object(
        {
            "type": "domain-name",
            "id": "domain-name--3c2a7b0e-1f6d-5e4a-9b8c-7d6e5f4a3b2c",
            "value": "a.example",
        }
    )
    check_object(
        {
            "type": "x-acme-widget",
            "spec_version": "2.1",
            "id": "x-acme-widget--3c2a7b0e-1f6d-5e4a-9b8c-7d6e5f4a3b2c",
            "created": WHEN,
            "modified": WHEN,
        }
    )


def test_tlp_from_refs_and_from_bundle_definitions() -> None:
    local = bundle_tlp_definitions(
        [
            {
                "type": "marking-definition",
                "id": "marking-definition--11111111-1111-4111-8111-111111111111",
                "definition_type": "tlp",
                "definition": {"tlp": "amber+strict"},
            },
            {
                "type": "marking-definition",
                "id": "marking-definition--22222222-2222-4222-8222-222222222222",
                "name": "TLP:RED",
            },
        ]
    )
    assert (
        tlp_of(
            {"object_marking_refs": ["marking-definition--11111111-1111-4111-8111-111111111111"]},
            local,
        )
        is TlpLevel.AMBER_STRICT
    )
    both = {
        "object_marking_refs": [
            "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            "marking-definition--22222222-2222-4222-8222-222222222222",
        ]
    }
    assert tlp_of(both, local) is TlpLevel.RED  # the most restrictive wins
    assert tlp_of({}, local) is None


def test_line_of_without_an_id_counts_objects() -> None:
    data = b'{"type": "bundle", "id": "x", "objects": [\n {"a": [1, {"b": 2}]},\n "odd",\n {"c": "}"}\n]}'
    assert line_of(data, None, 0) == 2
    assert line_of(data, None, 2) == 4


def test_check_object_times_returns_stored_forms() -> None:
    obj = indicator(
        "a.example",
        created="2026-01-01T00:00:00Z",
        modified="2026-01-02T03:00:00.5+03:00",
        valid_until="2027-01-01T00:00:00.123456789Z",
    )
    assert check_object_times(obj) == (
        "2026-01-01T00:00:00.000000Z",
        "2026-01-02T00:00:00.500000Z",
        "2026-01-01T00:00:00.000000Z",
        "2027-01-01T00:00:00.123456Z",
    )
    assert check_object(obj) is obj
    # Upper-case UUIDs are ids too.
    check_object(indicator("a.example", id="indicator--6B2C4F0E-3F5A-4A57-9D1E-2E1A3D6F9C10"))


def test_valid_from_and_until_outside_indicators_are_checked_when_present() -> None:
    malware = {
        "type": "malware",
        "spec_version": "2.1",
        "id": "malware--6b2c4f0e-3f5a-4a57-9d1e-2e1a3d6f9c10",
        "created": WHEN,
        "modified": WHEN,
        "name": "Demo",
    }
    assert check_object_times(malware)[2:] == (None, None)
    assert check_object_times(dict(malware, valid_from=WHEN, valid_until=""))[2:] == (
        "2026-01-01T00:00:00.000000Z",
        None,  # a falsy valid_until outside indicators is no valid_until
    )
    with pytest.raises(InvalidStix) as err:
        check_object(dict(malware, valid_from="soon"))
    assert (err.value.field, err.value.message) == (
        "valid_from",
        "'soon' is not an RFC 3339 timestamp",
    )
    with pytest.raises(InvalidStix) as err:
        check_object(dict(malware, valid_until=5))
    assert err.value.field == "valid_until"


def test_a_null_timestamp_on_an_sco_is_no_timestamp() -> None:
    sco = {
        "type": "domain-name",
        "id": "domain-name--3c2a7b0e-1f6d-5e4a-9b8c-7d6e5f4a3b2c",
        "value": "a.example",
        "created": None,
        "modified": "2026-01-01T00:00:00Z",
    }
    assert check_object_times(sco) == (None, "2026-01-01T00:00:00.000000Z", None, None)
