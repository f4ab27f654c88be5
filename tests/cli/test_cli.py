"""The `steppe` command line, run in-process through its real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from cli_runner import Steppe
from conftest import KEY
from helpers import bundle, indicator
from steppe.storage.engine import make_engine


def test_init_refuses_without_a_secret_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STEPPE_SECRET_KEY", raising=False)
    code, _out, err = Steppe(tmp_path / "d", capsys)("init")
    assert code == 1
    assert err.startswith("error: STEPPE_SECRET_KEY is not set")


def test_commands_before_init_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEPPE_SECRET_KEY", KEY)
    code, _out, err = Steppe(tmp_path / "d", capsys)("org", "list")
    assert code == 1 and "run `steppe init` first" in err


def test_non_qccm_users_find_nothing_by_any_command(coalition: Steppe, tmp_path: Path) -> None:
    for user in ("ru", "kz", "boss"):
        for value in ("qccm-only.example", "198.51.100.9"):
            out = coalition.ok("intel", "search", value, "--as", user)
            assert "no intel visible" in out
            assert coalition.ok("intel", "search", value, "--as", user, "--json") == ""
        exported = json.loads(coalition.ok("intel", "export", "--as", user))
        assert exported["objects"] == []
        groups = coalition.ok("group", "list", "--as", user)
        # Members of other blocs do not learn QCCM exists; the instance admin manages
        # every group (and sees rosters, never the intel).
        assert ("QCCM" in groups) is (user == "boss")
    stix_id = json.loads(
        coalition.ok("intel", "search", "qccm-only.example", "--as", "pk", "--json")
    )["stix_id"]
    code, _out, err = coalition("intel", "show", stix_id, "--as", "ru")
    assert code == 1 and err == f"error: no object {stix_id!r}\n"
    assert json.loads(coalition.ok("intel", "show", stix_id, "--as", "pk"))["id"] == stix_id


def test_members_find_it_and_the_roster_stays_hidden(coalition: Steppe) -> None:
    out = coalition.ok("intel", "search", "QCCM-ONLY.example.", "--as", "pk")
    assert "domain qccm-only.example: 1 visible to pk" in out and "CNCERT" in out
    roster = coalition.ok("group", "list", "--as", "pk")
    assert "hidden; you are a member" in roster and "CNCERT" in roster  # CNCERT as owner only
    assert "PKCERT" not in roster
    assert "PKCERT" in coalition.ok("group", "list", "--as", "cn")


def test_export_to_file_is_a_stix_bundle(coalition: Steppe, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    coalition.ok("intel", "export", "--as", "pk", "-o", str(target))
    doc = json.loads(target.read_text())
    assert doc["type"] == "bundle"
    assert {o["type"] for o in doc["objects"]} == {"indicator", "marking-definition"}


def test_bad_input_is_one_line_with_file_line_field_and_nothing_written(
    coalition: Steppe, tmp_path: Path
) -> None:
    bad = indicator("fine.example")
    bad["pattern"] = "[domain-name:value = 'unterminated]"
    feed = tmp_path / "bad.json"
    feed.write_bytes(bundle(indicator("first.example"), bad))
    code, _out, err = coalition("intel", "import", str(feed), "--as", "PKCERT")
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {feed}:") and "objects[1].pattern" in lines[0]
    assert "Traceback" not in err
    assert "no intel visible" in coalition.ok("intel", "search", "first.example", "--as", "pk")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("org", "add", "X", "--country", "Atlantis"), "'Atlantis' is not an ISO 3166 country"),
        (("org", "add", "CNCERT", "--country", "CN"), "organisation 'CNCERT' already exists"),
        (("user", "add", "x", "--org", "CNCERT", "--roles", "wizard"), "unknown role 'wizard'"),
        (
            ("user", "add", "x", "--org", "CNCERT", "--roles", "admin"),
            "belong to the center's own staff",
        ),
        (("intel", "import", "missing.json", "--as", "CNCERT"), "missing.json: no such file"),
        (("intel", "search", "x", "--as", "nobody"), "no user named 'nobody'"),
        (("intel", "search", "not a value", "--as", "ru"), "error:"),
        (("intel", "import", "-", "--as", "CNCERT", "--tlp", "purple"), "unknown TLP 'purple'"),
        (("group", "add-member", "QCCM", "PKCERT"), "already a member"),
    ],
)
def test_errors_are_single_lines(coalition: Steppe, args: tuple[str, ...], message: str) -> None:
    code, _out, err = coalition(*args)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_red_to_community_is_refused(coalition: Steppe, tmp_path: Path) -> None:
    feed = tmp_path / "red.json"
    feed.write_bytes(bundle(indicator("red.example")))
    code, _out, err = coalition(
        "intel",
        "import",
        str(feed),
        "--as",
        "RU-CERT",
        "--distribution",
        "community",
        "--tlp",
        "red",
    )
    assert code == 1 and "TLP:RED is for a named audience" in err


def test_token_is_shown_once_and_stored_hashed(coalition: Steppe) -> None:
    out = coalition.ok("token", "create", "pk", "--label", "sensor script")
    token = out.strip()
    assert token.startswith("stp_") and len(token) > 40
    engine = make_engine(f"sqlite:///{coalition.data_dir}/steppe.db")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash, prefix FROM api_tokens")).one()
    engine.dispose()
    assert token not in stored.token_hash and stored.prefix == token[:10]


def test_audit_verify_catches_a_changed_row(coalition: Steppe) -> None:
    assert "intact" in coalition.ok("audit", "verify")
    engine = make_engine(f"sqlite:///{coalition.data_dir}/steppe.db")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    engine.dispose()
    code, _out, err = coalition("audit", "verify")
    assert code == 1 and "BROKEN at entry 3" in err
