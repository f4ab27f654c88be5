"""`steppe export` and `steppe blocklist` through the real entry point."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from cli_runner import Steppe
from helpers import bundle, indicator


def _intel(coalition: Steppe, tmp_path: Path, *values: str, group: bool = True) -> list[str]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    objects = [
        indicator(v, created=now, modified=now, valid_from=now, confidence=90) for v in values
    ]
    feed = tmp_path / f"intel-{values[0]}.json"
    feed.write_bytes(bundle(*objects))
    scope = ["--distribution", "groups", "--group", "QCCM"] if group else []
    coalition.ok("intel", "import", str(feed), "--as", "CNCERT", *scope, "--tlp", "amber")
    return [str(o["id"]) for o in objects]


def test_export_to_a_file_prints_a_cursor_for_the_next_run(
    coalition: Steppe, tmp_path: Path
) -> None:
    _intel(coalition, tmp_path, "c2.qccm.example")
    out = tmp_path / "pk.zone"
    code, _, err = coalition("export", "rpz", "--as", "pk", "--out", str(out))
    assert code == 0, err
    assert "c2.qccm.example CNAME ." in out.read_text()
    cursor = re.search(r"--since (c1\.\S+)", err.replace("\n", ""))
    assert cursor is not None
    assert "c2.qccm.example" not in coalition.ok("export", "csv", "--as", "ru")

    _intel(coalition, tmp_path, "new.qccm.example")
    changes = coalition.ok("export", "csv", "--as", "pk", "--since", cursor.group(1))
    assert changes.splitlines()[1:] == [
        line for line in changes.splitlines()[1:] if line.startswith("add,domain,new.qccm")
    ]


def test_blocklist_commands_and_a_blocklist_export(coalition: Steppe, tmp_path: Path) -> None:
    first, second = _intel(coalition, tmp_path, "one.qccm.example", "two.qccm.example")
    assert "1 added to edge" in coalition.ok("blocklist", "add", "edge", first, "--as", "pk",
                                             "--reason", "C2")  # fmt: skip
    assert "edge" in coalition.ok("blocklist", "list", "--as", "pk")
    assert first in coalition.ok("blocklist", "show", "edge", "--as", "pk")
    exported = coalition.ok("export", "zeek", "--as", "pk", "--blocklist", "edge")
    assert "one.qccm.example" in exported and "two.qccm.example" not in exported
    code, _, err = coalition("blocklist", "add", "edge", second, "--as", "ru")
    assert code != 0 and "no indicator" in err  # RU-CERT may not see it
    assert "1 removed" in coalition.ok("blocklist", "remove", "edge", first, "--as", "pk")


def test_bad_format_and_tlp_are_named(coalition: Steppe) -> None:
    code, _, err = coalition("export", "pdf", "--as", "pk")
    assert code != 0 and "no export format 'pdf'" in err
    code, _, err = coalition("export", "csv", "--as", "pk", "--max-tlp", "purple")
    assert code != 0 and "--max-tlp" in err
