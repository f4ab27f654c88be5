"""Fixtures for the REST API: a small coalition, the app, a test client and a live server.

The coalition (built through the library, as `steppe` commands would)::

    Center   coordinator  root (admin)
    KZ-CERT  member KZ    ana (analyst), kzboss (org-admin), kzread (reader), kzsensor (sensor)
    KG-CERT  member KG    bek (analyst)
    UZ-CERT  member UZ    uzi (analyst)
    CSTO     sharing group owned by KZ-CERT, members KZ-CERT and KG-CERT

Tokens are handed out by role name (see :data:`CALLERS`), plus ``expired`` (ana's,
expired a day ago). Every app built here allows a practically unlimited request rate
unless a test asks for a limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from conftest import KEY
from live_server import served
from steppe.api.app import create_app
from steppe.audit.trail import AuditTrail
from steppe.settings import Settings
from steppe.sharing import directory
from steppe.sharing.model import OrgKind, Role
from steppe.storage.schema import api_tokens

#: Caller name → (user, organisation, role) in the coalition.
CALLERS: dict[str, tuple[str, str, Role]] = {
    "admin": ("root", "Center", Role.ADMIN),
    "analyst": ("ana", "KZ-CERT", Role.ANALYST),
    "org_admin": ("kzboss", "KZ-CERT", Role.ORG_ADMIN),
    "reader": ("kzread", "KZ-CERT", Role.READER),
    "sensor": ("kzsensor", "KZ-CERT", Role.SENSOR),
    "partner": ("bek", "KG-CERT", Role.ANALYST),  # in CSTO with KZ-CERT
    "outsider": ("uzi", "UZ-CERT", Role.ANALYST),  # in no group
}
ORGS: dict[str, tuple[str | None, OrgKind]] = {
    "Center": (None, OrgKind.COORDINATOR),
    "KZ-CERT": ("KZ", OrgKind.MEMBER),
    "KG-CERT": ("KG", OrgKind.MEMBER),
    "UZ-CERT": ("UZ", OrgKind.MEMBER),
}
GROUP = "CSTO"
#: High enough that no test (nor schemathesis) meets the rate limit by accident.
UNLIMITED = {"api_rate_per_minute": 10**7, "api_rate_burst": 10**7}


@dataclass(frozen=True)
class Coalition:
    engine: Engine
    tokens: dict[str, str]  # caller name (CALLERS keys, "expired") → bearer token

    def auth(self, caller: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[caller]}"}


@pytest.fixture
def coalition(engine: Engine) -> Coalition:
    trail = AuditTrail(KEY, "test")
    tokens: dict[str, str] = {}
    with engine.begin() as conn:
        orgs = {
            name: directory.add_organisation(conn, trail, name, country, kind)
            for name, (country, kind) in ORGS.items()
        }
        group = directory.add_group(conn, trail, GROUP, orgs["KZ-CERT"])
        for member in ("KZ-CERT", "KG-CERT"):
            group = directory.add_group_member(conn, trail, group, orgs[member])
        for caller, (user, org, role) in CALLERS.items():
            directory.add_user(conn, trail, user, orgs[org], frozenset({role}))
            tokens[caller] = directory.create_token(conn, trail, user, label=caller).token
        expired = directory.create_token(conn, trail, "ana", label="old", expires_days=1)
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == expired.id)
            .values(expires_at="2000-01-01T00:00:00.000000Z")
        )
        tokens["expired"] = expired.token
    return Coalition(engine, tokens)


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(engine: Engine, tmp_path: Path) -> AppFactory:
    """``make_app(api_rate_burst=3)``: the API over the test database with some settings."""

    def build(**overrides: Any) -> FastAPI:
        settings = Settings(data_dir=tmp_path, secret_key=KEY, **{**UNLIMITED, **overrides})
        return create_app(settings, engine=engine)

    return build


@pytest.fixture
def app(make_app: AppFactory, coalition: Coalition) -> FastAPI:
    return make_app()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # A server error must come back as the 500 a client would get, not as an exception.
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def serve(engine: Engine) -> Iterator[Callable[[FastAPI], str]]:
    """``serve(app)`` runs ``app`` under uvicorn on a free port and returns its base URL
    (see :func:`live_server.served`); the servers stop (and are joined) at teardown.

    It asks for ``engine`` so that the servers stop before the engine is disposed: a
    request's database connection is given back only after its response has been sent.
    """
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(served(app))


@pytest.fixture
def live_server(serve: Callable[[FastAPI], str], app: FastAPI) -> str:
    """Base URL of the coalition's API served over HTTP (no rate limit to speak of)."""
    return serve(app)
