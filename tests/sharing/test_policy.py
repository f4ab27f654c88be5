"""The decision function, on the cases an analyst would check by hand."""

from __future__ import annotations

import pytest

from steppe.errors import Forbidden, MarkingConflict
from steppe.sharing.model import (
    Actor,
    Distribution,
    GroupRoster,
    ObjectRights,
    OrgKind,
    Role,
    TlpLevel,
)
from steppe.sharing.policy import (
    can_see,
    can_see_group,
    can_see_roster,
    check_marking,
    require_reader,
)

CN, RU, PK, CENTER, PEER = 1, 2, 3, 4, 5
QCCM, BRICS = 10, 11
ANALYST = frozenset({Role.ANALYST})


def actor(
    org: int,
    groups: set[int] = frozenset(),
    *,
    kind: OrgKind = OrgKind.MEMBER,  # type: ignore[assignment]
    roles: frozenset[Role] = ANALYST,
) -> Actor:
    return Actor(org, f"user{org}", org, kind, roles, frozenset(groups))


cn = actor(CN, {QCCM, BRICS})
ru = actor(RU, {BRICS})
pk = actor(PK, {QCCM})
center = actor(CENTER, kind=OrgKind.COORDINATOR, roles=frozenset({Role.ADMIN}))
peer = actor(PEER, kind=OrgKind.PEER)

qccm_only = ObjectRights(CN, Distribution.GROUPS, TlpLevel.AMBER, frozenset({QCCM}))


@pytest.mark.parametrize(
    ("who", "obj", "allowed", "reason"),
    [
        (cn, qccm_only, True, "owner organisation"),
        (pk, qccm_only, True, "member of sharing group 10"),
        (ru, qccm_only, False, "not a member of any of the object's sharing groups"),
        (center, qccm_only, False, "not a member"),
        (peer, qccm_only, False, "peer centers see only"),
        (
            ru,
            ObjectRights(CN, Distribution.GROUPS, TlpLevel.GREEN, frozenset({QCCM, BRICS})),
            True,
            "sharing group 11",
        ),
        (ru, ObjectRights(CN, Distribution.ORGANISATION, TlpLevel.RED), False, "organisation-only"),
        (ru, ObjectRights(CN, Distribution.COMMUNITY, TlpLevel.AMBER), True, "community"),
        (peer, ObjectRights(CN, Distribution.COMMUNITY, TlpLevel.CLEAR), False, "peer centers"),
        (peer, ObjectRights(CN, Distribution.FEDERATION, TlpLevel.GREEN), True, "federation"),
        (peer, ObjectRights(CN, Distribution.FEDERATION, TlpLevel.AMBER), False, "peer centers"),
        (ru, ObjectRights(CN, Distribution.FEDERATION, TlpLevel.CLEAR), True, "federation"),
    ],
)
def test_decisions(who: Actor, obj: ObjectRights, allowed: bool, reason: str) -> None:
    decision = can_see(who, obj)
    assert decision.allowed is allowed
    assert reason in decision.reason


def test_admin_role_does_not_widen_visibility() -> None:
    admin_ru = actor(RU, {BRICS}, roles=frozenset({Role.ORG_ADMIN, Role.ANALYST}))
    assert not can_see(admin_ru, qccm_only)


def test_sensor_reads_nothing_not_even_its_own() -> None:
    sensor = actor(CN, {QCCM}, roles=frozenset({Role.SENSOR}))
    assert not can_see(sensor, qccm_only)
    with pytest.raises(Forbidden, match="sensor"):
        require_reader(sensor)


def test_derived_data_needs_every_source() -> None:
    community = ObjectRights(RU, Distribution.COMMUNITY, TlpLevel.GREEN)
    correlation = ObjectRights(
        CENTER, Distribution.COMMUNITY, TlpLevel.GREEN, sources=(community, qccm_only)
    )
    assert can_see(pk, correlation)
    decision = can_see(ru, correlation)
    assert not decision.allowed
    assert "source 1" in decision.reason


@pytest.mark.parametrize(
    ("distribution", "tlp", "groups", "message"),
    [
        (Distribution.COMMUNITY, TlpLevel.RED, (), "TLP:RED is for a named audience"),
        (Distribution.FEDERATION, TlpLevel.RED, (), "TLP:RED"),
        (Distribution.FEDERATION, TlpLevel.AMBER, (), "only TLP:CLEAR and TLP:GREEN"),
        (Distribution.FEDERATION, TlpLevel.AMBER_STRICT, (), "only TLP:CLEAR"),
        (Distribution.GROUPS, TlpLevel.AMBER, (), "at least one sharing group"),
        (Distribution.COMMUNITY, TlpLevel.AMBER, (QCCM,), "use distribution 'groups'"),
    ],
)
def test_contradictory_markings_are_rejected(
    distribution: Distribution, tlp: TlpLevel, groups: tuple[int, ...], message: str
) -> None:
    with pytest.raises(MarkingConflict, match=message.replace("+", r"\+")):
        check_marking(distribution, tlp, groups)


@pytest.mark.parametrize(
    ("distribution", "tlp", "groups"),
    [
        (Distribution.ORGANISATION, TlpLevel.RED, ()),
        (Distribution.GROUPS, TlpLevel.RED, (QCCM,)),
        (Distribution.FEDERATION, TlpLevel.CLEAR, ()),
        (Distribution.COMMUNITY, TlpLevel.AMBER_STRICT, ()),
    ],
)
def test_consistent_markings_pass(
    distribution: Distribution, tlp: TlpLevel, groups: tuple[int, ...]
) -> None:
    check_marking(distribution, tlp, groups)


def test_hidden_roster() -> None:
    qccm = GroupRoster(QCCM, CN, True, frozenset({CN, PK}))
    assert can_see_roster(cn, qccm)  # the owner manages it
    assert can_see_group(pk, qccm)  # a member knows it is in the group …
    assert not can_see_roster(pk, qccm)  # … but not who else is
    assert not can_see_group(ru, qccm)  # outsiders do not learn it exists
    assert can_see_roster(center, qccm) and can_see_group(center, qccm)  # the instance admin
    coordinator = actor(CENTER, kind=OrgKind.COORDINATOR, roles=frozenset({Role.COORDINATOR}))
    assert not can_see_group(coordinator, qccm)
    open_group = GroupRoster(BRICS, CENTER, False, frozenset({CN, RU}))
    assert can_see_roster(ru, open_group)
    assert not can_see_roster(pk, open_group)


def test_tlp_parse_accepts_field_spellings() -> None:
    assert TlpLevel.parse("TLP:AMBER+STRICT") is TlpLevel.AMBER_STRICT
    assert TlpLevel.parse("white") is TlpLevel.CLEAR
    with pytest.raises(ValueError):
        TlpLevel.parse("purple")
