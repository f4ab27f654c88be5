"""The columnar EVE path gives the rows and problems of the per-event path, line for line."""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steppe.ingest.telemetry import eve_columns
from steppe.ingest.telemetry.eve_columns import EventBatch, parse_eve_columns
from steppe.ingest.telemetry.model import ParseProblem
from steppe.ingest.telemetry.suricata import parse_eve
from steppe.lake.table import events_table, table_events

DATA = Path(__file__).parents[2] / "data" / "telemetry" / "suricata-eve"
SAMPLES = sorted(DATA.glob("*/alerts-only.json"))
INGESTED = "2026-11-28T12:00:00.000000Z"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eve_columns, "now", lambda: INGESTED)


#: Whether :func:`columnar` hands the bytes over whole (as for an HTTP body) or as a
#: stream only; set by the ``decoder`` fixture.
WHOLE = False
#: Whether it reads the stream in blocks (as from an uncompressed file), tiny ones.
BLOCKS = False


@pytest.fixture(autouse=True, params=["compiled", "body", "blocks", "msgspec"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test four times: with the compiled decoder in front, reading lines from a
    stream, cutting an in-memory body itself or blocks of a stream (of 37 bytes, so
    that lines straddle them), and with the Python path alone (as where the extension
    is not built)."""
    if request.param == "msgspec":
        monkeypatch.setattr(eve_columns, "_decode_compiled", None)
        monkeypatch.setattr(eve_columns, "_decode_block", None)
    else:
        assert eve_columns._decode_compiled is not None, "the compiled EVE decoder was not built"
        assert eve_columns._decode_block is not None
    monkeypatch.setattr(sys.modules[__name__], "WHOLE", request.param == "body")
    monkeypatch.setattr(sys.modules[__name__], "BLOCKS", request.param == "blocks")
    monkeypatch.setattr(eve_columns, "BLOCK_BYTES", 37)
    return str(request.param)


def reference(data: bytes) -> tuple[pa.Table, list[str]]:
    """What the per-event path gives, stamped as formats._stamped stamps it."""
    events, problems = [], []
    for item in parse_eve(io.BytesIO(data), "eve.json"):
        if isinstance(item, ParseProblem):
            problems.append(str(item))
            continue
        item["event.ingested"] = INGESTED
        item.setdefault("@timestamp", INGESTED)
        events.append((0, INGESTED, item))
    return events_table(events).drop_columns(["organisation"]), problems


def columnar(data: bytes) -> tuple[pa.Table, list[str]]:
    tables, problems = [], []
    for item in parse_eve_columns(
        io.BytesIO(data), "eve.json", whole=data if WHOLE else None, blocks=BLOCKS
    ):
        if isinstance(item, ParseProblem):
            problems.append(str(item))
        elif isinstance(item, EventBatch):
            tables.append(item.table)
        else:  # a JSON array: the per-event path's events
            tables.append(events_table([(0, INGESTED, item)]).drop_columns(["organisation"]))
    if not tables:
        return reference(b"")[0], problems
    return pa.concat_tables(tables), problems


def assert_same(data: bytes, but: tuple[str, ...] = ()) -> None:
    expected, expected_problems = reference(data)
    got, got_problems = columnar(data)
    assert got_problems == expected_problems
    assert got.schema.equals(expected.schema)
    for name in set(expected.column_names).difference(but):
        assert got.column(name).to_pylist() == expected.column(name).to_pylist(), name


def fallbacks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Line numbers the per-event fallback is asked to read, recorded."""
    seen: list[int] = []
    real = eve_columns._one

    def counted(number: int, *args: Any) -> Any:
        seen.append(number)
        return real(number, *args)

    monkeypatch.setattr(eve_columns, "_one", counted)
    return seen


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.parent.name)
def test_the_samples_as_json_lines_give_the_same_rows(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = orjson.loads(path.read_bytes())
    compact = b"".join(orjson.dumps(r) + b"\n" for r in records)
    seen = fallbacks(monkeypatch)
    assert_same(compact)
    # Most sample lines take the columnar path (some carry escapes or floats).
    assert len(seen) < len(records) / 2
    spaced = "".join(json.dumps(r) + "\n" for r in records).encode()
    assert_same(spaced)  # not compact: every line falls back, to the same rows


@pytest.mark.parametrize("path", SAMPLES[:1], ids=lambda p: p.parent.name)
def test_a_json_array_goes_the_per_event_way(path: Path) -> None:
    assert_same(path.read_bytes())


def test_raw_is_the_line_and_times_are_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    line = (
        b'{"timestamp":"2026-01-02T03:04:05.123456-0600","event_type":"http",'
        b'"src_ip":"10.0.0.5","src_port":51515,"dest_ip":"192.0.2.1","dest_port":8080,'
        b'"proto":"TCP","http":{"hostname":"Www.Example.","url":"/a?b=1","http_port":0}}'
    )
    seen = fallbacks(monkeypatch)
    table, problems = columnar(line + b"\n")
    assert seen == [] and problems == []
    row = table_events(table)[0]
    assert row["raw"] == orjson.loads(line)
    assert table.column("raw").to_pylist() == [line.decode()]
    assert row["@timestamp"] == "2026-01-02T09:04:05.123456Z"
    assert row["url.full"] == "http://www.example:8080/a?b=1"  # http_port 0: the flow's
    assert row["url.domain"] == "www.example"
    assert_same(line + b"\n")


def test_bad_lines_are_reported_by_number_and_the_rest_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = orjson.dumps({"timestamp": "2026-01-02T03:04:05.000001Z", "event_type": "dns"})
    lines = [
        good,
        b'{"event_type": "dns", "src_ip": "not an address"}',
        b"",
        b'{"truncated": ',
        b"[1, 2]",
        b'{"src_port": 70000}',
        b'{"x": "\xff"}',
        b'{"timestamp": "yesterday"}',
        b'{"timestamp":"2026-11-28T10:00:02.5Z","event_type":"dns"}',
        b'{"timestamp":"2026-11-28 10:00:00","event_type":"dns"}',
        good,
    ]
    data = b"\n".join(lines) + b"\n"
    seen = fallbacks(monkeypatch)
    table, problems = columnar(data)
    assert table.num_rows == 4  # the two other times are read the per-event way
    assert [p.split(":")[1] for p in problems] == ["2", "4", "5", "6", "7", "8"]
    assert seen == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert_same(data)


# -- generated EVE: every event type, odd values, malformed lines -----------------------

texts = st.text(max_size=12)
odd = st.one_of(st.none(), st.integers(-5, 70_000), st.booleans(), st.floats(), texts)
addresses = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.sampled_from(["", "010.0.0.1", "10.0.0.256", "::ffff:10.0.0.1", "1.2.3"]),
    odd,
)
times = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f%z")),
    st.datetimes().map(lambda d: d.isoformat(timespec="microseconds")),
    st.sampled_from(
        [
            "2026-11-28T10:00:00.123456Z",
            "2026-11-28T10:00:00.123456+05:30",
            "2026-11-28T10:00:00.1234567+0000",
            "2026-13-28T10:00:00.123456+0000",
            "0001-01-01T00:00:00.000000+0100",
            "2026-11-28 10:00:00",
            "2026-11-28T10:00:02.5Z",
            "2026-11-28T10:00:02Z",
            "2026-11-28T10:00:00.123456+05:30:15",
            "2026-11-28T10:00:00.123456-2400",
            "2026-11-28T10:00:00.123456",
        ]
    ),
    odd,
)
names = st.one_of(
    st.sampled_from(["Evil.Example.", "a.example", "XN--BCHER-KVA.example", "İ.example"]),
    texts,
    odd,
)
ports = st.one_of(st.integers(-1, 65_536), st.sampled_from([0, 80, 443]), odd)


def body(**fields: Any) -> Any:
    return st.one_of(st.fixed_dictionaries({}, optional=fields), odd)


bodies = {
    "alert": body(
        signature_id=st.one_of(st.integers(0, 10**9), odd),
        signature=texts,
        severity=st.one_of(st.integers(1, 4), odd),
        action=st.one_of(st.sampled_from(["allowed", "blocked"]), odd),
    ),
    "dns": body(
        rrname=names,
        rrtype=st.one_of(st.sampled_from(["A", "AAAA"]), odd),
        queries=st.one_of(
            st.lists(st.fixed_dictionaries({"rrname": names, "rrtype": texts}), max_size=2), odd
        ),
    ),
    "http": body(
        hostname=names,
        url=st.one_of(st.sampled_from(["/x?y=1", "https://h.example/p", ""]), odd),
        http_port=ports,
        http_method=st.one_of(st.sampled_from(["GET", "POST"]), odd),
        http_user_agent=texts,
        status=st.one_of(st.sampled_from([200, 404]), odd),
    ),
    "tls": body(sni=names),
    "fileinfo": body(
        md5=st.one_of(st.sampled_from(["ABCDEF", "abc"]), odd),
        sha1=texts,
        sha256=texts,
        filename=st.one_of(st.sampled_from(["/tmp/a.exe", "b", "dir/"]), odd),
    ),
    "flow": body(state=st.one_of(st.sampled_from(["closed", "new"]), odd)),
}
kinds = st.one_of(st.sampled_from(sorted(bodies)), st.sampled_from(["", "stats"]), odd)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "timestamp": times,
                "src_ip": addresses,
                "dest_ip": addresses,
                "src_port": ports,
                "dest_port": ports,
                "proto": st.one_of(st.sampled_from(["TCP", "UDP", "ICMP"]), odd),
                "app_proto": st.one_of(st.sampled_from(["http", "DNS"]), odd),
                "host": odd,
                "flow_id": st.integers(0, 2**64 - 1),
                "pcap_cnt": st.one_of(st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=False)),
            },
        )
    )
    kind = draw(kinds)
    record["event_type"] = kind
    for name in draw(st.sets(st.sampled_from(sorted(bodies)), max_size=3)) | (
        {kind} if kind in bodies else set()
    ):
        record[name] = draw(bodies[name])
    return record


def encode(record: dict[str, Any], how: str) -> bytes:
    if how == "compact":
        return orjson.dumps(record)
    if how == "spaced":
        return json.dumps(record).encode()  # \u escapes and spaces
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


malformed = st.sampled_from(
    [b"", b"   ", b'{"a": ', b"[]", b"42", b'"x"', b'{"x": 1}x', b'{"x":"\xff"}', b'{"x":NaN}']
)
lines = st.one_of(
    st.tuples(records(), st.sampled_from(["compact", "compact", "spaced", "plain"])).map(
        lambda pair: encode(*pair)
    ),
    malformed,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, min_size=1, max_size=12), st.sampled_from([b"\n", b"", b"\n\n"]))
def test_generated_eve_lines_give_the_same_rows_and_problems(
    chunk: list[bytes], end: bytes
) -> None:
    assert_same(b"\n".join(chunk) + end)


def test_carriage_returns_and_blank_lines_are_read_as_the_per_event_path_reads_them() -> None:
    event = orjson.dumps({"event_type": "dns", "dns": {"rrname": "a.example"}})
    assert_same(event + b"\r\n" + event + b"\n\n" + event + b"\r" + event + b"\n" + event)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(records(), min_size=1, max_size=8))
def test_generated_events_in_several_chunks(
    monkeypatch: pytest.MonkeyPatch, events: list[dict[str, Any]]
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(eve_columns, "CHUNK_LINES", 3)
        assert_same(b"".join(orjson.dumps(e) + b"\n" for e in events))


def test_a_failure_of_the_columnar_code_falls_back_to_the_per_event_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any) -> Any:
        raise ArithmeticError("a bug")

    data = b"".join(orjson.dumps(r) + b"\n" for r in orjson.loads(SAMPLES[0].read_bytes()))
    expected = columnar(data)
    monkeypatch.setattr(eve_columns, "_decode_compiled", None)
    monkeypatch.setattr(eve_columns, "_decode_block", None)
    monkeypatch.setattr(eve_columns, "_columns", broken)
    seen = fallbacks(monkeypatch)
    got = columnar(data)
    assert got[1] == expected[1] and got[0].equals(expected[0])
    assert len(seen) == data.count(b"\n")


# -- the compiled decoder: what it takes, what it leaves to the Python path --------------

COMPILED = eve_columns._decode_compiled
needs_compiled = pytest.mark.skipif(
    COMPILED is None, reason="the compiled EVE decoder was not built"
)
BASE = (
    b'{"timestamp":"2024-02-29T23:59:59.999999+0100","event_type":"alert","src_ip":"10.0.0.1",'
    b'"src_port":1,"dest_ip":"192.0.2.255","dest_port":80,"proto":"TCP","app_proto":"HTTP",'
    b'"alert":{"signature_id":-7,"signature":"S","severity":2,"action":"allowed"},'
    b'"http":{"hostname":"H.Example..","url":"/p","http_port":8080,"status":200},'
    b'"tls":{"sni":"T.Example"},"dns":{"rrname":"D.","rrtype":"A","queries":[{"x":[]}]},'
    b'"fileinfo":{"md5":"AB","filename":"a/b/c.exe"},"flow":{"state":"new"},"x":[1,{}]}'
)


@needs_compiled
@pytest.mark.parametrize(
    ("line", "taken"),
    [
        (BASE, True),
        (
            b'{"event_type":"flow","flow":{"state":"closed"},"timestamp":"2026-01-01T00:00:00.000000Z"}',
            True,
        ),
        (b"{}", True),
        (b'{"src_ip":"","dest_port":0,"http":null,"alert":null}', True),
        (b'{"event_type":"dns","dns":{"queries":[{"rrname":"q.example"}]}}', False),
        (b'{"event_type":"dns","dns":{"rrname":"a","rrname":"b"}}', False),  # a key twice
        (b'{"src_port":-0}', False),
        (b'{"flow_id":1234567890123456789}', False),  # 19 digits: orjson reads a float
        (b'{"x":1.5}', False),
        (b'{"x": 1}', False),
        (b'{"x":"a\\"b"}', False),
        (b'{"x":"\xc3\xa9"}', False),
        (b'{"src_ip":"10.0.0.01"}', False),
        (b'{"src_ip":"::1"}', False),
        (b'{"dest_port":65536}', False),
        (b'{"src_port":"53"}', False),
        (b'{"alert":[]}', False),
        (b'{"timestamp":"2023-02-29T00:00:00.000000Z"}', False),
        (b'{"timestamp":"2026-01-01T00:00:00.000000+2400"}', False),
        (b'{"timestamp":"0001-01-01T00:00:00.000000+0100"}', False),
        (b'{"timestamp":"2026-01-01T00:00:00.000000z"}', False),
        (b'{"timestamp":"2026-01-01T00:00:00.000000"}', False),
        (b'{"x":' + b"[" * 70 + b"]" * 70 + b"}", False),
        (b'{"x":[1,]}', False),
        (b'{"x":tru}', False),
        (b"[]", False),
    ],
)
def test_the_compiled_decoder_leaves_what_it_cannot_prove_to_the_python_path(
    line: bytes, taken: bool, decoder: str
) -> None:
    assert COMPILED is not None
    rejected, rows, _, _ = COMPILED([line + b"\n"], 0)
    assert (rows, rejected) == ((1, []) if taken else (0, [0]))
    # A key twice: the per-event path's raw keeps the last (see eve_columns' docstring).
    assert_same(line + b"\n", but=("raw",) if b'"a","rrname"' in line else ())


@needs_compiled
def test_the_compiled_columns_of_an_alert(decoder: str) -> None:
    table, problems = columnar(BASE + b"\n")
    row = table_events(table)[0]
    assert problems == []
    assert row["@timestamp"] == "2024-02-29T22:59:59.999999Z"
    assert row["url.full"] == "http://h.example:8080/p" and row["url.domain"] == "h.example"
    assert row["rule.id"] == "-7" and row["event.action"] == "allowed"
    assert row["dns.question.name"] == "d" and row["destination.domain"] == "t.example"
    assert row["file.name"] == "c.exe" and row["file.hash.md5"] == "ab"
    assert_same(BASE + b"\n")


plain_texts = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
well_formed = st.fixed_dictionaries(
    {},
    optional={
        "timestamp": st.datetimes(
            min_value=datetime(2, 1, 1), max_value=datetime(9998, 1, 1), timezones=st.timezones()
        ).map(lambda d: d.isoformat(timespec="microseconds")),
        "event_type": st.sampled_from(["alert", "dns", "http", "tls", "fileinfo", "flow", ""]),
        "src_ip": st.ip_addresses(v=4).map(str),
        "dest_port": st.integers(0, 65_535),
        "proto": plain_texts,
        "alert": st.fixed_dictionaries(
            {}, optional={"signature_id": st.integers(-(10**17), 10**17), "signature": plain_texts}
        ),
        "http": st.fixed_dictionaries(
            {},
            optional={
                "hostname": plain_texts,
                "url": plain_texts,
                "http_port": st.integers(-5, 70_000),
                "status": st.integers(0, 999),
            },
        ),
        "dns": st.fixed_dictionaries({"rrname": plain_texts}, optional={"rrtype": plain_texts}),
        "tls": st.fixed_dictionaries({}, optional={"sni": plain_texts}),
        "fileinfo": st.fixed_dictionaries({}, optional={"filename": plain_texts}),
        "other": st.recursive(
            st.none() | st.booleans() | st.integers(-(10**17), 10**17) | plain_texts,
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(plain_texts, inner),
            max_leaves=6,
        ),
    },
)


@needs_compiled
@settings(max_examples=150, deadline=None)
@given(st.lists(well_formed, min_size=1, max_size=8))
def test_the_compiled_decoder_takes_well_formed_lines_as_the_python_path_reads_them(
    events: list[dict[str, Any]],
) -> None:
    chunk = [orjson.dumps(e) + b"\n" for e in events if b"\\" not in orjson.dumps(e)]
    if not chunk:
        return
    assert COMPILED is not None
    at = INGESTED
    compiled, rejected = eve_columns._compiled_table(COMPILED, chunk, at)
    python, rows, problems = eve_columns._python_table(chunk, range(1, len(chunk) + 1), "x", at)
    offset = [orjson.loads(line).get("timestamp", "")[26:] for line in chunk]
    # Only times with a zone of seconds ("+05:30:15") are left to Python here.
    assert all(len(offset[index]) > 6 for index in rejected)
    assert problems == [] and rows == list(range(len(chunk)))
    taken = [index for index in rows if index not in rejected]
    assert compiled.equals(python.take(pa.array(taken, pa.int64())))


@needs_compiled
@pytest.mark.parametrize("fails_at", [0, 1])
def test_a_failure_of_the_block_decoder_reads_the_rest_of_the_body_line_by_line(
    monkeypatch: pytest.MonkeyPatch, decoder: str, fails_at: int
) -> None:
    if decoder != "body":
        pytest.skip("the block decoder reads bodies in memory only")
    real = eve_columns._decode_block
    assert real is not None
    calls = 0

    def fails_once(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == fails_at + 1:
            raise MemoryError("EVE columns past 2 GiB or out of memory")
        return real(*args)

    good = [orjson.dumps(r) for r in orjson.loads(SAMPLES[0].read_bytes())]
    data = b"\n".join([*good[:3], b"not json", *good[3:6], b"[]", *good[6:]]) + b"\n"
    expected = columnar(data)
    monkeypatch.setattr(eve_columns, "CHUNK_LINES", 4)
    monkeypatch.setattr(eve_columns, "_decode_block", fails_once)
    got = columnar(data)
    assert got[1] == expected[1] and got[0].equals(expected[0])
    assert calls == fails_at + 1


@needs_compiled
def test_a_failure_of_the_compiled_decoder_falls_back_to_the_python_path(
    monkeypatch: pytest.MonkeyPatch, decoder: str
) -> None:
    def broken(*args: Any) -> Any:
        raise MemoryError("EVE columns past 2 GiB or out of memory")

    data = b"".join(orjson.dumps(r) + b"\n" for r in orjson.loads(SAMPLES[0].read_bytes()))
    expected = columnar(data)
    monkeypatch.setattr(eve_columns, "_decode_compiled", broken)
    got = columnar(data)
    assert got[1] == expected[1] and got[0].equals(expected[0])
