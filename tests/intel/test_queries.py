"""Search, show and export go through the policy; exports validate as STIX 2.1."""

from __future__ import annotations

import io
import warnings

import orjson
import pytest
from sqlalchemy import Engine

from helpers import bundle, indicator
from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, NotFound
from steppe.intel.importer import Marking, import_objects
from steppe.intel.queries import export_bundle, get_object, search_value
from steppe.intel.stix import read_bundle
from steppe.sharing import directory
from steppe.sharing.model import Actor, Distribution, OrgKind, Role, TlpLevel


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> dict[str, Actor]:
    with engine.begin() as conn:
        cn = directory.add_organisation(conn, trail, "CNCERT", "CN", OrgKind.MEMBER)
        pk = directory.add_organisation(conn, trail, "PKCERT", "PK", OrgKind.MEMBER)
        ru = directory.add_organisation(conn, trail, "RU-CERT", "RU", OrgKind.MEMBER)
        peer = directory.add_organisation(conn, trail, "Peer Center", None, OrgKind.PEER)
        qccm = directory.add_group(conn, trail, "QCCM", cn, hidden_roster=True)
        qccm = directory.add_group_member(conn, trail, qccm, cn)
        qccm = directory.add_group_member(conn, trail, qccm, pk)
        for name, org in [("cn", cn), ("pk", pk), ("ru", ru), ("peer", peer)]:
            directory.add_user(conn, trail, name, org, frozenset({Role.ANALYST}))
        directory.add_user(conn, trail, "sensor", cn, frozenset({Role.SENSOR}))
        sets = [
            (cn, Marking(Distribution.GROUPS, TlpLevel.AMBER, (qccm,)), "qccm.example"),
            (ru, Marking(Distribution.ORGANISATION, TlpLevel.RED), "ru-only.example"),
            (pk, Marking(Distribution.FEDERATION, TlpLevel.GREEN), "federated.example"),
            (pk, Marking(Distribution.COMMUNITY, TlpLevel.AMBER), "community.example"),
        ]
        for owner, marking, value in sets:
            data = bundle(indicator(value))
            import_objects(
                conn, trail, data, read_bundle(data, "t"), owner=owner, marking=marking, source="t"
            )
        return {n: directory.load_actor(conn, n) for n in ("cn", "pk", "ru", "peer", "sensor")}


VISIBLE = {
    "cn": {"qccm.example", "federated.example", "community.example"},
    "pk": {"qccm.example", "federated.example", "community.example"},
    "ru": {"ru-only.example", "federated.example", "community.example"},
    "peer": {"federated.example"},
}
ALL = {"qccm.example", "ru-only.example", "federated.example", "community.example"}


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_search_shows_exactly_what_the_policy_allows(
    engine: Engine, world: dict[str, Actor], who: str
) -> None:
    with engine.connect() as conn:
        found = {v for v in ALL if search_value(conn, world[who], v)[2]}
    assert found == VISIBLE[who]


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_export_shows_exactly_what_the_policy_allows(
    engine: Engine, world: dict[str, Actor], who: str
) -> None:
    out = io.BytesIO()
    with engine.connect() as conn:
        export_bundle(
            conn, world[who], out, bundle_id="bundle--6b2c4f0e-3f5a-4a57-9d1e-2e1a3d6f9c10"
        )
    objects = orjson.loads(out.getvalue())["objects"]
    names = {o["name"].removeprefix("test ") for o in objects if o["type"] == "indicator"}
    assert names == VISIBLE[who]


def test_show_answers_not_found_for_invisible_objects(
    engine: Engine, world: dict[str, Actor]
) -> None:
    with engine.connect() as conn:
        hit = search_value(conn, world["cn"], "qccm.example")[2][0]
        assert get_object(conn, world["pk"], hit.stix_id)["id"] == hit.stix_id
        with pytest.raises(NotFound) as hidden:
            get_object(conn, world["ru"], hit.stix_id)
        with pytest.raises(NotFound) as missing:
            get_object(conn, world["ru"], "indicator--00000000-0000-4000-8000-000000000000")
    # The same answer whether it exists or not: nothing to learn from the error.
    assert str(hidden.value).replace(hit.stix_id, "X") == str(missing.value).replace(
        "indicator--00000000-0000-4000-8000-000000000000", "X"
    )


def test_sensor_accounts_cannot_read(engine: Engine, world: dict[str, Actor]) -> None:
    with engine.connect() as conn, pytest.raises(Forbidden):
        search_value(conn, world["sensor"], "qccm.example")
    with engine.connect() as conn, pytest.raises(Forbidden):
        export_bundle(conn, world["sensor"], io.BytesIO(), bundle_id="bundle--x")


def test_exported_bundle_validates_under_stix2_validator(
    engine: Engine, world: dict[str, Actor]
) -> None:
    with warnings.catch_warnings():
        # stix2-validator's dependencies warn on import (not our code).
        warnings.simplefilter("ignore")
        from stix2validator import ValidationOptions, validate_instance

    out = io.BytesIO()
    with engine.connect() as conn:
        count = export_bundle(
            conn, world["cn"], out, bundle_id="bundle--6b2c4f0e-3f5a-4a57-9d1e-2e1a3d6f9c10"
        )
    doc = orjson.loads(out.getvalue())
    assert count == len(doc["objects"]) == 5  # 3 indicators + TLP:AMBER and TLP:GREEN definitions
    result = validate_instance(doc, ValidationOptions(version="2.1", strict=False))
    assert result.is_valid, [str(e) for e in result.errors]
    tlps = {o["name"] for o in doc["objects"] if o["type"] == "marking-definition"}
    assert tlps == {"TLP:AMBER", "TLP:GREEN"}
