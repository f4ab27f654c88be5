"""The SigmaHQ rule set (tests/data/sigma), loaded once for the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest

from steppe.detection.sigma.engine import SigmaEngine

SIGMA_DATA = Path(__file__).resolve().parents[2] / "data" / "sigma"
RULE_DIRS = [SIGMA_DATA / d for d in ("rules", "rules-emerging-threats", "rules-threat-hunting")]


@pytest.fixture(scope="session")
def sigmahq() -> SigmaEngine:
    if not (SIGMA_DATA / "rules").is_dir():
        pytest.skip("tests/data/sigma (the SigmaHQ rules) is missing")
    return SigmaEngine.from_paths(RULE_DIRS)
