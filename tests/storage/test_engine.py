"""SQLite write transactions: a large commit whose WAL a thread copies into the database."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from steppe.storage.engine import make_engine, writing

_ROWS = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)"
    " INSERT INTO t SELECT hex(randomblob(200)) FROM n"
)


def _checkpoints_done() -> None:
    for thread in threading.enumerate():
        if thread.name == "steppe-checkpoint":
            thread.join()


def test_a_commit_checkpointed_after_lands_in_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "steppe.db"
    engine = make_engine(f"sqlite:///{path}", pool_size=1)
    try:
        with writing(engine) as conn:
            conn.exec_driver_sql("CREATE TABLE t (x TEXT)")
        with writing(engine, checkpoint_after=True) as conn:
            conn.exec_driver_sql(_ROWS)  # ~8 MB: past the automatic checkpoint's 1,000 pages
        _checkpoints_done()
        assert path.stat().st_size > 8_000_000  # copied from the WAL by the thread
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 20000
            # the pooled connection checkpoints automatically again, as before the pull
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        engine.dispose()


def test_a_failed_transaction_leaves_nothing_and_the_connection_as_it_was(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'steppe.db'}", pool_size=1)
    try:
        with writing(engine) as conn:
            conn.exec_driver_sql("CREATE TABLE t (x TEXT)")
        with pytest.raises(RuntimeError), writing(engine, checkpoint_after=True) as conn:
            conn.exec_driver_sql(_ROWS)
            raise RuntimeError("a pull that fails half-way")
        _checkpoints_done()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        engine.dispose()


def test_a_large_transaction_writes_its_wal_as_it_goes_beside_a_syncer(tmp_path: Path) -> None:
    path = tmp_path / "steppe.db"
    engine = make_engine(f"sqlite:///{path}", pool_size=1)
    wal = Path(f"{path}-wal")
    try:
        with writing(engine) as conn:
            conn.exec_driver_sql("CREATE TABLE t (x TEXT)")
        with writing(engine, checkpoint_after=True) as conn:
            for _ in range(3):  # ~24 MB: past the transaction's 16 MB page cache
                conn.exec_driver_sql(_ROWS)
            syncers = [t for t in threading.enumerate() if t.name == "steppe-walsync"]
            assert len(syncers) == 1 and syncers[0].is_alive()
            assert wal.stat().st_size > 5_000_000  # spilled while the transaction runs
        assert not syncers[0].is_alive()  # stopped with the transaction
        _checkpoints_done()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 60000
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -65536
    finally:
        engine.dispose()
