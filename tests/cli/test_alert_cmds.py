"""`steppe detect` and `steppe alert` through the real entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cli_runner import Steppe
from helpers import bundle, indicator
from steppe.lake import EventLake


def _fresh_group_intel(coalition: Steppe, tmp_path: Path) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    feed = tmp_path / "fresh.json"
    feed.write_bytes(
        bundle(
            indicator("c2.qccm.example", created=now, modified=now, valid_from=now, confidence=90)
        )
    )
    coalition.ok("intel", "import", str(feed), "--as", "CNCERT", "--distribution", "groups",
                 "--group", "QCCM", "--tlp", "amber")  # fmt: skip


def _telemetry(coalition: Steppe) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    lake = EventLake(coalition.data_dir / "lake")
    lake.start(background=False)
    for org_id in (3, 4):  # PKCERT (in QCCM), RU-CERT (outside)
        lake.accept(org_id, [{"@timestamp": stamp, "source.ip": "10.0.0.9",
                              "dns.question.name": "www.c2.qccm.example", "raw": {}}])  # fmt: skip
    lake.close()


def test_detect_alerts_only_the_members_that_may_see_the_intel(
    coalition: Steppe, tmp_path: Path
) -> None:
    _fresh_group_intel(coalition, tmp_path)
    _telemetry(coalition)
    out = coalition.ok("detect", "--since", "24h")
    assert "1 new alerts" in out
    assert "0 new alerts, 0 events added to existing alerts, 1 already known" in coalition.ok(
        "detect", "--since", "1d"
    )
    pk = [
        json.loads(line)
        for line in coalition.ok("alert", "list", "--as", "pk", "--json").splitlines()
    ]
    assert [(a["organisation"], a["observed"], a["matched"]) for a in pk] == [
        ("PKCERT", "www.c2.qccm.example", "c2.qccm.example")
    ]
    assert coalition.ok("alert", "list", "--as", "ru", "--json") == ""
    boss = coalition.ok("alert", "list", "--as", "boss", "--json").splitlines()
    assert len(boss) == 1 and json.loads(boss[0])["indicator"] is None  # not in QCCM
    shown = json.loads(coalition.ok("alert", "show", pk[0]["id"][:12], "--as", "pk"))
    assert shown["event"]["dns.question.name"] == "www.c2.qccm.example"
    code, _, err = coalition("alert", "show", pk[0]["id"], "--as", "ru")
    assert code != 0 and "no alert" in err and "Traceback" not in err


def test_retro_hunt_and_bad_since(coalition: Steppe, tmp_path: Path) -> None:
    _telemetry(coalition)
    _fresh_group_intel(coalition, tmp_path)
    assert "1 new alerts" in coalition.ok("detect", "--retro", "--since", "1h")
    code, _, err = coalition("detect", "--since", "yesterday")
    assert code != 0 and "--since" in err and "Traceback" not in err
