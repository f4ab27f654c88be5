"""`steppe sigma scan` and `steppe sigma check` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import Steppe

DATA = Path(__file__).resolve().parents[1] / "data" / "sigma"
WHOAMI_RULES = DATA / "rules" / "windows" / "process_creation"
WHOAMI_EVENTS = DATA / "regression_data" / "rules" / "windows" / "process_creation"


@pytest.fixture
def steppe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Steppe:
    if not WHOAMI_EVENTS.is_dir():
        pytest.skip("tests/data/sigma is missing")
    return Steppe(tmp_path / "data", capsys)


def _case() -> tuple[Path, str]:
    folder = WHOAMI_EVENTS / "proc_creation_win_whoami_execution"
    if not folder.is_dir():  # pick any case folder
        folder = next(p for p in sorted(WHOAMI_EVENTS.iterdir()) if p.is_dir())
    rule_id = next(folder.glob("*.json")).stem
    return folder, rule_id


def test_scan_prints_hits_and_a_summary(steppe: Steppe) -> None:
    folder, rule_id = _case()
    code, out, err = steppe("sigma", "scan", str(folder), "--rules", str(WHOAMI_RULES))
    assert code == 0, err
    assert rule_id in out  # the hit lines and the summary name the rule
    assert "hits per rule" in out and "2 events in 2 files" in out
    assert "1 files skipped (no telemetry format)" in err and "info.yml" in err


def test_scan_json(steppe: Steppe) -> None:
    folder, rule_id = _case()
    code, out, err = steppe(
        "sigma", "scan", str(folder), "--rules", str(WHOAMI_RULES), "--format", "auto", "--json"
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    hits, summary = lines[:-1], lines[-1]
    assert {h["rule_id"] for h in hits} >= {rule_id}
    assert all(h["event"]["raw"]["EventID"] == 1 for h in hits)
    assert summary["events"] == 2 and rule_id in {s["rule_id"] for s in summary["summary"]}
    assert [Path(p).name for p in summary["skipped"]] == ["info.yml"]


def test_scan_min_level_leaves_out_lower_hits(steppe: Steppe) -> None:
    folder, _ = _case()
    out = steppe.ok("sigma", "scan", str(folder), "--rules", str(WHOAMI_RULES), "--json")
    levels = {h["level"] for h in map(json.loads, out.splitlines()[:-1])}
    top = max(levels, key=["informational", "low", "medium", "high", "critical"].index)
    out = steppe.ok(
        "sigma", "scan", str(folder), "--rules", str(WHOAMI_RULES), "--json", "--min-level", top
    )
    assert {h["level"] for h in map(json.loads, out.splitlines()[:-1])} == {top}
    code, _, err = steppe(
        "sigma", "scan", str(folder), "--rules", str(WHOAMI_RULES), "--min-level", "severe"
    )
    assert code == 1 and "unknown level" in err


def test_scan_refuses_a_missing_path_in_one_line(steppe: Steppe, tmp_path: Path) -> None:
    code, _, err = steppe("sigma", "scan", str(tmp_path / "nope"), "--rules", str(WHOAMI_RULES))
    assert code == 1 and err.startswith("error:") and "nope" in err


def test_check_lists_rules_that_do_not_load(steppe: Steppe, tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("title: x\nlogsource: {}\ndetection: {condition: sel}\n")
    (tmp_path / "ok.yml").write_text(
        "title: ok\nlogsource: {product: windows}\ndetection: {sel: {Image: x}, condition: sel}\n"
    )
    code, out, _ = steppe("sigma", "check", "--rules", str(tmp_path))
    assert code == 1
    assert "bad.yml:1:" in out and "1 rules loaded from 2 files; 1 not loaded" in out
