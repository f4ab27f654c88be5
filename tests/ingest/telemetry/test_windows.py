"""Windows events (evtx-crate JSON and .evtx files) to ECS, and the flat raw Sigma needs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem
from steppe.ingest.telemetry.windows import (
    flatten_event,
    normalise_windows,
    parse_evtx,
    parse_winjson,
)

REGRESSION = Path(__file__).parents[2] / "data" / "sigma" / "regression_data"
JSON_FILES = sorted(REGRESSION.rglob("*.json")) + sorted(REGRESSION.rglob("*.jsoncls"))
EVTX_FILES = sorted(REGRESSION.rglob("*.evtx"))
AMSI = (
    REGRESSION / "rules/windows/process_creation/proc_creation_win_amsi_registry_tampering"
    / "7dbbcac2-57a0-45ac-b306-ff30a8bd2981"
)  # fmt: skip


def events_of(items: Any) -> list[NormalisedEvent]:
    items = list(items)
    problems = [str(i) for i in items if isinstance(i, ParseProblem)]
    assert problems == []
    return items


def sysmon(event_id: int, **data: Any) -> dict[str, Any]:
    return {
        "Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "x"}},
                "EventID": event_id,
                "TimeCreated": {"#attributes": {"SystemTime": "2026-01-02T03:04:05.123456Z"}},
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": "pc1.corp.example",
                "Execution": {"#attributes": {"ProcessID": 3544, "ThreadID": 4272}},
            },
            "EventData": data,
        }
    }


def test_the_regression_data_is_here() -> None:
    assert len(JSON_FILES) > 150 and len(EVTX_FILES) > 150


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: p.name)
def test_every_regression_json_event_parses(path: Path) -> None:
    with path.open("rb") as f:
        events = events_of(parse_winjson(f, path.name))
    assert events
    for event in events:
        assert event["@timestamp"].endswith("Z")
        assert event["event.dataset"].startswith("windows.")
        assert event["event.module"] == "windows"
        assert isinstance(event["winlog.event_id"], int)


@pytest.mark.parametrize("path", EVTX_FILES, ids=lambda p: p.name)
def test_every_regression_evtx_file_parses_like_its_json_twin(path: Path) -> None:
    events = events_of(parse_evtx(path, path.name))
    assert events
    twin = path.with_suffix(".json")
    if twin.exists():
        with twin.open("rb") as f:
            expected = events_of(parse_winjson(f, twin.name))
        # Same fields under the same names; the values may differ a little (the JSON
        # twins were written with trailing blanks trimmed, one by hand).
        assert [sorted(e["raw"]) for e in events] == [sorted(e["raw"]) for e in expected]
        for got, want in zip(events, expected, strict=True):
            for field in ("winlog.event_id", "winlog.channel", "host.name", "event.dataset"):
                assert got.get(field) == want.get(field)


def test_sysmon_process_creation_maps_image_command_line_and_parent() -> None:
    with AMSI.with_suffix(".json").open("rb") as f:
        [event] = events_of(parse_winjson(f, "amsi.json"))
    assert event["winlog.event_id"] == 1
    assert event["event.code"] == "1"
    assert event["event.dataset"] == "windows.sysmon_operational"
    assert event["process.executable"] == "C:\\Windows\\System32\\reg.exe"
    assert event["process.command_line"].startswith('"C:\\WINDOWS\\system32\\reg.exe" add')
    assert event["process.parent.executable"].endswith("\\powershell.exe")
    assert event["process.pid"] == 14144
    assert (event["user.domain"], event["user.name"]) == ("swachchhanda", "xodih")
    assert event["file.hash.sha256"] == (
        "e295e776fd4f7f73dfaaa5698a19ea7a2f4a2f0c5e1681fac94e45d00296c926"
    )
    assert event["@timestamp"] == "2025-12-25T14:30:27.369114Z"
    # Sigma rules match on the EventData names and the flattened System names.
    raw = event["raw"]
    assert raw["Image"] == event["process.executable"]
    assert raw["CommandLine"] == event["process.command_line"]
    assert raw["ParentImage"] == event["process.parent.executable"]
    assert raw["EventID"] == 1
    assert raw["Channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert raw["Provider_Name"] == "Microsoft-Windows-Sysmon"


def test_sysmon_network_connection_maps_addresses_and_ports() -> None:
    event = normalise_windows(
        sysmon(
            3,
            Image="C:\\x.exe",
            Protocol="TCP",
            SourceIp="10.0.0.5",
            SourcePort="49152",
            DestinationIp="2001:DB8::0:1",
            DestinationPort=443,
            DestinationHostname="Evil.Example.",
        )
    )
    assert event["source.ip"] == "10.0.0.5"
    assert event["source.port"] == 49152
    assert event["destination.ip"] == "2001:db8::1"
    assert event["destination.port"] == 443
    assert event["destination.domain"] == "evil.example"
    assert event["network.transport"] == "tcp"
    assert event["event.category"] == "network"


def test_sysmon_dns_query_maps_the_question() -> None:
    event = normalise_windows(sysmon(22, QueryName="WPAD.corp.example", Image="C:\\b.exe"))
    assert event["dns.question.name"] == "wpad.corp.example"


def test_file_and_registry_events() -> None:
    created = normalise_windows(
        sysmon(11, TargetFilename="C:\\Temp\\evil.dll", Hashes="MD5=AA,SHA1=BB,SHA256=CC")
    )
    assert created["file.path"] == "C:\\Temp\\evil.dll"
    assert created["file.name"] == "evil.dll"
    assert (created["file.hash.md5"], created["file.hash.sha1"]) == ("aa", "bb")
    assert created["file.hash.sha256"] == "cc"
    reg = normalise_windows(sysmon(13, TargetObject="HKLM\\SOFTWARE\\Run\\x", Details="y"))
    assert reg["registry.path"] == "HKLM\\SOFTWARE\\Run\\x"


def test_security_events_take_hex_pids_and_subject_users() -> None:
    record = {
        "Event": {
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
                "EventID": {"#text": 4688, "#attributes": {"Qualifiers": ""}},
                "TimeCreated": {"#attributes": {"SystemTime": "2026-01-02T03:04:05Z"}},
                "Channel": "Security",
                "Computer": "dc1",
            },
            "EventData": {
                "SubjectUserName": "ann",
                "SubjectDomainName": "CORP",
                "NewProcessId": "0x1f4",
                "NewProcessName": "C:\\Windows\\cmd.exe",
                "CommandLine": "cmd /c whoami",
                "ParentProcessName": "C:\\Windows\\explorer.exe",
            },
        }
    }
    event = normalise_windows(record)
    assert event["winlog.event_id"] == 4688
    assert event["event.dataset"] == "windows.security"
    assert event["process.pid"] == 500
    assert event["process.executable"] == "C:\\Windows\\cmd.exe"
    assert event["process.parent.executable"] == "C:\\Windows\\explorer.exe"
    assert (event["user.name"], event["user.domain"]) == ("ann", "CORP")
    assert event["raw"]["EventID"] == 4688
    assert event["raw"]["EventID_Qualifiers"] == ""


def test_flat_raw_keeps_event_fields_before_system_ones() -> None:
    record = sysmon(1, Image="a.exe", Channel="not the channel")
    raw = flatten_event(record)
    assert raw["Channel"] == "not the channel"
    assert raw["System_Channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert raw["Execution_ProcessID"] == 3544
    assert "xmlns" not in raw and "Event_xmlns" not in raw


def test_user_data_children_are_top_level() -> None:
    record = sysmon(5858)
    del record["Event"]["EventData"]
    record["Event"]["UserData"] = {
        "Operation_ClientFailure": {"#attributes": {"xmlns": "x"}, "Operation": "op", "User": "u"}
    }
    raw = flatten_event(record)
    assert raw["Operation"] == "op"
    assert raw["User"] == "u"


def test_json_lines_and_arrays_of_windows_events() -> None:
    one = orjson.dumps(sysmon(1, Image="a.exe"))
    lines = list(parse_winjson(io.BytesIO(one + b"\n" + one + b"\n"), "x"))
    assert [e["process.executable"] for e in lines] == ["a.exe", "a.exe"]  # type: ignore[index]
    array = list(parse_winjson(io.BytesIO(b"[" + one + b"," + one + b"]"), "x"))
    assert len(array) == 2


def test_a_bad_value_is_a_problem_naming_the_field_and_the_rest_parses() -> None:
    good = orjson.dumps(sysmon(3, SourcePort=80))
    bad = orjson.dumps(sysmon(3, SourcePort="eighty"))
    items = list(parse_winjson(io.BytesIO(good + b"\n" + bad + b"\n" + good + b"\n"), "w.json"))
    assert [type(i).__name__ for i in items] == ["dict", "ParseProblem", "dict"]
    problem = items[1]
    assert isinstance(problem, ParseProblem)
    assert (problem.line, problem.field) == (2, "SourcePort")


def test_a_bad_time_is_a_problem() -> None:
    record = sysmon(1)
    record["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"] = "yesterday"
    [problem] = parse_winjson(io.BytesIO(orjson.dumps(record)), "w.json")
    assert isinstance(problem, ParseProblem)
    assert problem.field == "TimeCreated"


def test_a_truncated_evtx_file_is_reported_not_silently_empty(tmp_path: Path) -> None:
    data = EVTX_FILES[0].read_bytes()
    for cut in (len(data) // 2, 4096 + 600, 4096, 100, 0):
        path = tmp_path / "cut.evtx"
        path.write_bytes(data[:cut])
        items = list(parse_evtx(path, "cut.evtx"))
        assert items, cut
        assert all(isinstance(i, ParseProblem) for i in items), cut
    junk = tmp_path / "junk.evtx"
    junk.write_bytes(b"ElfFile\x00" + bytes(range(256)) * 40)
    items = list(parse_evtx(junk, "junk.evtx"))
    assert items and all(isinstance(i, ParseProblem) for i in items)


def test_a_damaged_evtx_record_is_a_problem_with_its_number(tmp_path: Path) -> None:
    data = bytearray(EVTX_FILES[0].read_bytes())
    data[4096 + 512 + 40 : 4096 + 512 + 200] = b"\xff" * 160
    path = tmp_path / "damaged.evtx"
    path.write_bytes(bytes(data))
    [problem] = parse_evtx(path, "damaged.evtx")
    assert isinstance(problem, ParseProblem)
    assert problem.line == 1
    assert "unreadable EVTX record" in problem.message


def test_evtx_from_a_file_object() -> None:
    with EVTX_FILES[0].open("rb") as f:
        data = f.read()
    events = events_of(parse_evtx(io.BytesIO(data), "body"))
    assert len(events) == len(events_of(parse_evtx(EVTX_FILES[0], "file")))


def test_a_url_in_event_data_is_mapped() -> None:
    record = sysmon(59, url="https://Dl.Example.com:8443/payload.bin", name="job")
    record["Event"]["System"]["Provider"]["#attributes"]["Name"] = "Microsoft-Windows-Bits-Client"
    event = normalise_windows(record)
    assert event["url.full"] == "https://Dl.Example.com:8443/payload.bin"
    assert event["url.domain"] == "dl.example.com"
    broken = normalise_windows(sysmon(59, url="http://[::1/x"))
    assert broken["url.full"] == "http://[::1/x" and "url.domain" not in broken
