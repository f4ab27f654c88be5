"""Runs the `steppe` command line in-process through its real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from steppe.cli.main import main


class Steppe:
    """Runs `steppe …` with a data dir and reports (exit code, stdout, stderr)."""

    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data_dir = data_dir
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        try:
            main(["--data-dir", str(self.data_dir), *args])
            code = 0
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 0, err
        return out
