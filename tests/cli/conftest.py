from __future__ import annotations

from pathlib import Path

import pytest

from cli_runner import Steppe
from conftest import KEY
from helpers import bundle, indicator


@pytest.fixture
def steppe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Steppe:
    monkeypatch.setenv("STEPPE_SECRET_KEY", KEY)
    monkeypatch.setenv("COLUMNS", "200")
    run = Steppe(tmp_path / "data", capsys)
    run.ok("init")
    return run


@pytest.fixture
def coalition(steppe: Steppe, tmp_path: Path) -> Steppe:
    steppe.ok("org", "add", "Center", "--kind", "coordinator")
    for name, country in [
        ("CNCERT", "China"),
        ("PKCERT", "PK"),
        ("RU-CERT", "RUS"),
        ("KZ-CERT", "KZ"),
    ]:
        steppe.ok("org", "add", name, "--country", country)
    steppe.ok(
        "group",
        "add",
        "QCCM",
        "--owner",
        "CNCERT",
        "--member",
        "CNCERT",
        "--member",
        "PKCERT",
        "--hidden-roster",
    )
    for user, org in [("cn", "CNCERT"), ("pk", "PKCERT"), ("ru", "RU-CERT"), ("kz", "KZ-CERT")]:
        steppe.ok("user", "add", user, "--org", org, "--roles", "analyst")
    steppe.ok("user", "add", "boss", "--org", "Center", "--roles", "admin,coordinator")
    feed = tmp_path / "qccm.json"
    feed.write_bytes(
        bundle(indicator("qccm-only.example"), indicator("198.51.100.9", "ipv4-addr:value"))
    )
    steppe.ok(
        "intel",
        "import",
        str(feed),
        "--as",
        "CNCERT",
        "--distribution",
        "groups",
        "--group",
        "QCCM",
        "--tlp",
        "amber",
    )
    return steppe
