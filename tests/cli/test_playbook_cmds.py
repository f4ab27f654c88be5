"""`steppe playbook`: check files, list, run once, follow and retry runs."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from cli_runner import Steppe
from receivers import webhook_receiver

HOOK = """\
name: cn-intel
owner: CNCERT
trigger: {{type: intel, backfill: 1h}}
actions:
  - type: webhook
    url: {url}
    secret: PB_CLI_SECRET
    retries: 1
"""


def test_check_prints_every_problem_with_its_line(steppe: Steppe, tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(HOOK.format(url="https://hooks.example/cn").replace("CNCERT", "Nobody"))
    bad = tmp_path / "bad.yml"
    bad.write_text(HOOK.format(url="ftp://x").replace("retries: 1", "retries: lots"))
    code, out, _err = steppe("playbook", "check", str(bad))
    assert code == 1
    assert out.splitlines() == [f"{bad}:8: actions[0].retries: must be a whole number, got 'lots'"]
    code, out, _err = steppe("playbook", "check", str(good))
    assert code == 1  # the database is there: the owner is checked too
    assert out.strip() == f"{good}:2: owner: no organisation named 'Nobody' (see `steppe org list`)"


def test_run_once_runs_follows_and_retries(
    coalition: Steppe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PB_CLI_SECRET", "cli-secret-0123456789")
    monkeypatch.setenv("STEPPE_PLAYBOOK_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")  # the receiver
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "broken.yml").write_text("name: [\n")
    with webhook_receiver(b"cli-secret-0123456789", always_fail=True) as hook:
        (folder / "cn.yml").write_text(HOOK.format(url=hook.url))
        listing = coalition.ok("playbook", "list", "--dir", str(folder))
        assert "cn-intel" in listing and "webhook" in listing
        code, out, err = coalition("playbook", "run-once", "--dir", str(folder), "--settle", "0")
        assert code == 0
        assert "2 new runs, 2 attempts: 2 dead" in out
        assert "broken.yml:2: YAML:" in err
        runs = [orjson.loads(line) for line in
                coalition.ok("playbook", "runs", "--as", "cn", "--json").splitlines()]  # fmt: skip
        assert [r["status"] for r in runs] == ["dead", "dead"]
        assert coalition.ok("playbook", "runs", "--as", "ru", "--json") == ""
        shown = orjson.loads(coalition.ok("playbook", "show-run", "1", "--as", "cn"))
        assert "answered 503" in shown["actions"][0]["last_error"]
        assert coalition("playbook", "show-run", "1", "--as", "ru")[0] == 1
        hook.always_fail = False
        assert "1 actions will be tried again" in coalition.ok(
            "playbook", "retry", "1", "--as", "cn"
        )
        out = coalition.ok("playbook", "run-once", "--dir", str(folder), "--settle", "0")
        assert "0 new runs, 1 attempts: 1 ok" in out
        code, _out, err = coalition("playbook", "retry", "1", "--as", "cn")
        assert code == 1 and "no failed or dead action" in err
    assert len(hook.received) == 3


def test_run_once_without_a_folder_says_how_to_set_one(steppe: Steppe) -> None:
    code, _out, err = steppe("playbook", "run-once")
    assert code == 1 and "STEPPE_PLAYBOOK_DIR" in err
