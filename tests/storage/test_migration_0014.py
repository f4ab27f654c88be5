"""Migration 0014: intel_objects' marking checks accept and refuse what they did before."""

from __future__ import annotations

import itertools

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from steppe.storage import migrate
from steppe.storage.schema import intel_objects, organisations

T1 = "2026-11-01T00:00:00.000000Z"
DISTRIBUTIONS = ("organisation", "groups", "community", "federation", "everyone", "Community", "")
TLPS = ("clear", "green", "amber", "amber+strict", "red", "white", "amber+", "")


def _allowed(distribution: str, tlp: str) -> bool:
    """The marking rules as the model states them (steppe.sharing.model)."""
    return (
        distribution in ("organisation", "groups", "community", "federation")
        and tlp in ("clear", "green", "amber", "amber+strict", "red")
        and not (tlp == "red" and distribution in ("community", "federation"))
    )


def _accepted(conn: Connection, pk: int, distribution: str, tlp: str) -> bool:
    row = {
        "pk": pk, "stix_id": f"indicator--{pk:08d}-0000-5000-8000-000000000000",
        "type": "indicator", "modified": T1, "owner_org_id": 1, "distribution": distribution,
        "tlp": tlp, "revoked": False, "is_current": True, "imported_at": T1, "body": "{}",
    }  # fmt: skip
    savepoint = conn.begin_nested()
    try:
        conn.execute(insert(intel_objects).values(row))
    except IntegrityError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def _verdicts(engine: Engine, first_pk: int) -> dict[tuple[str, str], bool]:
    pairs = list(itertools.product(DISTRIBUTIONS, TLPS))
    with engine.begin() as conn:
        return {pair: _accepted(conn, pk, *pair) for pk, pair in enumerate(pairs, first_pk)}


def test_the_checks_decide_alike_before_and_after_0014_and_back(bare_engine: Engine) -> None:
    migrate.upgrade(bare_engine, "0013")
    with bare_engine.begin() as conn:
        conn.execute(
            insert(organisations).values(id=1, name="Center", kind="coordinator", created_at=T1)
        )
    before = _verdicts(bare_engine, 1)
    assert before == {pair: _allowed(*pair) for pair in before}
    with bare_engine.connect() as conn:
        stored = conn.execute(select(intel_objects).order_by(intel_objects.c.pk)).all()

    migrate.upgrade(bare_engine)
    with bare_engine.connect() as conn:
        # The rows written under the old checks are all still there, unchanged.
        assert conn.execute(select(intel_objects).order_by(intel_objects.c.pk)).all() == stored
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'intel_objects'"
            ).scalar_one()
            assert "distribution = 'organisation' OR" in sql
            assert "tlp IN" not in sql
        else:  # PostgreSQL shows an IN list as "= ANY (ARRAY[…])"
            shown = conn.exec_driver_sql(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conname = 'ck_intel_objects_tlp'"
            ).scalar_one()
            assert "ANY" not in shown and "'amber+strict'" in shown
    # A connection opened before the migration reads the new schema too (the engine's
    # pool keeps the migrating one): each decides as before.
    assert _verdicts(bare_engine, 1000) == {pair: _allowed(*pair) for pair in before}

    cfg = migrate.alembic_config()
    with bare_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")
    assert _verdicts(bare_engine, 2000) == {pair: _allowed(*pair) for pair in before}


def test_0014_refuses_a_check_it_does_not_know(bare_engine: Engine) -> None:
    if bare_engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL drops and adds the constraints by name")
    migrate.upgrade(bare_engine, "0013")
    with bare_engine.begin() as conn:
        version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
        conn.exec_driver_sql("PRAGMA writable_schema=ON")
        conn.exec_driver_sql(
            "UPDATE sqlite_master SET sql = replace(sql, '''amber+strict'', ', '')"
            " WHERE name = 'intel_objects'"
        )
        conn.exec_driver_sql(f"PRAGMA schema_version={version + 1}")
        conn.exec_driver_sql("PRAGMA writable_schema=OFF")
    with pytest.raises(RuntimeError, match="ck_intel_objects_tlp"):
        migrate.upgrade(bare_engine)
    assert migrate.current_revision(bare_engine) == "0013"
