"""Zeek TSV and JSON logs to ECS: samples, typed raw, malformed lines."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import pytest

from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem
from steppe.ingest.telemetry.records import open_input
from steppe.ingest.telemetry.zeek import parse_zeek_json, parse_zeek_tsv, path_from_name

DATA = Path(__file__).parents[2] / "data" / "telemetry"
TSV_FILES = sorted((DATA / "zeek-tsv").glob("*.log.gz"))
JSON_FILES = sorted((DATA / "zeek-json").glob("*.json.gz"))

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
    "#path\tconn\n#open\t2026-01-01-00-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice"
    "\tduration\tconn_state\tlocal_orig\ttunnel_parents\thistory\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tstring\tbool"
    "\tset[string]\tstring\n"
)
CONN = "1700000000.123456\tC1\t10.0.0.5\t51515\t2001:db8:0:0::1\t443\ttcp\tssl\t1.5\tSF\tT\t(empty)\tShADad\n"


def parse(items: Any) -> tuple[list[NormalisedEvent], list[ParseProblem]]:
    items = list(items)
    return (
        [i for i in items if not isinstance(i, ParseProblem)],
        [i for i in items if isinstance(i, ParseProblem)],
    )


def tsv(text: str, name: str = "conn.log") -> tuple[list[NormalisedEvent], list[ParseProblem]]:
    return parse(parse_zeek_tsv(io.BytesIO(text.encode()), name))


def test_the_samples_are_here() -> None:
    assert len(TSV_FILES) >= 10 and len(JSON_FILES) >= 20


@pytest.mark.parametrize("path", TSV_FILES, ids=lambda p: p.name)
def test_every_tsv_sample_parses(path: Path) -> None:
    with open_input(path) as f:
        events, problems = parse(parse_zeek_tsv(f, path.name))
    assert problems == []
    assert events
    log = path_from_name(path.name)
    for event in events:
        assert event["event.dataset"] == f"zeek.{log}"
        assert event["@timestamp"].endswith("Z")


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: p.name)
def test_every_json_sample_parses(path: Path) -> None:
    with open_input(path) as f:
        events, problems = parse(parse_zeek_json(f, path.name))
    assert problems == []
    assert events
    for event in events:
        assert event["event.dataset"] == f"zeek.{path_from_name(path.name)}"
        assert event["@timestamp"].endswith("Z")


def test_dns_sample_maps_query_and_ports() -> None:
    with open_input(DATA / "zeek-tsv" / "dns.log.gz") as f:
        first = next(iter(parse_zeek_tsv(f, "dns.log.gz")))
    assert isinstance(first, dict)
    assert first["@timestamp"] == "2018-03-24T17:15:20.865716Z"
    assert first["dns.question.name"] == "ise.wrccdc.org"
    assert first["dns.question.type"] == "A"
    assert (first["source.ip"], first["source.port"]) == ("10.47.1.100", 41772)
    assert (first["destination.ip"], first["destination.port"]) == ("10.0.0.100", 53)
    assert first["network.transport"] == "udp"
    assert first["raw"]["answers"] == ["ise.wrccdc.cpp.edu", "134.71.3.16"]
    assert first["raw"]["TTLs"] == [2230.0, 41830.0]
    assert first["raw"]["RD"] is True


def test_tsv_and_json_of_the_same_log_give_the_same_ecs_fields() -> None:
    with open_input(DATA / "zeek-tsv" / "ssl.log.gz") as f:
        from_tsv = next(iter(parse_zeek_tsv(f, "ssl.log.gz")))
    with open_input(DATA / "zeek-json" / "ssl.json.gz") as f:
        from_json = next(iter(parse_zeek_json(f, "ssl.json.gz")))
    assert isinstance(from_tsv, dict) and isinstance(from_json, dict)
    for field in ("@timestamp", "source.ip", "source.port", "destination.port", "event.dataset"):
        assert from_tsv[field] == from_json[field]
    assert from_tsv["raw"]["cert_chain_fps"] == from_json["raw"]["cert_chain_fps"]


def test_ssl_sni_and_notice_fields() -> None:
    header = (
        "#separator \\x09\n#path\tssl\n#fields\tts\tid.orig_h\tserver_name\n"
        "#types\ttime\taddr\tstring\n"
    )
    [event], problems = tsv(header + "1.5\t10.0.0.1\tWWW.Example.COM.\n", "ssl.log")
    assert problems == []
    assert event["tls.server.sni"] == "www.example.com"
    assert event["destination.domain"] == "www.example.com"
    with open_input(DATA / "zeek-tsv" / "notice.log.gz") as f:
        notice = next(iter(parse_zeek_tsv(f, "notice.log.gz")))
    assert isinstance(notice, dict)
    assert notice["rule.name"] == "SSL::Invalid_Server_Cert"
    assert notice["event.kind"] == "alert"


def test_a_conn_log_with_sets_empties_and_unset_fields() -> None:
    [event], problems = tsv(HEADER + CONN)
    assert problems == []
    assert event["event.dataset"] == "zeek.conn"
    assert (event["source.port"], event["destination.port"]) == (51515, 443)
    assert event["destination.ip"] == "2001:db8::1"
    assert event["network.protocol"] == "ssl"
    raw = event["raw"]
    assert raw["tunnel_parents"] == []
    assert raw["local_orig"] is True
    assert raw["duration"] == 1.5
    events, _ = tsv(HEADER + CONN.replace("\tssl\t", "\t-\t"))
    assert "service" not in events[0]["raw"]


def test_escapes_in_values_are_decoded() -> None:
    header = "#separator \\x09\n#path\thttp\n#fields\tts\thost\turi\tnames\n#types\ttime\tstring\tstring\tset[string]\n"
    line = "1.0\tx.example\t/a\\x09b\\\\c\tone\\x2ctwo,three\n"
    [event], problems = tsv(header + line, "http.log")
    assert problems == []
    assert event["raw"]["uri"] == "/a\tb\\c"
    assert event["raw"]["names"] == ["one,two", "three"]
    assert event["url.full"] == "http://x.example/a\tb\\c"


def test_http_url_carries_a_non_default_port() -> None:
    raw = b'{"_path":"http","ts":1.0,"id.resp_p":8080,"host":"X.example","uri":"/p","method":"GET","status_code":200,"user_agent":"curl"}\n'
    [event] = parse_zeek_json(io.BytesIO(raw), "http.log")
    assert isinstance(event, dict)
    assert event["url.full"] == "http://x.example:8080/p"
    assert event["http.request.method"] == "GET"
    assert event["http.response.status_code"] == 200
    assert event["user_agent.original"] == "curl"


def test_files_log_hashes_are_lower_case() -> None:
    raw = b'{"ts":"2026-01-01T00:00:00Z","fuid":"F1","md5":"ABCD","sha256":"EF01","filename":"a.exe"}\n'
    [event] = parse_zeek_json(io.BytesIO(raw), "files.log")
    assert isinstance(event, dict)
    assert event["event.dataset"] == "zeek.files"
    assert (event["file.hash.md5"], event["file.hash.sha256"]) == ("abcd", "ef01")
    assert event["file.name"] == "a.exe"
    assert event["@timestamp"] == "2026-01-01T00:00:00.000000Z"


def test_wrong_field_count_is_a_problem_with_its_line_and_the_rest_parses() -> None:
    bad = "1700000000.1\tC2\t10.0.0.6\n"
    events, problems = tsv(HEADER + CONN + bad + CONN)
    assert len(events) == 2
    [problem] = problems
    assert problem.line == 10
    assert "expected 13 fields, found 3" in problem.message


def test_a_non_integer_port_is_a_problem_naming_the_field() -> None:
    events, problems = tsv(HEADER + CONN.replace("\t51515\t", "\tfifty\t") + CONN)
    assert len(events) == 1
    [problem] = problems
    assert (problem.line, problem.field) == (9, "id.orig_p")
    events, problems = tsv(HEADER + CONN.replace("\t443\t", "\t70000\t"))
    assert problems[0].field == "id.resp_p"


def test_a_bad_address_in_json_is_a_problem() -> None:
    raw = b'{"_path":"conn","ts":1.0,"id.orig_h":"10.0.0.300"}\n{"_path":"conn","ts":1.0}\n'
    items = list(parse_zeek_json(io.BytesIO(raw), "conn.json"))
    assert isinstance(items[0], ParseProblem)
    assert (items[0].line, items[0].field) == (1, "id.orig_h")
    assert isinstance(items[1], dict)


def test_data_before_a_header_and_non_utf8_lines_are_problems() -> None:
    events, problems = tsv("1\t2\t3\n")
    assert events == [] and problems[0].line == 1
    data = HEADER.encode() + b"\xff\xfe\n" + CONN.encode()
    events, problems = parse(parse_zeek_tsv(io.BytesIO(data), "conn.log"))
    assert len(events) == 1 and problems[0].line == 9


def test_a_corrupt_gzip_log_ends_with_a_problem(tmp_path: Path) -> None:
    data = gzip.compress((HEADER + CONN * 2000).encode())
    path = tmp_path / "conn.log.gz"
    path.write_bytes(data[: len(data) // 2])
    with open_input(path) as f:
        events, problems = parse(parse_zeek_tsv(f, "conn.log.gz"))
    assert len(events) > 0
    [problem] = problems
    assert "corrupt or truncated" in problem.message


def test_path_from_rotated_file_names() -> None:
    assert path_from_name("logs/conn.09:00:00-10:00:00.log.gz") == "conn"
    assert path_from_name("dns.json") == "dns"


def test_bad_bools_and_container_items_name_their_column() -> None:
    header = "#separator \\x09\n#fields\tts\tflag\tcounts\n#types\ttime\tbool\tvector[count]\n"
    events, problems = tsv(header + "1.0\tmaybe\t1,2\n1.0\tT\t1,x\n1.0\tF\t3,4\n", "x.log")
    assert [(p.line, p.field) for p in problems] == [(4, "flag"), (5, "counts")]
    assert events[0]["raw"] == {"ts": 1.0, "flag": False, "counts": [3, 4]}


def test_odd_field_names_are_kept_as_written() -> None:
    name = "we'ird\"name\\"
    header = f"#separator \\x09\n#fields\tts\t{name}\n#types\ttime\tcount\n"
    [event], problems = tsv(header + "1.0\t7\n", "x.log")
    assert problems == []
    assert event["raw"][name] == 7


def test_records_without_path_or_file_name_get_a_guessed_log() -> None:
    body = (
        b'{"ts": 1.0, "query": "a.example", "qtype_name": "A"}\n'
        b'{"ts": 1.0, "uid": "C1", "conn_state": "SF", "id.orig_p": 1}\n'
        b'{"ts": 1.0, "uid": "C2"}\n'
        b'{"_path": "weird", "ts": 1.0, "name": "x"}\n'
    )
    items = list(parse_zeek_json(io.BytesIO(body), "request body"))
    assert [i["event.dataset"] for i in items] == [  # type: ignore[index]
        "zeek.dns",
        "zeek.conn",
        "zeek.unknown",
        "zeek.weird",
    ]
    [named] = parse_zeek_json(io.BytesIO(b'{"ts": 1.0}\n'), "logs/dhcp.09:00:00.log")
    assert isinstance(named, dict) and named["event.dataset"] == "zeek.dhcp"
