"""Suricata EVE records to ECS: the samples, each event type, bad records."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from steppe.ingest.telemetry.model import ParseProblem
from steppe.ingest.telemetry.suricata import normalise_eve, parse_eve

DATA = Path(__file__).parents[2] / "data" / "telemetry" / "suricata-eve"
SAMPLES = sorted(DATA.glob("*/alerts-only.json"))
BASE = {
    "timestamp": "2026-01-02T03:04:05.123456+0100",
    "flow_id": 1,
    "src_ip": "10.0.0.5",
    "src_port": 51515,
    "dest_ip": "192.0.2.1",
    "dest_port": 80,
    "proto": "TCP",
}


def eve(event_type: str, **body: Any) -> dict[str, Any]:
    return {**BASE, "event_type": event_type, **body}


def test_the_samples_are_here() -> None:
    assert len(SAMPLES) == 4


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.parent.name)
def test_every_sample_alert_parses(path: Path) -> None:
    with path.open("rb") as f:
        items = list(parse_eve(f, path.name))
    assert [str(i) for i in items if isinstance(i, ParseProblem)] == []
    assert len(items) == len(orjson.loads(path.read_bytes()))
    for event in items:
        assert isinstance(event, dict)
        assert event["event.dataset"] == "suricata.eve.alert"
        assert event["@timestamp"].endswith("Z")
        assert event["rule.id"].isdigit()
        assert isinstance(event["event.severity"], int)


def test_a_known_sample_alert() -> None:
    with (DATA / "wrccdc-2018" / "alerts-only.json").open("rb") as f:
        first = next(iter(parse_eve(f, "alerts-only.json")))
    assert isinstance(first, dict)
    assert first["rule.id"] == "2001219"
    assert first["rule.name"] == "ET SCAN Potential SSH Scan"
    assert first["event.severity"] == 2
    assert first["event.kind"] == "alert"
    assert first["@timestamp"] == "2018-03-24T20:37:19.037299Z"  # -0600 to UTC
    assert (first["destination.ip"], first["destination.port"]) == ("10.47.8.150", 22)
    assert first["network.transport"] == "tcp"
    assert first["raw"]["alert"]["signature_id"] == 2001219


def test_dns_v1_and_v2_query_names() -> None:
    v1 = normalise_eve(eve("dns", dns={"type": "query", "rrname": "Evil.Example.", "rrtype": "A"}))
    assert (v1["dns.question.name"], v1["dns.question.type"]) == ("evil.example", "A")
    v2 = normalise_eve(
        eve("dns", dns={"version": 2, "type": "answer", "rrname": "a.example", "rrtype": "AAAA"})
    )
    assert v2["dns.question.name"] == "a.example"
    v3 = normalise_eve(
        eve("dns", dns={"version": 3, "queries": [{"rrname": "q.example", "rrtype": "TXT"}]})
    )
    assert (v3["dns.question.name"], v3["dns.question.type"]) == ("q.example", "TXT")
    assert v3["event.dataset"] == "suricata.eve.dns"


def test_http_tls_fileinfo_and_flow() -> None:
    http = normalise_eve(
        eve(
            "http",
            http={
                "hostname": "WWW.Example.com",
                "url": "/login?x=1",
                "http_method": "POST",
                "http_user_agent": "curl/8",
                "status": 302,
            },
        )
    )
    assert http["url.full"] == "http://www.example.com/login?x=1"
    assert http["url.domain"] == "www.example.com"
    assert http["http.request.method"] == "POST"
    assert http["http.response.status_code"] == 302
    assert http["user_agent.original"] == "curl/8"
    tls = normalise_eve(eve("tls", tls={"sni": "Secure.Example", "version": "TLS 1.3"}))
    assert tls["tls.server.sni"] == "secure.example"
    info = normalise_eve(
        eve("fileinfo", fileinfo={"filename": "/dl/a.exe", "md5": "AB", "sha256": "CD"})
    )
    assert (info["file.name"], info["file.path"]) == ("a.exe", "/dl/a.exe")
    assert (info["file.hash.md5"], info["file.hash.sha256"]) == ("ab", "cd")
    flow = normalise_eve(eve("flow", flow={"state": "closed"}))
    assert flow["event.action"] == "closed"
    assert flow["event.dataset"] == "suricata.eve.flow"


def test_an_alert_with_http_metadata_gets_its_url() -> None:
    alert = normalise_eve(
        eve(
            "alert",
            alert={"signature_id": 1, "signature": "x", "severity": 1},
            http={"hostname": "bad.example", "url": "/x"},
        )
    )
    assert alert["url.full"] == "http://bad.example/x"


def test_ipv6_is_canonical() -> None:
    event = normalise_eve({**eve("flow"), "src_ip": "2001:0DB8:0000::0001"})
    assert event["source.ip"] == "2001:db8::1"


def test_bad_records_are_problems_and_the_rest_parses() -> None:
    lines = [
        orjson.dumps(eve("alert", alert={"signature_id": 5, "severity": 1})),
        b'{"timestamp": "2026-01-02T03:04:05Z", "event_type": "dns", "src_port": "x"',
        orjson.dumps({**eve("flow"), "dest_port": "eighty"}),
        orjson.dumps({**eve("flow"), "timestamp": 12}),
        orjson.dumps(eve("alert", alert="not an object")),
        b"[1, 2]",
        orjson.dumps(eve("dns", dns={"rrname": "ok.example"})),
    ]
    items = list(parse_eve(io.BytesIO(b"\n".join(lines)), "eve.json"))
    problems = [i for i in items if isinstance(i, ParseProblem)]
    assert [(p.line, p.field) for p in problems] == [
        (2, None),
        (3, "dest_port"),
        (4, "timestamp"),
        (5, "alert"),
        (6, None),
    ]
    events = [i for i in items if not isinstance(i, ParseProblem)]
    assert [e["event.dataset"] for e in events] == ["suricata.eve.alert", "suricata.eve.dns"]


def test_unknown_event_types_keep_their_name() -> None:
    event = normalise_eve(eve("anomaly", anomaly={"type": "decode"}))
    assert event["event.dataset"] == "suricata.eve.anomaly"
    missing = normalise_eve(BASE)
    assert missing["event.dataset"] == "suricata.eve.unknown"
