"""`steppe intel sight`, `intel show` (score, sightings, related), `intel search --technique`,
`steppe tag list|add`, `steppe attack show`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import KEY
from helpers import bundle, indicator
from steppe.cli.main import main
from steppe.storage import timestamps


class Run:
    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data_dir, self.capsys = data_dir, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        try:
            main(["--data-dir", str(self.data_dir), *args])
            code = 0
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str) -> tuple[str, str]:
        code, out, err = self(*args)
        assert code == 0, err
        return out, err


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("STEPPE_SECRET_KEY", KEY)
    monkeypatch.setenv("COLUMNS", "250")
    steppe = Run(tmp_path / "data", capsys)
    steppe.ok("init")
    steppe.ok("org", "add", "Center", "--kind", "coordinator")
    steppe.ok("org", "add", "KZ-CERT", "--country", "KZ")
    steppe.ok("org", "add", "KG-CERT", "--country", "KG")
    steppe.ok("user", "add", "ana", "--org", "KZ-CERT", "--roles", "analyst")
    steppe.ok("user", "add", "bek", "--org", "KG-CERT", "--roles", "analyst")
    return steppe


def test_sight_show_search_tag_and_attack(run: Run, tmp_path: Path) -> None:
    fresh = timestamps.now()[:23] + "Z"  # so the score has not decayed yet
    a = indicator("cli.bad.test", confidence=80, valid_from=fresh)
    b = indicator("cli.bad.test")
    feed = tmp_path / "f.json"
    feed.write_bytes(bundle(a, b))
    run.ok("intel", "import", str(feed), "--as", "KZ-CERT", "--distribution", "community",
           "--tlp", "green")  # fmt: skip
    out, _ = run.ok("intel", "sight", a["id"], "--type", "false-positive", "--as", "bek")
    assert "false-positive x1" in out and "score now 40.0" in out
    out, err = run.ok("intel", "show", a["id"], "--as", "ana")
    assert '"id": "' + a["id"] in out  # stdout stays the STIX object
    assert "score 40.0" in err and "false-positive 1" in err and b["id"] in err
    assert "KG-CERT" not in err  # anonymous sighting
    out, _ = run.ok("intel", "search", "cli.bad.test", "--as", "ana", "--json")
    scores = {json.loads(line)["stix_id"]: json.loads(line)["score"] for line in out.splitlines()}
    assert scores[a["id"]] == 40.0
    out, _ = run.ok("intel", "search", "cli.bad.test", "--as", "ana")
    assert "score" in out and "40" in out

    out, _ = run.ok("tag", "add", a["id"], "attack.t1059.001", "--as", "ana")
    assert "attack.t1059.001" in out
    code, _, err = run("tag", "add", a["id"], "PAP:PINK", "--as", "ana")
    assert code == 1 and "PAP:PINK" in err and "Traceback" not in err
    out, _ = run.ok("intel", "search", "--technique", "T1059", "--as", "bek")
    assert a["id"] in out and "attack-pattern--970a3432" in out
    out, _ = run.ok("attack", "show", "T1059.001", "--as", "bek")
    assert "PowerShell" in out and a["id"] in out
    out, _ = run.ok("tag", "list", "--namespace", "PAP")
    assert "PAP:GREEN" in out
    code, _, err = run("intel", "search", "--as", "bek")
    assert code == 1 and "--technique" in err
