"""Every SigmaHQ rule with regression data fires on its true-positive events, read both
from the ``.evtx`` file and from its evtx-crate JSON twin."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from steppe.detection.sigma.engine import SigmaEngine
from steppe.ingest.telemetry.formats import read_path
from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem

from .conftest import SIGMA_DATA

REGRESSION = SIGMA_DATA / "regression_data"


def _cases() -> list[tuple[str, Path]]:
    cases: list[tuple[str, Path]] = []
    for info in sorted(REGRESSION.rglob("info.yml")):
        data = yaml.safe_load(info.read_text(encoding="utf-8"))
        for test in data.get("regression_tests_info") or ():
            path = SIGMA_DATA / test["path"]
            for rule in data["rule_metadata"]:
                for variant in sorted({path, path.with_suffix(".json")}):
                    if variant.exists():
                        cases.append((rule["id"], variant))
    return cases


CASES = _cases() if REGRESSION.is_dir() else []


def _events(path: Path) -> list[NormalisedEvent]:
    events: list[NormalisedEvent] = []
    for _, item in read_path(path):
        assert not isinstance(item, ParseProblem), str(item)
        events.append(item)
    return events


def test_there_is_regression_data() -> None:
    if not REGRESSION.is_dir():
        pytest.skip("tests/data/sigma/regression_data is missing")
    assert len(CASES) >= 400  # 202 rules × (evtx + json) at the pinned SigmaHQ commit


@pytest.mark.parametrize(
    ("rule_id", "path"), CASES, ids=[f"{p.parent.name}{p.suffix}" for _, p in CASES]
)
def test_rule_fires_on_its_true_positive(sigmahq: SigmaEngine, rule_id: str, path: Path) -> None:
    events = _events(path)
    assert events
    fired = {info.id for event in events for info in sigmahq.matching_rules(event)}
    assert rule_id in fired


def test_only_placeholder_rules_fail_to_compile(sigmahq: SigmaEngine) -> None:
    # The SigmaHQ set loads whole; the only rules left out use the expand modifier's
    # %placeholders%, which have no value without a site pipeline (docs/sigma.md).
    assert len(sigmahq.rules) > 3700
    assert sigmahq.problems
    assert all("placeholder" in p.reason for p in sigmahq.problems), sigmahq.problems
