"""The shipped migrations build exactly the schema the code describes, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select

from steppe.storage import migrate
from steppe.storage.ids import allocate_ids
from steppe.storage.schema import metadata


def test_migrated_schema_matches_the_model(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_upgrade_twice_is_harmless(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_id_blocks_do_not_overlap(engine: Engine) -> None:
    with engine.begin() as conn:
        first = allocate_ids(conn, "intel_objects", 10)
        second = allocate_ids(conn, "intel_objects", 5)
        empty = allocate_ids(conn, "intel_objects", 0)
    assert list(first) == list(range(1, 11))
    assert list(second) == list(range(11, 16))
    assert len(empty) == 0


def test_rejected_transaction_gives_its_ids_back(engine: Engine) -> None:
    conn = engine.connect()
    tx = conn.begin()
    allocate_ids(conn, "observables", 100)
    tx.rollback()
    conn.close()
    with engine.begin() as conn:
        assert allocate_ids(conn, "observables", 1) == range(1, 2)
        assert conn.execute(select(1)).scalar() == 1
