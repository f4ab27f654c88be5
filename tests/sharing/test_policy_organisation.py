"""can_manage_organisation: instance admins for any organisation, org-admins for their own."""

from __future__ import annotations

import pytest

from steppe.sharing.model import Actor, OrgKind, Role
from steppe.sharing.policy import can_manage_organisation

OWN, OTHER = 3, 4


def actor(org: int, kind: OrgKind, *roles: Role) -> Actor:
    return Actor(1, "u", org_id=org, org_kind=kind, roles=frozenset(roles))


@pytest.mark.parametrize("role", list(Role))
def test_only_the_org_admin_among_an_organisations_users(role: Role) -> None:
    decision = can_manage_organisation(actor(OWN, OrgKind.MEMBER, role), OWN)
    assert decision.allowed == (role in (Role.ORG_ADMIN, Role.ADMIN)), decision.reason


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_never_another_organisations_settings(role: Role) -> None:
    for kind in OrgKind:
        decision = can_manage_organisation(actor(OWN, kind, role), OTHER)
        assert not decision.allowed and decision.reason == "another organisation's settings"


def test_instance_admins_manage_every_organisation() -> None:
    admin = actor(1, OrgKind.COORDINATOR, Role.ADMIN)
    assert can_manage_organisation(admin, OWN) and can_manage_organisation(admin, OTHER)
