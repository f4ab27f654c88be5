"""`steppe alert` triage and `steppe incident` through the real entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cli_runner import Steppe
from helpers import bundle, indicator
from steppe.lake import EventLake


def _alert(coalition: Steppe, tmp_path: Path) -> str:
    """A PKCERT alert on CNCERT's QCCM indicator, as its 12-character listed prefix."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    feed = tmp_path / "fresh.json"
    feed.write_bytes(bundle(indicator("c2.qccm.example", created=now, modified=now,
                                      valid_from=now, confidence=90)))  # fmt: skip
    coalition.ok("intel", "import", str(feed), "--as", "CNCERT", "--distribution", "groups",
                 "--group", "QCCM", "--tlp", "amber")  # fmt: skip
    lake = EventLake(coalition.data_dir / "lake")
    lake.start(background=False)
    for n in range(3):  # one host, one hour: one alert of three events
        stamp = datetime.now(UTC).strftime(f"%Y-%m-%dT%H:%M:%S.00000{n}Z")
        lake.accept(3, [{"@timestamp": stamp, "source.ip": "10.0.0.9",
                         "dns.question.name": f"w{n}.c2.qccm.example", "raw": {}}])  # fmt: skip
    lake.close()
    coalition.ok("detect", "--since", "24h")
    listed = [
        json.loads(x) for x in coalition.ok("alert", "list", "--as", "pk", "--json").splitlines()
    ]
    assert [(a["count"], a["host"]) for a in listed] == [(3, "10.0.0.9")]
    return str(listed[0]["id"])[:12]


def test_triage_an_alert(coalition: Steppe, tmp_path: Path) -> None:
    alert = _alert(coalition, tmp_path)
    assert "1 of 1 alerts changed" in coalition.ok("alert", "ack", alert, "--as", "pk")
    code, out, _ = coalition("alert", "escalate", alert, "--as", "ru")
    assert code == 1 and "no alert" in out  # RU-CERT may not see it: nothing changed
    coalition.ok("alert", "assign", alert, "--to", "pk", "--as", "pk")
    coalition.ok("alert", "comment", alert, "benign scanner", "--as", "pk")
    assert "benign scanner" in coalition.ok("alert", "comments", alert, "--as", "boss")
    coalition.ok("alert", "false-positive", alert, "--as", "pk")
    code, out, _ = coalition("alert", "close", alert, "--as", "pk")
    assert code == 1 and "false-positive: it may become acknowledged" in out
    coalition.ok("alert", "reopen", alert, "--as", "pk")
    coalition.ok("alert", "triage", alert, "--status", "closed", "--to", "boss", "--as", "boss")
    history = coalition.ok("alert", "history", alert, "--as", "pk")
    assert history.count("status") == 4 and "assignee" in history
    shown = json.loads(coalition.ok("alert", "show", alert, "--as", "pk"))
    assert (shown["status"], shown["assignee"]) == ("closed", "boss")
    code, _, err = coalition("alert", "assign", alert, "--as", "pk")
    assert code == 1 and "--to USER or --nobody" in err


def test_run_an_incident(coalition: Steppe, tmp_path: Path) -> None:
    alert = _alert(coalition, tmp_path)
    opened = coalition.ok("incident", "open", "C2 beaconing", "--as", "pk", "--severity", "high",
                          "--participant", "CNCERT", "--alert", alert, "--template",
                          "compromised-host", "--coordinated")  # fmt: skip
    incident = opened.split()[-1]
    short = incident.removeprefix("incident--")[:8]
    assert "C2 beaconing" in coalition.ok("incident", "list", "--as", "cn")
    assert "C2 beaconing" not in coalition.ok("incident", "list", "--as", "ru")
    coalition.ok("incident", "status", short, "investigating", "--as", "pk")
    coalition.ok("incident", "participant", "add", short, "KZ-CERT", "--as", "boss")
    coalition.ok("incident", "task", "add", short, "Call the ISP", "--assignee", "kz", "--as", "pk")
    coalition.ok("incident", "task", "done", short, "6", "--as", "kz")
    coalition.ok("incident", "comment", short, "ISP called", "--as", "kz")
    coalition.ok("incident", "evidence", "add", short, "--note", "Router logs", "--tlp", "red",
                 "--as", "pk")  # fmt: skip
    shown = json.loads(coalition.ok("incident", "show", short, "--as", "pk", "--json"))
    assert shown["participants"] == ["CNCERT", "KZ-CERT"] and len(shown["tasks"]) == 6
    assert [e["kind"] for e in shown["evidence"]] == ["alert", "note"]
    kz = json.loads(coalition.ok("incident", "show", short, "--as", "kz", "--json"))
    assert kz["evidence"] == []  # neither PKCERT's alert nor its RED note
    assert "ISP called" in coalition.ok("incident", "comments", short, "--as", "cn")
    entries = [json.loads(x) for x in coalition.ok("incident", "timeline", short, "--as", "kz",
                                                    "--json").splitlines()]  # fmt: skip
    assert {"opened", "status", "participant", "task", "comment"} <= {e["kind"] for e in entries}
    assert "evidence" not in {e["kind"] for e in entries}
    code, _, err = coalition("incident", "show", short, "--as", "ru")
    assert code == 1 and "no incident" in err
    code, _, err = coalition("incident", "status", short, "open", "--as", "pk")
    assert code == 1 and "investigating: it may become" in err
    code, _, err = coalition("incident", "open", "x", "--as", "pk", "--tlp", "purple")
    assert code == 1 and "--tlp: unknown TLP 'purple'" in err
    assert "ransomware" in coalition.ok("incident", "templates")
