"""The audit chain finds what was changed, inserted or removed behind its back."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, text, update

from conftest import KEY
from steppe.audit.log import append, verify
from steppe.storage.schema import audit_log


def _fill(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        for i in range(n):
            append(
                conn,
                KEY,
                actor=f"user{i}",
                action="intel.import",
                obj=f"bundle {i}",
                detail={"count": i},
            )


def test_intact_chain_verifies(engine: Engine) -> None:
    _fill(engine, 5)
    with engine.connect() as conn:
        report = verify(conn, KEY)
    assert report.ok and report.entries == 5


def test_changed_row_is_found(engine: Engine) -> None:
    _fill(engine, 5)
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(actor="someone-else"))
    with engine.connect() as conn:
        report = verify(conn, KEY)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "changed" in (report.problem or "")


def test_changed_detail_is_found_even_with_raw_sql(engine: Engine) -> None:
    _fill(engine, 3)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET detail = :d WHERE seq = 2"), {"d": '{"count": 99}'})
    with engine.connect() as conn:
        assert verify(conn, KEY).first_bad_seq == 2


def test_removed_tail_is_found(engine: Engine) -> None:
    _fill(engine, 4)
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 4))
    with engine.connect() as conn:
        report = verify(conn, KEY)
    assert not report.ok and "removed" in (report.problem or "")


def test_removed_middle_is_found(engine: Engine) -> None:
    _fill(engine, 4)
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 2))
    with engine.connect() as conn:
        report = verify(conn, KEY)
    assert report.first_bad_seq == 2 and "missing" in (report.problem or "")


def test_chain_cannot_be_recomputed_without_the_key(engine: Engine) -> None:
    _fill(engine, 2)
    with engine.connect() as conn:
        assert not verify(conn, "another-key-0123456789").ok


def test_rolled_back_action_leaves_no_entry(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        append(conn, KEY, actor="a", action="x", obj="y")
        raise RuntimeError("the action failed")
    with engine.connect() as conn:
        report = verify(conn, KEY)
    assert report.ok and report.entries == 0
