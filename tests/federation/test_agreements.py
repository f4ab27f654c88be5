"""Sync agreements never widen the policy; cursors hold only for whom they were issued."""

from __future__ import annotations

import pytest

from steppe.errors import InputError
from steppe.federation.agreements import DEFAULT_AGREEMENT, parse_agreement
from steppe.federation.cursors import Cursor, CursorCodec
from steppe.sharing.model import Distribution, TlpLevel


def test_agreement_cannot_let_amber_or_red_leave() -> None:
    for level in ("amber", "amber+strict", "red"):
        with pytest.raises(InputError, match="may not cross"):
            parse_agreement(tlp=f"green,{level}")
    assert parse_agreement(tlp="clear").tlp == frozenset({TlpLevel.CLEAR})
    with pytest.raises(InputError):
        parse_agreement(sightings="publish")


def test_distribution_narrows_one_step_per_hop() -> None:
    assert DEFAULT_AGREEMENT.narrow(Distribution.FEDERATION) is Distribution.COMMUNITY
    assert DEFAULT_AGREEMENT.narrow(Distribution.COMMUNITY) is Distribution.ORGANISATION


def test_sightings_are_anonymised_or_dropped() -> None:
    sighting = {
        "type": "sighting",
        "id": "sighting--1",
        "sighting_of_ref": "indicator--1",
        "where_sighted_refs": ["identity--kz"],
        "observed_data_refs": ["observed-data--1"],
        "created_by_ref": "identity--kz",
        "count": 2,
    }
    out = DEFAULT_AGREEMENT.outgoing(sighting)
    assert out == {
        "type": "sighting",
        "id": "sighting--1",
        "sighting_of_ref": "indicator--1",
        "count": 2,
    }
    assert parse_agreement(sightings="keep").outgoing(sighting) == sighting
    dropping = parse_agreement(sightings="drop")
    assert not dropping.allows_type("sighting") and dropping.allows_type("indicator")
    only = parse_agreement(types="indicator")
    assert only.allows_type("indicator") and not only.allows_type("malware")


def test_cursor_is_bound_to_user_collection_and_endpoint() -> None:
    codec = CursorCodec("k" * 32)
    token = codec.encode(
        Cursor(7, "col", "objects", {"types": []}, ("2026-01-01T00:00:00.000000Z", 5))
    )
    assert codec.decode(token, user_id=7, collection="col", endpoint="objects").after[1] == 5
    for user, collection, endpoint in (
        (8, "col", "objects"),
        (7, "other", "objects"),
        (7, "col", "manifest"),
    ):
        with pytest.raises(InputError):
            codec.decode(token, user_id=user, collection=collection, endpoint=endpoint)
    with pytest.raises(InputError, match="not a cursor"):
        CursorCodec("z" * 32).decode(token, user_id=7, collection="col", endpoint="objects")
    with pytest.raises(InputError, match="not a cursor"):
        codec.decode("garbage", user_id=7, collection="col", endpoint="objects")
