"""`steppe hunt` and `steppe lake …` through the real entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli_runner import Steppe
from conftest import KEY
from steppe.lake import EventLake

TODAY = datetime.now(UTC).date()


@pytest.fixture
def steppe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Steppe:
    monkeypatch.setenv("STEPPE_SECRET_KEY", KEY)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("STEPPE_LAKE_DIR", raising=False)
    run = Steppe(tmp_path / "data", capsys)
    run.ok("init")
    run.ok("org", "add", "Center", "--kind", "coordinator")
    run.ok("org", "add", "CERT-A", "--country", "KZ")
    run.ok("org", "add", "CERT-B", "--country", "UZ")
    run.ok("user", "add", "ana", "--org", "CERT-A", "--roles", "analyst")
    run.ok("user", "add", "bob", "--org", "CERT-B", "--roles", "analyst")
    run.ok("user", "add", "cc", "--org", "Center", "--roles", "coordinator")
    run.ok("user", "add", "probe", "--org", "CERT-A", "--roles", "sensor")
    lake = EventLake(run.data_dir / "lake")
    lake.start(background=False)
    for org_id, ip, back in [(2, "10.1.0.1", 0), (2, "10.1.0.2", 40), (3, "10.2.0.1", 0)]:
        day = (TODAY - timedelta(days=back)).isoformat()
        lake.accept(org_id, [{"@timestamp": f"{day}T08:00:00Z", "source.ip": ip, "raw": {}}])
    lake.close()
    return run


def test_hunt_shows_only_what_the_user_may_read(steppe: Steppe) -> None:
    sql = 'SELECT "source.ip" FROM events ORDER BY 1'
    out = steppe.ok("hunt", sql, "--as", "ana")
    assert "10.1.0.1" in out and "10.1.0.2" in out and "10.2.0.1" not in out
    out = steppe.ok("hunt", sql, "--as", "bob", "--json")
    assert json.loads(out)["rows"] == [{"source.ip": "10.2.0.1"}]
    out = steppe.ok("hunt", sql, "--as", "cc", "--json")
    assert [r["source.ip"] for r in json.loads(out)["rows"]] == ["10.1.0.1", "10.1.0.2", "10.2.0.1"]


def test_hunt_limits_rows_and_says_so(steppe: Steppe) -> None:
    code, out, err = steppe("hunt", "SELECT * FROM events", "--as", "cc", "--limit", "2")
    assert code == 0 and "2 rows" in out
    assert "first 2 rows" in err


def test_hunt_errors_are_one_line(steppe: Steppe) -> None:
    lake = steppe.data_dir / "lake"
    for sql in ["SELEC 1", f"SELECT * FROM read_parquet('{lake}/organisation=2/*/*.parquet')"]:
        code, out, err = steppe("hunt", sql, "--as", "bob")
        assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
        assert "10.1.0.1" not in out + err
    code, _, err = steppe("hunt", "SELECT 1", "--as", "probe")
    assert code == 1 and "sensor" in err


def test_lake_stats_lists_partitions_by_organisation(steppe: Steppe) -> None:
    out = steppe.ok("lake", "stats")
    assert "CERT-A" in out and "CERT-B" in out and TODAY.isoformat() in out
    assert "3 days" in out


def test_retention_is_shown_set_and_pruned(steppe: Steppe) -> None:
    assert "default: 90 days" in steppe.ok("lake", "retention")
    assert "keeps 30 days" in steppe.ok("lake", "retention", "--org", "CERT-A", "--days", "30")
    out = steppe.ok("lake", "retention")
    assert "own setting" in out
    out = steppe.ok("lake", "prune")
    old = (TODAY - timedelta(days=40)).isoformat()
    assert f"pruned CERT-A {old}" in out and "1 day partitions pruned" in out
    assert "0 day partitions pruned" in steppe.ok("lake", "prune")
    assert "10.1.0.2" not in steppe.ok("hunt", 'SELECT "source.ip" FROM events', "--as", "ana")
    assert "keeps 90 days" in steppe.ok("lake", "retention", "--org", "CERT-A", "--reset")
    audit = steppe.ok("audit", "list")
    assert "lake.prune" in audit and "lake.retention" in audit


def test_retention_needs_days_or_reset(steppe: Steppe) -> None:
    code, _, err = steppe("lake", "retention", "--org", "CERT-A")
    assert code == 1 and "--days" in err
    code, _, err = steppe("lake", "retention", "--days", "3")
    assert code == 1 and "--org" in err


def test_lake_stats_shows_spool_and_quarantine(steppe: Steppe) -> None:
    lake_dir = steppe.data_dir / "lake"
    (lake_dir / "quarantine").mkdir()
    (lake_dir / "quarantine" / "x-00000001.wal").write_bytes(b"12345")
    code, _, err = steppe("lake", "stats")
    assert code == 0 and "quarantine: 1 segments (5 bytes)" in err
    live = EventLake(lake_dir, flush_seconds=3600)
    live.start(background=False)
    live.accept(2, [{"@timestamp": "2026-11-28T08:00:00Z", "raw": {}}])
    assert "spool: 1 segments" in steppe.ok("lake", "stats")
    live.close()


def test_lake_compact_merges_past_days(steppe: Steppe) -> None:
    old = (TODAY - timedelta(days=40)).isoformat()
    lake = EventLake(steppe.data_dir / "lake")
    lake.start(background=False)
    lake.accept(2, [{"@timestamp": f"{old}T09:00:00Z", "source.ip": "10.1.0.3", "raw": {}}])
    lake.close()
    out = steppe.ok("lake", "compact")
    assert f"organisation 2 {old}: 2 files → 1" in out and "1 day partitions compacted" in out
    ips = steppe.ok("hunt", 'SELECT "source.ip" FROM events ORDER BY 1', "--as", "ana", "--json")
    assert [r["source.ip"] for r in json.loads(ips)["rows"]] == ["10.1.0.1", "10.1.0.2", "10.1.0.3"]
