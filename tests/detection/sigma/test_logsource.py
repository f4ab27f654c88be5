"""Logsource → events and field names, for each telemetry type."""

from __future__ import annotations

from steppe.ingest.telemetry.formats import parse_bytes
from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem

from .helpers import engine, rule, sysmon


def parsed(data: bytes, fmt: str) -> NormalisedEvent:
    [event] = [e for e in parse_bytes(data, fmt, "test") if not isinstance(e, ParseProblem)]
    return event


PROXY = rule(
    {
        "sel": {"c-uri|contains": "/wp-admin/x.php", "c-useragent|contains": "curl"},
        "condition": "sel",
    },
    logsource={"category": "proxy"},
)
ZEEK_HTTP = (
    b'{"ts": 1.5, "uid": "C1", "_path": "http", "id.orig_h": "10.0.0.5", '
    b'"id.orig_p": 5555, "id.resp_h": "192.0.2.1", "id.resp_p": 80, '
    b'"method": "GET", "host": "site.example", "uri": "/wp-admin/x.php?a=1", '
    b'"user_agent": "curl/8.0", "status_code": 200}'
)
EVE_HTTP = (
    b'{"timestamp": "2026-01-01T00:00:00Z", "event_type": "http", "src_ip": "10.0.0.5",'
    b' "src_port": 5555, "dest_ip": "192.0.2.1", "dest_port": 80, "proto": "TCP",'
    b' "http": {"hostname": "site.example", "url": "/wp-admin/x.php",'
    b' "http_user_agent": "Curl/8", "http_method": "GET", "status": 200}}'
)


def test_proxy_rules_run_on_zeek_http_and_suricata_http() -> None:
    eng = engine(PROXY)
    assert eng.matching_rules(parsed(ZEEK_HTTP, "zeek"))
    assert eng.matching_rules(parsed(EVE_HTTP, "eve"))
    assert not eng.matching_rules(parsed(ZEEK_HTTP.replace(b"curl", b"firefox"), "zeek"))


def test_zeek_rules_see_zeek_field_names_and_only_their_log() -> None:
    dns = rule(
        {
            "sel": {"query|endswith": ".evil.example", "id.orig_h|cidr": "10.0.0.0/8"},
            "condition": "sel",
        },
        logsource={"product": "zeek", "service": "dns"},
    )
    eng = engine(dns)
    log = (
        b'{"ts": 1.5, "uid": "C1", "_path": "dns", "id.orig_h": "10.1.2.3", '
        b'"query": "x.EVIL.example"}'
    )
    assert eng.matching_rules(parsed(log, "zeek"))
    assert not eng.matching_rules(parsed(log.replace(b'"dns"', b'"http"'), "zeek"))


def test_dns_category_reads_suricata_dns() -> None:
    eng = engine(
        rule(
            {"sel": {"query|endswith": ".evil.example"}, "condition": "sel"},
            logsource={"category": "dns"},
        )
    )
    eve = (
        b'{"timestamp": "2026-01-01T00:00:00Z", "event_type": "dns", "src_ip": "10.0.0.5",'
        b' "dest_ip": "10.0.0.53", "dns": {"type": "query", "rrname": "a.evil.example"}}'
    )
    assert eng.matching_rules(parsed(eve, "eve"))


def test_security_4688_is_process_creation_with_sysmon_names() -> None:
    eng = engine(
        rule(
            {
                "sel": {"Image|endswith": "\\whoami.exe", "ParentImage|endswith": "\\cmd.exe"},
                "condition": "sel",
            }
        )
    )
    security = {
        "event.module": "windows",
        "raw": {
            "EventID": 4688,
            "Channel": "Security",
            "NewProcessName": "C:\\w\\whoami.exe",
            "ParentProcessName": "C:\\w\\cmd.exe",
        },
    }
    assert eng.matching_rules(security)
    # the rule does not run on other Security events, nor on Sysmon's other ids
    assert not eng.matching_rules({**security, "raw": {**security["raw"], "EventID": 4689}})
    assert not eng.matching_rules(
        sysmon(event_id=3, Image="c:\\whoami.exe", ParentImage="c:\\cmd.exe")
    )


def test_services_select_channels_and_event_ids_fold() -> None:
    eng = engine(
        rule(
            {"sel": {"EventID": 4624, "LogonType": 10}, "condition": "sel"},
            logsource={"product": "windows", "service": "security"},
        )
    )
    logon = {
        "event.module": "windows",
        "raw": {"EventID": 4624, "Channel": "Security", "LogonType": 10},
    }
    assert eng.matching_rules(logon)
    assert not eng.matching_rules({**logon, "raw": {**logon["raw"], "Channel": "System"}})
    assert eng.plan(("windows", "Security", 4625)).stats()["folded"] == 1


def test_defender_field_names_lose_their_spaces() -> None:
    eng = engine(
        rule(
            {"sel": {"ThreatName|contains": "EICAR"}, "condition": "sel"},
            logsource={"product": "windows", "service": "windefend"},
        )
    )
    event = {
        "event.module": "windows",
        "raw": {
            "EventID": 1116,
            "Channel": "Microsoft-Windows-Windows Defender/Operational",
            "Threat Name": "Virus:DOS/EICAR_Test_File",
        },
    }
    assert eng.matching_rules(event)


def test_generic_json_runs_rules_naming_its_dataset() -> None:
    eng = engine(
        rule(
            {"sel": {"url.full|contains": "/etc/passwd"}, "condition": "sel"},
            logsource={"product": "nginx"},
        )
    )
    event: NormalisedEvent = {
        "event.module": "generic",
        "event.dataset": "nginx.access",
        "url.full": "http://h/x?f=../../etc/passwd",
        "raw": {},
    }
    assert eng.matching_rules(event)
    assert not eng.matching_rules({**event, "event.dataset": "apache.access"})


def test_ecs_endpoint_events_run_endpoint_rules_with_ecs_names() -> None:
    eng = engine(
        rule(
            {
                "sel": {"Image|endswith": "\\whoami.exe", "CommandLine|contains": "/all"},
                "condition": "sel",
            }
        )
    )
    event: NormalisedEvent = {
        "event.module": "generic",
        "event.dataset": "edr.process",
        "event.category": "process",
        "event.action": "process-started",
        "process.executable": "C:\\Windows\\System32\\whoami.exe",
        "process.command_line": "whoami /all",
        "raw": {},
    }
    assert eng.matching_rules(event)
    assert not eng.matching_rules({**event, "event.category": "file"})
    assert not eng.matching_rules({**event, "process.command_line": "whoami"})
