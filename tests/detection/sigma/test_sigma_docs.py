"""docs/sigma.md names every logsource mapping the code has."""

from __future__ import annotations

from pathlib import Path

from steppe.detection.sigma.logsource import CATEGORIES, SERVICES

DOC = Path(__file__).resolve().parents[3] / "docs" / "sigma.md"


def test_every_category_and_service_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = {
        cell.strip()
        for line in text.splitlines()
        if line.startswith("|")
        for cell in line.split("|")[1].split(",")
    }
    missing = [name for name in [*CATEGORIES, *SERVICES] if name not in rows]
    assert not missing
