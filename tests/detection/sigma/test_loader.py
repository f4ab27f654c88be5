"""Loading rule folders: problems say file, line and reason; the rest load."""

from __future__ import annotations

from pathlib import Path

from steppe.detection.sigma.engine import SigmaEngine
from steppe.detection.sigma.loader import load_rules

from .helpers import sysmon

GOOD = """title: good
id: 11111111-1111-4111-8111-111111111111
logsource: {product: windows, category: process_creation}
detection: {sel: {Image|endswith: '\\\\good.exe'}, condition: sel}
"""


def test_problems_name_file_line_and_reason(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(GOOD)
    (tmp_path / "modifier.yml").write_text(
        "---\ntitle: one\nlogsource: {product: windows}\n"
        "detection: {sel: {Image|endswith: x}, condition: sel}\n"
        "---\ntitle: two\nlogsource: {product: windows}\n"
        "detection: {sel: {Image|nosuch: x}, condition: sel}\n"
    )
    (tmp_path / "condition.yml").write_text(
        "title: c\nlogsource: {product: windows}\ndetection: {sel: {a: 1}, condition: other}\n"
    )
    (tmp_path / "list.yml").write_text("- not a rule\n")
    engine = SigmaEngine.from_paths([tmp_path])
    by_file = {Path(p.source).name: p for p in engine.problems}
    assert set(by_file) == {"modifier.yml", "condition.yml", "list.yml"}
    assert by_file["modifier.yml"].line == 6 and "nosuch" in by_file["modifier.yml"].reason
    assert "other" in by_file["condition.yml"].reason
    assert sorted(r.title for r in engine.rules) == ["good", "one"]
    assert engine.matching_rules(sysmon(Image="c:\\good.exe"))


def test_filters_apply_to_the_rules_they_name(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(GOOD)
    (tmp_path / "filter.yml").write_text(
        "title: not on the build server\n"
        "logsource: {product: windows, category: process_creation}\n"
        "filter:\n  rules: [11111111-1111-4111-8111-111111111111]\n"
        "  selection: {Computer: build01}\n  condition: not selection\n"
    )
    loaded = load_rules([tmp_path])
    assert len(loaded.filters) == 1 and not loaded.problems
    engine = SigmaEngine(loaded)
    assert engine.matching_rules(sysmon(Image="c:\\good.exe", Computer="pc7"))
    assert not engine.matching_rules(sysmon(Image="c:\\good.exe", Computer="BUILD01"))
