"""Fixtures for the storage tests: an empty database, for migration tests to bring up to
an old revision and upgrade from there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from steppe.storage.engine import make_engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bare_engine(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Engine]:
    """An empty database (SQLite, and PostgreSQL with the postgres mark), no migration."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/old.db"
    else:
        url = request.getfixturevalue("pg_database")
    engine = make_engine(url)
    yield engine
    engine.dispose()
