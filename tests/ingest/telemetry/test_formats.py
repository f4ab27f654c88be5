"""Format detection, reading files/folders/bodies, and never raising on bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steppe.errors import InputError
from steppe.ingest.telemetry.formats import FORMATS, detect_format, parse_bytes, read_path
from steppe.ingest.telemetry.mapping import FieldMapping
from steppe.ingest.telemetry.model import ParseProblem
from steppe.ingest.telemetry.records import open_input

DATA = Path(__file__).parents[2] / "data"
TELEMETRY = DATA / "telemetry"
REGRESSION = DATA / "sigma" / "regression_data"
EXPECTED = (
    [(p, "zeek") for p in sorted((TELEMETRY / "zeek-tsv").glob("*.log.gz"))]
    + [(p, "zeek") for p in sorted((TELEMETRY / "zeek-json").glob("*.json.gz"))]
    + [(p, "eve") for p in sorted((TELEMETRY / "suricata-eve").glob("*/alerts-only.json"))]
    + [(p, "winjson") for p in sorted(REGRESSION.rglob("*.json"))]
    + [(p, "evtx") for p in sorted(REGRESSION.rglob("*.evtx"))]
)
CONN_TSV = (
    b"#separator \\x09\n#path\tconn\n#fields\tts\tid.orig_h\tid.orig_p\n"
    b"#types\ttime\taddr\tport\n1700000000.5\t10.0.0.1\t5353\n"
)


def head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(65536)


def test_every_sample_file_is_found() -> None:
    assert len(EXPECTED) > 400


@pytest.mark.parametrize(("path", "fmt"), EXPECTED, ids=lambda v: getattr(v, "name", v))
def test_detection_is_right_on_every_sample(path: Path, fmt: str) -> None:
    assert detect_format(head(path)) == fmt  # gzip ones straight from their bytes
    with open_input(path) as f:
        assert detect_format(f.read(65536)) == fmt


def test_detection_of_jsonl_and_non_telemetry() -> None:
    assert (
        detect_format(b'{"@timestamp": "2026-01-01T00:00:00Z", "source.ip": "1.2.3.4"}\n')
        == "jsonl"
    )
    assert detect_format(b'[{"a": 1}]') == "jsonl"
    assert detect_format(b'{"ts": 1.0, "uid": "C1", "id.orig_h": "1.2.3.4"}') == "zeek"
    assert detect_format(gzip.compress(b'{"event_type": "flow"}\n')) == "eve"
    assert detect_format(b"MIT License\n") is None
    assert detect_format(b"") is None
    assert detect_format(b"\x1f\x8bjunk") is None


def test_read_path_on_the_sample_folders_gives_no_problems_except_for_documents() -> None:
    sources: set[str] = set()
    datasets: set[str] = set()
    for source, item in read_path(TELEMETRY):
        if isinstance(item, ParseProblem):
            assert Path(source).suffix in ("", ".md", ".txt"), str(item)
            assert item.line is None
            continue
        sources.add(Path(source).name)
        datasets.add(item["event.dataset"])
        assert item["@timestamp"].endswith("Z")
        assert item["event.ingested"].endswith("Z")
    assert {"zeek.dns", "zeek.conn"} & datasets == {"zeek.dns"}  # no conn in the samples
    assert "suricata.eve.alert" in datasets
    assert "dns.log.gz" in sources and "dns.json.gz" in sources


def test_read_path_on_a_regression_event_folder() -> None:
    folder = REGRESSION / "rules/windows/process_creation/proc_creation_win_amsi_registry_tampering"
    items = [item for _, item in read_path(folder)]
    events = [i for i in items if not isinstance(i, ParseProblem)]
    problems = [i for i in items if isinstance(i, ParseProblem)]
    assert len(events) == 2  # the .json and the .evtx of the same event
    assert [p.source.rsplit("/", 1)[-1] for p in problems] == ["info.yml"]
    assert {e["process.executable"] for e in events} == {"C:\\Windows\\System32\\reg.exe"}


def test_an_explicit_format_applies_to_every_file(tmp_path: Path) -> None:
    (tmp_path / "conn.log").write_bytes(CONN_TSV)
    [(_, event)] = list(read_path(tmp_path / "conn.log", "zeek"))
    assert isinstance(event, dict) and event["source.port"] == 5353
    as_eve = [item for _, item in read_path(tmp_path / "conn.log", "eve")]
    assert [p.line for p in as_eve if isinstance(p, ParseProblem)] == [1, 2, 3, 4, 5]
    assert len(as_eve) == 5


def test_unknown_formats_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown format 'csv'"):
        read_path(Path("."), "csv")  # at the call, before any reading
    with pytest.raises(InputError):
        parse_bytes(b"", "xml", "body")
    assert FORMATS[0] == "auto"


def test_parse_bytes_for_http_bodies() -> None:
    eve = orjson.dumps(
        {"timestamp": "2026-01-01T00:00:00Z", "event_type": "tls", "tls": {"sni": "a.example"}}
    )
    [event] = parse_bytes(eve + b"\n", "auto", "body")
    assert isinstance(event, dict) and event["tls.server.sni"] == "a.example"
    [event] = parse_bytes(b"[" + eve + b"]", "eve", "body")
    assert isinstance(event, dict) and event["event.dataset"] == "suricata.eve.tls"
    [event] = parse_bytes(gzip.compress(CONN_TSV), "zeek", "body")
    assert isinstance(event, dict) and event["event.dataset"] == "zeek.conn"
    mapping = FieldMapping(fields={"source.ip": "src"}, dataset="acme")
    [event] = parse_bytes(b'{"src": "10.0.0.9"}', "jsonl", "body", mapping)
    assert isinstance(event, dict) and (event["source.ip"], event["event.dataset"]) == (
        "10.0.0.9",
        "acme",
    )


def test_every_event_gets_a_timestamp_and_an_ingest_time() -> None:
    [event] = parse_bytes(b'{"message": "no time here"}', "jsonl", "body")
    assert isinstance(event, dict)
    assert event["@timestamp"] == event["event.ingested"]
    assert event["message"] == "no time here"


@pytest.mark.parametrize(
    ("body", "fmt", "line"),
    [
        (
            b'{"event_type": "flow", "timestamp": "2026-01-01T00:00:00Z"}\n{"event_type": "fl',
            "eve",
            2,
        ),
        (b"\x00\x01\x02binary junk\xff\xfe\n", "jsonl", 1),
        (b"#separator \\x09\n#fields\ta\tb\n#types\tcount\tcount\n1\t2\t3\n", "zeek", 4),
    ],
)
def test_malformed_bodies_give_problems_with_lines(body: bytes, fmt: str, line: int) -> None:
    problems = [i for i in parse_bytes(body, fmt, "body") if isinstance(i, ParseProblem)]
    assert [p.line for p in problems] == [line]


def test_an_empty_file_is_no_events_and_no_problem(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    assert list(read_path(empty)) == []
    for fmt in ("jsonl", "eve", "winjson", "zeek"):
        assert list(read_path(empty, fmt)) == []
    blank = tmp_path / "blank.json"
    blank.write_bytes(b"\n\n   \n")
    assert list(read_path(blank, "jsonl")) == []


def test_binary_junk_and_a_corrupt_gzip_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 10)
    [(_, problem)] = list(read_path(junk))
    assert isinstance(problem, ParseProblem) and "not a telemetry format" in problem.message
    lines = b"".join(
        orjson.dumps({"_path": "dns", "ts": 1.0 + n, "query": f"q{n}.example"}) + b"\n"
        for n in range(5000)
    )
    data = gzip.compress(lines)
    broken = tmp_path / "dns.json.gz"
    broken.write_bytes(data[: len(data) // 2])
    items = [item for _, item in read_path(broken)]
    problems = [i for i in items if isinstance(i, ParseProblem)]
    assert len(items) - len(problems) > 100  # what came before the damage
    [problem] = problems
    assert "corrupt or truncated" in problem.message and problem.line is not None
    garbled = tmp_path / "garbled.json.gz"
    garbled.write_bytes(data[:20] + b"\x00" * 64 + data[84:])
    items = [item for _, item in read_path(garbled)]
    assert any(isinstance(i, ParseProblem) for i in items)


def test_a_truncated_json_line_in_the_middle_of_a_file(tmp_path: Path) -> None:
    good = orjson.dumps({"_path": "dns", "ts": 1.0, "query": "a.example"})
    path = tmp_path / "dns.json"
    path.write_bytes(good + b"\n" + good[:20] + b"\n" + good + b"\n")
    items = [item for _, item in read_path(path)]
    assert [type(i).__name__ for i in items] == ["dict", "ParseProblem", "dict"]
    assert items[1].line == 2  # type: ignore[union-attr]


def test_pretty_printed_objects_back_to_back_with_a_broken_one() -> None:
    one = orjson.dumps({"a": 1}, option=orjson.OPT_INDENT_2)
    body = one + b"\n" + b'{\n  "a": \n' + b"\n" + one + b"\n"
    items = list(parse_bytes(body, "jsonl", "body"))
    assert [type(i).__name__ for i in items] == ["dict", "ParseProblem", "dict"]
    assert items[1].line == 4  # type: ignore[union-attr]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.binary(max_size=2048), fmt=st.sampled_from(FORMATS))
def test_arbitrary_bytes_never_raise(data: bytes, fmt: str) -> None:
    for item in parse_bytes(data, fmt, "fuzz"):
        assert isinstance(item, dict | ParseProblem)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
_keys = st.sampled_from(
    ["ts", "_path", "id.orig_p", "id.orig_h", "query", "event_type", "timestamp", "src_ip",
     "dest_port", "alert", "dns", "http", "tls", "fileinfo", "Event", "System", "EventData",
     "@timestamp", "source", "source.port", "process", "host", "uri"]
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    record=st.dictionaries(_keys, _json_values, max_size=8),
    fmt=st.sampled_from(["eve", "zeek", "winjson", "jsonl"]),
)
def test_arbitrary_json_records_never_raise(record: dict[str, object], fmt: str) -> None:
    # The standard library writes what orjson will not (huge ints, NaN): more to chew on.
    for item in parse_bytes(json.dumps(record).encode(), fmt, "fuzz"):
        assert isinstance(item, dict | ParseProblem)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=0, max_value=4000))
def test_any_prefix_of_a_real_log_never_raises(cut: int) -> None:
    with open_input(TELEMETRY / "zeek-tsv" / "dns.log.gz") as f:
        data = f.read(4000)
    for item in parse_bytes(data[:cut], "auto", "fuzz"):
        assert isinstance(item, dict | ParseProblem)
    gz = gzip.compress(data)
    for item in parse_bytes(gz[: cut % len(gz)], "auto", "fuzz"):
        assert isinstance(item, dict | ParseProblem)


_windows_keys = st.sampled_from(
    ["EventID", "Channel", "Computer", "Provider", "TimeCreated", "Image", "ProcessId",
     "SourcePort", "DestinationIp", "QueryName", "Hashes", "User", "#attributes", "#text",
     "TargetFilename", "SubjectUserName", "NewProcessId"]
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    system=st.dictionaries(_windows_keys, _json_values, max_size=6),
    data=st.dictionaries(_windows_keys, _json_values, max_size=6) | _json_values,
    provider=st.sampled_from(["Microsoft-Windows-Sysmon", "Other"]),
    event_id=st.sampled_from([1, 3, 17, 22, "3", None]),
)
def test_arbitrary_windows_events_never_raise(
    system: dict[str, object], data: object, provider: str, event_id: object
) -> None:
    system = {**system, "Provider": {"#attributes": {"Name": provider}}, "EventID": event_id}
    record = {"Event": {"System": system, "EventData": data}}
    for item in parse_bytes(json.dumps(record).encode(), "winjson", "fuzz"):
        assert isinstance(item, dict | ParseProblem)


def test_an_eve_file_is_read_in_blocks_and_a_gzip_one_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steppe.ingest.telemetry import eve_columns
    from steppe.ingest.telemetry.eve_columns import EventBatch
    from steppe.ingest.telemetry.formats import read_path_batched

    if eve_columns._decode_block is None:
        pytest.skip("blocks are cut by the compiled decoder only")
    record = {"timestamp": "2026-11-28T10:00:00.000000+0000", "event_type": "dns"}
    lines = [orjson.dumps({**record, "n": n}) for n in range(40)]
    lines[17] = b'{"broken": '
    data = b"\n".join(lines) + b"\n"
    (tmp_path / "eve.json").write_bytes(data)
    (tmp_path / "eve.json.gz").write_bytes(gzip.compress(data))
    blocks: list[str] = []
    real = eve_columns._block_batches

    def spied(*args: object) -> object:
        blocks.append(str(args[2]))
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(eve_columns, "_block_batches", spied)
    monkeypatch.setattr(eve_columns, "BLOCK_BYTES", 100)  # lines straddle the blocks
    read = {}
    for name in ("eve.json", "eve.json.gz"):
        items = [item for _, item in read_path_batched(tmp_path / name, "eve")]
        rows = [row for i in items if isinstance(i, EventBatch) for row in i.table.column("raw")]
        problems = [(p.line, p.message) for p in items if isinstance(p, ParseProblem)]
        read[name] = ([r.as_py() for r in rows], problems)
    assert blocks == [str(tmp_path / "eve.json")]  # the gzip file went line by line
    assert read["eve.json"] == read["eve.json.gz"]
    assert len(read["eve.json"][0]) == 39 and read["eve.json"][1][0][0] == 18
