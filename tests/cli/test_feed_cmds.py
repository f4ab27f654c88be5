"""`steppe feed …` through the real entry point, with feeds on disk and over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import Steppe
from feed_server import LOCAL_SETTINGS, FeedServer, feed_server_fixture  # noqa: F401


@pytest.fixture(autouse=True)
def _allow_local_feeds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed server (127.0.0.1) and the temporary folder, allowed explicitly."""
    monkeypatch.setenv("STEPPE_FEED_ALLOWED_HOSTS", ",".join(LOCAL_SETTINGS["feed_allowed_hosts"]))
    roots = LOCAL_SETTINGS["feed_file_roots"]
    monkeypatch.setenv("STEPPE_FEED_FILE_ROOTS", ",".join(str(r) for r in roots))


def test_add_pull_list_show_and_remove(
    coalition: Steppe,
    tmp_path: Path,
    feed_server: FeedServer,
) -> None:
    run = coalition
    listed = tmp_path / "kz-c2.txt"
    listed.write_text("# KZ C2\n45.154.244.193\nevil-kz.example\nnot a value\n")
    run.ok(
        "feed", "add", "kz-c2", "--url", listed.as_uri(), "--format", "plain",
        "--owner", "CNCERT", "--distribution", "groups", "--group", "QCCM", "--every", "1h",
    )  # fmt: skip
    feed_server.files["/list.txt"] = b"45.154.244.193\n"
    run.ok(
        "feed", "add", "center", "--url", feed_server.url("/list.txt"), "--format", "plain",
        "--owner", "Center", "--distribution", "community", "--tlp", "green",
    )  # fmt: skip
    run.ok(
        "feed",
        "add",
        "down",
        "--url",
        "http://127.0.0.1:9/x",
        "--format",
        "plain",
        "--owner",
        "Center",
    )

    code, out, _err = run("feed", "pull")
    assert code == 1  # one feed failed; the others still landed
    assert "down: FAILED" in out and "Connection refused" in out
    assert "kz-c2: 2 entries — 2 new" in out and "1 bad rows" in out
    assert f"bad row: {listed}:4:" in out
    assert "center: 1 entries — 1 new" in out

    table = run.ok("feed", "list")
    assert "failing" in table and "ok (1 bad rows)" in table
    assert "kz-c2" not in run.ok("feed", "list", "--as", "ru")  # not in QCCM
    assert "kz-c2" in run.ok("feed", "list", "--as", "pk")
    shown = json.loads(run.ok("feed", "show", "kz-c2"))
    assert shown["last_stats"]["new"] == 2 and shown["every_seconds"] == 3600
    assert shown["groups"] == ["QCCM"] and shown["health"] == "ok (1 bad rows)"
    code, _out, err = run("feed", "show", "kz-c2", "--as", "ru")
    assert code == 1 and "no feed named 'kz-c2'" in err

    # Both feeds list the address; each analyst sees the sources they may see.
    pk = run.ok("intel", "search", "45.154.244.193", "--as", "pk")
    assert "sources of 45.154.244.193" in pk and "kz-c2" in pk and "center" in pk
    ru = run.ok("intel", "search", "45.154.244.193", "--as", "ru", "--json")
    assert {s["feed"] for s in json.loads(ru.splitlines()[0])["sources"]} == {"center"}

    assert "no feed to pull" in run.ok("feed", "pull", "--due")  # kz-c2: hourly, just pulled
    out = run.ok("feed", "pull", "center")
    assert "center: not modified" in out

    assert "2 indicators revoked" in run.ok("feed", "remove", "kz-c2")
    assert "(revoked)" in run.ok("intel", "search", "evil-kz.example", "--as", "cn")
    code, _out, err = run("feed", "pull", "kz-c2")
    assert code == 1 and "no feed named 'kz-c2'" in err


def test_bad_settings_are_refused_with_one_line(coalition: Steppe) -> None:
    run = coalition
    base = ("feed", "add", "x", "--url", "https://feeds.example/x", "--owner", "Center")
    code, _o, err = run(*base, "--format", "csv", "--mapping", "{nope")
    assert code == 1 and err.startswith("error: --mapping: not JSON")
    code, _o, err = run(*base, "--format", "plain", "--every", "soon")
    assert code == 1 and "is not an interval" in err
    code, _o, err = run(*base, "--format", "plain", "--preset", "nonesuch")
    assert code == 1 and "unknown preset" in err
    code, _o, err = run(*base, "--format", "plain", "--tlp", "red", "--distribution", "community")
    assert code == 1 and "TLP:RED" in err
    code, _o, err = run(
        "feed", "add", "y", "--url", "ftp://x/y", "--owner", "Center", "--format", "plain"
    )
    assert code == 1 and "http://, https:// or file://" in err
