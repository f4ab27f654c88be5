"""Passwords for the web UI's login: scrypt hashes, never the password.

API clients use tokens (:func:`steppe.sharing.directory.create_token`); people in a
browser sign in with a user name and a password set by an operator or by themselves
(``steppe user password NAME``). The hash is ``scrypt$n$r$p$salt$digest`` (stdlib
:func:`hashlib.scrypt`, parameters kept with the hash so they can grow later).

    >>> stored = hash_password("correct horse battery staple")
    >>> verify_password("correct horse battery staple", stored)
    True
    >>> verify_password("tr0ub4dor&3", stored)
    False
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import Connection, select

from steppe.audit.trail import AuditTrail
from steppe.errors import InputError, Unauthenticated
from steppe.sharing.directory import load_actor
from steppe.sharing.model import Actor
from steppe.storage import timestamps
from steppe.storage.schema import user_passwords, users

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "authenticate_password",
    "hash_password",
    "set_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 10
_MAX_PASSWORD_LENGTH = 1024
# scrypt with n=2**14, r=8 costs ~16 MiB and ~50 ms here: slow for a guesser, quick for a
# login.
_N, _R, _P = 2**14, 8, 1
# A hash of a password nobody has, compared when the user does not exist, so that a
# wrong user name takes as long as a wrong password.
_NOBODY = f"scrypt${_N}${_R}${_P}$" + "A" * 22 + "$" + "A" * 43


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 2**20, dklen=32)


def hash_password(password: str) -> str:
    """The stored form of ``password`` (a fresh random salt each time)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _N, _R, _P)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(got, _unb64(digest))
    except (ValueError, TypeError):
        return False


def _check_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"must be at least {MIN_PASSWORD_LENGTH} characters long", field="password"
        )
    if len(password) > _MAX_PASSWORD_LENGTH:
        raise InputError(f"must be at most {_MAX_PASSWORD_LENGTH} characters", field="password")
    if password.strip() != password:
        raise InputError("must not start or end with white space", field="password")


def set_password(conn: Connection, trail: AuditTrail, user_name: str, password: str) -> None:
    """Set (or replace) the web login password of ``user_name``."""
    _check_strength(password)
    actor = load_actor(conn, user_name)  # NotFound names the user
    now = timestamps.now()
    stored = hash_password(password)
    done = conn.execute(
        user_passwords.update()
        .where(user_passwords.c.user_id == actor.user_id)
        .values(hash=stored, updated_at=now)
    )
    if not done.rowcount:
        conn.execute(
            user_passwords.insert().values(user_id=actor.user_id, hash=stored, updated_at=now)
        )
    trail.record(conn, "user.password", f"user {user_name}", {})


def authenticate_password(conn: Connection, user_name: str, password: str) -> Actor:
    """The actor for a correct user name and password; :class:`Unauthenticated` otherwise.

    The message never says which of the two was wrong.
    """
    row = conn.execute(
        select(users.c.name, user_passwords.c.hash)
        .join(user_passwords, user_passwords.c.user_id == users.c.id)
        .where(users.c.name == user_name.strip())
    ).one_or_none()
    if row is None:
        verify_password(password, _NOBODY)
        raise Unauthenticated("wrong user name or password")
    if not verify_password(password, row.hash):
        raise Unauthenticated("wrong user name or password")
    return load_actor(conn, row.name)
