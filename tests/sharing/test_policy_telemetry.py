"""can_read_telemetry: own organisation, the center's staff, nobody else."""

from __future__ import annotations

import pytest

from steppe.sharing.model import Actor, OrgKind, Role
from steppe.sharing.policy import can_read_telemetry

MEMBER, OTHER, CENTER, PEER = 1, 2, 3, 4


def actor(org: int, kind: OrgKind, *roles: Role) -> Actor:
    return Actor(org * 10, f"u{org}", org, kind, frozenset(roles), group_ids=frozenset({5}))


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ORG_ADMIN, Role.ANALYST, Role.READER])
def test_users_with_a_read_role_read_their_own_organisation(role: Role) -> None:
    decision = can_read_telemetry(actor(MEMBER, OrgKind.MEMBER, role), MEMBER)
    assert decision.allowed and decision.reason == "own organisation's telemetry"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ORG_ADMIN, Role.ANALYST, Role.READER])
def test_members_never_read_another_members_telemetry(role: Role) -> None:
    # sharing a group changes nothing: telemetry is not shared intel
    assert not can_read_telemetry(actor(MEMBER, OrgKind.MEMBER, role), OTHER)


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ADMIN])
def test_center_staff_read_every_member(role: Role) -> None:
    staff = actor(CENTER, OrgKind.COORDINATOR, role)
    assert can_read_telemetry(staff, MEMBER) and can_read_telemetry(staff, OTHER)


@pytest.mark.parametrize("role", [Role.ORG_ADMIN, Role.ANALYST, Role.READER])
def test_other_center_users_read_only_the_centers_own(role: Role) -> None:
    user = actor(CENTER, OrgKind.COORDINATOR, role)
    assert not can_read_telemetry(user, MEMBER)
    assert can_read_telemetry(user, CENTER)


def test_a_member_calling_itself_coordinator_role_gains_nothing() -> None:
    assert not can_read_telemetry(actor(MEMBER, OrgKind.MEMBER, Role.COORDINATOR), OTHER)


@pytest.mark.parametrize("target", [MEMBER, PEER])
def test_peers_never_read_telemetry(target: int) -> None:
    assert not can_read_telemetry(actor(PEER, OrgKind.PEER, Role.ADMIN, Role.COORDINATOR), target)


@pytest.mark.parametrize("kind", list(OrgKind))
def test_sensors_never_read_telemetry(kind: OrgKind) -> None:
    sensor = actor(MEMBER, kind, Role.SENSOR)
    decision = can_read_telemetry(sensor, MEMBER)
    assert not decision.allowed and "sensor" in decision.reason
