"""Shared fixtures: real databases (a SQLite file, and a fresh database on the
machine's PostgreSQL), migrated with the shipped Alembic migrations."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from steppe.audit.trail import AuditTrail
from steppe.storage import migrate
from steppe.storage.engine import make_engine

KEY = "test-secret-key-0123456789abcdef"
PG_ADMIN_DSN = os.environ.get(
    "STEPPE_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


@pytest.fixture
def trail() -> AuditTrail:
    return AuditTrail(key=KEY, actor="test")


@pytest.fixture
def sqlite_engine(tmp_path: object) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/steppe.db")  # type: ignore[str-bytes-safe]
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _pg_url(dbname: str) -> str:
    params = dict(p.split("=", 1) for p in PG_ADMIN_DSN.split())
    return (
        f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}"
        f":{params.get('port', '5432')}/{dbname}"
    )


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (URL), dropped afterwards."""
    name = f"steppe_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_engine(pg_database: str) -> Iterator[Engine]:
    engine = make_engine(pg_database)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on the embedded default and on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


# --- leaving quickly ----------------------------------------------------------------------
# After the last report, the interpreter would free every object the suite left alive one
# by one (hypothesis' caches, engines, indexes, parsed rule sets): tens of seconds of
# CI for nothing. Once pytest has written its summary and every fixture is torn down, the
# process ends with pytest's exit status instead. STEPPE_TEST_SLOW_EXIT=1 keeps the normal
# shutdown (e.g. to look for resource warnings at exit).


_EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    status = config.stash.get(_EXIT_STATUS, None)
    if status is None or os.environ.get("STEPPE_TEST_SLOW_EXIT") == "1":
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
