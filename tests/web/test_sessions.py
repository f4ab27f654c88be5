"""Browser sessions: only a hash is stored, they slide, expire and end."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, update

from conftest import KEY
from steppe.audit.trail import AuditTrail
from steppe.errors import Unauthenticated
from steppe.sharing import directory
from steppe.sharing.model import Actor, OrgKind, Role
from steppe.storage.schema import web_sessions
from steppe.web.sessions import end_session, load_session, open_session


@pytest.fixture
def ana(engine: Engine) -> Actor:
    trail = AuditTrail(KEY, "test")
    with engine.begin() as conn:
        org = directory.add_organisation(conn, trail, "KZ-CERT", "KZ", OrgKind.MEMBER)
        directory.add_user(conn, trail, "ana", org, frozenset({Role.ANALYST}))
        return directory.load_actor(conn, "ana")


def test_a_session_stores_only_the_hash_of_its_cookie(engine: Engine, ana: Actor) -> None:
    with engine.begin() as conn:
        opened = open_session(conn, AuditTrail(KEY, "test"), ana, hours=1)
        stored = conn.scalar(select(web_sessions.c.id))
        session = load_session(conn, opened.token, hours=1)
    assert stored != opened.token and len(stored or "") == 64
    assert session.actor == ana and session.csrf == opened.csrf


def test_an_expired_or_ended_session_is_refused(engine: Engine, ana: Actor) -> None:
    trail = AuditTrail(KEY, "test")
    with engine.begin() as conn:
        first = open_session(conn, trail, ana, hours=1)
        second = open_session(conn, trail, ana, hours=1)
        conn.execute(update(web_sessions).values(expires_at="2000-01-01T00:00:00.000000Z"))
        with pytest.raises(Unauthenticated):
            load_session(conn, first.token, hours=1)
        third = open_session(conn, trail, ana, hours=1)  # sweeps the user's expired ones
        assert (
            conn.scalar(select(web_sessions.c.id).where(web_sessions.c.expires_at < "2001")) is None
        )
        end_session(conn, trail, third.token)
        with pytest.raises(Unauthenticated):
            load_session(conn, third.token, hours=1)
        with pytest.raises(Unauthenticated):
            load_session(conn, second.token, hours=1)


def test_use_slides_the_expiry(engine: Engine, ana: Actor) -> None:
    with engine.begin() as conn:
        opened = open_session(conn, AuditTrail(KEY, "test"), ana, hours=2)
        conn.execute(
            update(web_sessions).values(
                last_seen_at="2000-01-01T00:00:00.000000Z", expires_at="2999-01-01T00:00:00.000000Z"
            )
        )
        load_session(conn, opened.token, hours=2)
        expires = conn.scalar(select(web_sessions.c.expires_at))
    assert expires is not None and expires < "2999"  # now + 2 h, not the far future


def test_a_changed_membership_shows_without_signing_in_again(engine: Engine, ana: Actor) -> None:
    trail = AuditTrail(KEY, "test")
    with engine.begin() as conn:
        opened = open_session(conn, trail, ana, hours=1)
        owner = directory.find_organisation(conn, "KZ-CERT")
        group = directory.add_group(conn, trail, "CSTO", owner)
        directory.add_group_member(conn, trail, group, owner)
        assert load_session(conn, opened.token, hours=1).actor.group_ids == {group.id}
