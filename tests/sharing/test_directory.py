"""The directory: organisations, groups, users, tokens, actors."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, update

from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, Forbidden, InputError, NotFound
from steppe.sharing import directory
from steppe.sharing.model import OrgKind, Role
from steppe.storage.schema import api_tokens


def test_tokens_authenticate_until_expired_or_unknown(engine: Engine, trail: AuditTrail) -> None:
    with engine.begin() as conn:
        org = directory.add_organisation(conn, trail, "KZ-CERT", "KZ", OrgKind.MEMBER)
        group = directory.add_group(conn, trail, "CSTO", org)
        directory.add_group_member(conn, trail, group, org)
        directory.add_user(conn, trail, "ana", org, frozenset({Role.ANALYST}))
        issued = directory.create_token(conn, trail, "ana", label="script", expires_days=30)
    with engine.connect() as conn:
        actor = directory.authenticate_token(conn, issued.token)
        assert (actor.user_name, actor.org_id, actor.group_ids) == (
            "ana",
            org.id,
            frozenset({group.id}),
        )
        with pytest.raises(NotFound):
            directory.authenticate_token(conn, issued.token + "x")
    with engine.begin() as conn:
        conn.execute(update(api_tokens).values(expires_at="2000-01-01T00:00:00.000000Z"))
    with engine.connect() as conn, pytest.raises(NotFound, match="expired"):
        directory.authenticate_token(conn, issued.token)


def test_groups_visible_to_hides_rosters_and_unknown_groups(
    engine: Engine, trail: AuditTrail
) -> None:
    with engine.begin() as conn:
        cn = directory.add_organisation(conn, trail, "CNCERT", "CN", OrgKind.MEMBER)
        pk = directory.add_organisation(conn, trail, "PKCERT", "PK", OrgKind.MEMBER)
        ru = directory.add_organisation(conn, trail, "RU-CERT", "RU", OrgKind.MEMBER)
        qccm = directory.add_group(conn, trail, "QCCM", cn, hidden_roster=True)
        for org in (cn, pk):
            qccm = directory.add_group_member(conn, trail, qccm, org)
        for name, org in (("cn", cn), ("pk", pk), ("ru", ru)):
            directory.add_user(conn, trail, name, org, frozenset({Role.READER}))
    with engine.connect() as conn:
        views = {
            n: directory.groups_visible_to(conn, directory.load_actor(conn, n))
            for n in ("cn", "pk", "ru")
        }
    assert views["cn"][0].members == ("CNCERT", "PKCERT")
    assert views["pk"][0].members is None and views["pk"][0].actor_is_member
    assert views["ru"] == []


def test_directory_rules(engine: Engine, trail: AuditTrail) -> None:
    with engine.begin() as conn:
        center = directory.add_organisation(conn, trail, "Center", None, OrgKind.COORDINATOR)
        kz = directory.add_organisation(conn, trail, "KZ-CERT", "Kazakhstan", OrgKind.MEMBER)
        peer = directory.add_organisation(conn, trail, "Peer", None, OrgKind.PEER)
        assert kz.country == "KZ"
        with pytest.raises(Conflict, match="already has its coordinator"):
            directory.add_organisation(conn, trail, "Center 2", None, OrgKind.COORDINATOR)
        with pytest.raises(InputError, match="needs its country"):
            directory.add_organisation(conn, trail, "X", None, OrgKind.MEMBER)
        with pytest.raises(Forbidden):
            directory.add_user(conn, trail, "root", kz, frozenset({Role.ADMIN}))
        directory.add_user(conn, trail, "root", center, frozenset({Role.ADMIN}))
        group = directory.add_group(conn, trail, "SCO", center)
        with pytest.raises(InputError, match="peer center"):
            directory.add_group_member(conn, trail, group, peer)
        with pytest.raises(Conflict, match="already exists"):
            directory.add_group(conn, trail, "SCO", kz)
    with pytest.raises(InputError, match="sensor account holds only"):
        directory.parse_roles("sensor,analyst")
    assert directory.parse_roles(" analyst , reader ") == {Role.ANALYST, Role.READER}
