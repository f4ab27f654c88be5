"""`steppe intel share` (re-marking) and `steppe user password` (web sign-in)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cli_runner import Steppe
from helpers import bundle, indicator

OBJ = "indicator--00000000-0000-4000-8000-0000000000aa"


def test_share_widens_the_audience_and_only_the_owner_may(
    coalition: Steppe, tmp_path: Path
) -> None:
    feed = tmp_path / "own.json"
    feed.write_bytes(bundle(indicator("cn-only.example", id=OBJ)))
    coalition.ok("intel", "import", str(feed), "--as", "CNCERT")  # organisation-only
    assert "no intel visible" in coalition.ok("intel", "search", "cn-only.example", "--as", "pk")
    code, _out, err = coalition("intel", "share", OBJ, "--as", "pk", "--distribution", "community")
    assert code == 1 and "no object" in err  # PK cannot see it: the same answer as unknown
    out = coalition.ok(
        "intel", "share", OBJ, "--as", "cn", "--distribution", "groups", "--group", "QCCM"
    )
    assert "now for QCCM at TLP:AMBER" in out
    assert OBJ in coalition.ok("intel", "search", "cn-only.example", "--as", "pk")
    assert OBJ not in coalition.ok("intel", "search", "cn-only.example", "--as", "ru")
    code, _out, err = coalition(
        "intel", "share", OBJ, "--as", "cn", "--distribution", "community", "--tlp", "red"
    )
    assert code == 1 and "TLP:RED" in err


def test_password_from_stdin_and_its_checks(
    coalition: Steppe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
    assert "password set for kz" in coalition.ok("user", "password", "kz", "--password-stdin")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _out, err = coalition("user", "password", "kz", "--password-stdin")
    assert code == 1 and "password: must be at least 10 characters" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
    code, _out, err = coalition("user", "password", "nobody", "--password-stdin")
    assert code == 1 and "nobody" in err
