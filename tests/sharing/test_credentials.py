"""Web sign-in passwords: stored as scrypt hashes, checked without telling what was wrong."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from conftest import KEY
from steppe.audit.trail import AuditTrail
from steppe.errors import InputError, NotFound, Unauthenticated
from steppe.sharing import credentials, directory
from steppe.sharing.model import OrgKind, Role
from steppe.storage.schema import audit_log, user_passwords


@pytest.fixture
def kz_user(engine: Engine) -> str:
    trail = AuditTrail(KEY, "test")
    with engine.begin() as conn:
        org = directory.add_organisation(conn, trail, "KZ-CERT", "KZ", OrgKind.MEMBER)
        directory.add_user(conn, trail, "ana", org, frozenset({Role.ANALYST}))
    return "ana"


def test_a_password_is_stored_only_as_a_salted_hash(engine: Engine, kz_user: str) -> None:
    with engine.begin() as conn:
        credentials.set_password(conn, AuditTrail(KEY, "test"), kz_user, "a long passphrase")
        stored = conn.scalar(select(user_passwords.c.hash))
    assert stored is not None and "a long passphrase" not in stored
    assert stored.startswith("scrypt$")
    assert credentials.hash_password("a long passphrase") != stored  # fresh salt each time


def test_the_right_password_signs_in_and_gives_the_actor(engine: Engine, kz_user: str) -> None:
    with engine.begin() as conn:
        credentials.set_password(conn, AuditTrail(KEY, "test"), kz_user, "a long passphrase")
        actor = credentials.authenticate_password(conn, " ana ", "a long passphrase")
    assert actor.user_name == "ana" and Role.ANALYST in actor.roles


@pytest.mark.parametrize(
    ("user", "password"),
    [("ana", "A long passphrase"), ("ana", ""), ("bob", "a long passphrase")],
)
def test_a_wrong_user_or_password_says_the_same(
    engine: Engine, kz_user: str, user: str, password: str
) -> None:
    with engine.begin() as conn:
        credentials.set_password(conn, AuditTrail(KEY, "test"), kz_user, "a long passphrase")
        with pytest.raises(Unauthenticated, match=r"^wrong user name or password$"):
            credentials.authenticate_password(conn, user, password)


def test_a_user_without_a_password_cannot_sign_in(engine: Engine, kz_user: str) -> None:
    with engine.begin() as conn, pytest.raises(Unauthenticated):
        credentials.authenticate_password(conn, kz_user, "anything at all")


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 10"), (" padded password ", "white space"), ("x" * 2000, "at most")],
)
def test_weak_or_odd_passwords_are_refused(
    engine: Engine, kz_user: str, password: str, message: str
) -> None:
    with engine.begin() as conn, pytest.raises(InputError, match=message) as caught:
        credentials.set_password(conn, AuditTrail(KEY, "test"), kz_user, password)
    assert caught.value.field == "password"


def test_setting_a_password_is_audited_and_replaces_the_old_one(
    engine: Engine, kz_user: str
) -> None:
    trail = AuditTrail(KEY, "test")
    with engine.begin() as conn:
        credentials.set_password(conn, trail, kz_user, "first passphrase")
        credentials.set_password(conn, trail, kz_user, "second passphrase")
        with pytest.raises(Unauthenticated):
            credentials.authenticate_password(conn, kz_user, "first passphrase")
        credentials.authenticate_password(conn, kz_user, "second passphrase")
        actions = conn.scalars(select(audit_log.c.action)).all()
    assert actions.count("user.password") == 2


def test_a_password_for_an_unknown_user_is_not_found(engine: Engine, kz_user: str) -> None:
    with engine.begin() as conn, pytest.raises(NotFound, match="bob"):
        credentials.set_password(conn, AuditTrail(KEY, "test"), "bob", "a long passphrase")


def test_a_damaged_hash_never_verifies() -> None:
    for stored in ("", "md5$abc", "scrypt$x$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$??"):
        assert not credentials.verify_password("anything", stored)
