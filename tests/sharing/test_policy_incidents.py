"""can_see_incident: owner, participants and the center's staff; never peers or sensors."""

from __future__ import annotations

import pytest

from steppe.sharing.model import Actor, IncidentRights, OrgKind, Role
from steppe.sharing.policy import can_see_incident

INCIDENT = IncidentRights(owner_org_id=7, participant_org_ids=frozenset({8}))


def _actor(org: int, kind: OrgKind, *roles: Role) -> Actor:
    return Actor(1, "u", org_id=org, org_kind=kind, roles=frozenset(roles))


@pytest.mark.parametrize(
    ("actor", "allowed", "reason"),
    [
        (_actor(7, OrgKind.MEMBER, Role.READER), True, "owner organisation"),
        (_actor(8, OrgKind.MEMBER, Role.ANALYST), True, "participant organisation"),
        (_actor(9, OrgKind.MEMBER, Role.ADMIN), False, "neither the owner nor a participant"),
        (_actor(1, OrgKind.COORDINATOR, Role.COORDINATOR), True, "center staff"),
        (_actor(1, OrgKind.COORDINATOR, Role.ANALYST), False, "neither the owner"),
        (_actor(7, OrgKind.MEMBER, Role.SENSOR), False, "sensor accounts"),
        (_actor(8, OrgKind.PEER, Role.ANALYST), False, "peer centers never"),
    ],
)
def test_who_sees_an_incident(actor: Actor, allowed: bool, reason: str) -> None:
    decision = can_see_incident(actor, INCIDENT)
    assert decision.allowed is allowed
    assert reason in decision.reason
