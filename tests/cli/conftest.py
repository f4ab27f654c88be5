from __future__ import annotations

from pathlib import Path

import pytest

from cli_runner import Steppe
from conftest import KEY


@pytest.fixture
def steppe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Steppe:
    monkeypatch.setenv("STEPPE_SECRET_KEY", KEY)
    monkeypatch.setenv("COLUMNS", "200")
    run = Steppe(tmp_path / "data", capsys)
    run.ok("init")
    return run
