"""JSON in its three shapes, with the line each record starts on; gzip by content."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import orjson

from steppe.ingest.telemetry.model import ParseProblem
from steppe.ingest.telemetry.records import json_records, open_input, peek


def read(data: bytes) -> list[object]:
    return [
        (r.line, r.message) if isinstance(r, ParseProblem) else r
        for r in json_records(io.BytesIO(data), "x")
    ]


def test_json_lines_with_blank_lines_and_a_bad_one() -> None:
    data = b'{"a": 1}\n\n{"a": \n  \n{"a": 3}\r\n"text"\n'
    assert read(data) == [
        (1, {"a": 1}),
        (3, "not valid JSON: unexpected end of data"),
        (5, {"a": 3}),
        (6, "expected a JSON object, found str"),
    ]


def test_an_array_numbers_records_by_position() -> None:
    assert read(b' [\n{"a": 1},\n [],\n{"a": 2}\n]') == [
        (1, {"a": 1}),
        (2, "expected a JSON object, found list"),
        (3, {"a": 2}),
    ]
    [problem] = read(b'[{"a": 1},\n{"a": ')
    assert problem[0] == 2  # type: ignore[index]


def test_pretty_printed_objects_back_to_back_keep_their_first_lines() -> None:
    one = orjson.dumps({"a": {"b": 1}}, option=orjson.OPT_INDENT_2)
    data = one + b"\n" + one + b"\n\n" + one
    assert [r[0] for r in read(data)] == [1, 6, 12]  # type: ignore[index]


def test_a_long_first_line_is_still_json_lines() -> None:
    record = {"k": "v" * 10000}
    data = orjson.dumps(record) + b"\n" + orjson.dumps(record)
    assert [r[0] for r in read(data)] == [1, 2]  # type: ignore[index]


def test_gzip_is_found_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    path.write_bytes(gzip.compress(b'{"a": 1}\n'))
    with open_input(path) as f:
        assert f.read() == b'{"a": 1}\n'
    plain = tmp_path / "events.gz"
    plain.write_bytes(b'{"a": 1}\n')
    with open_input(plain) as f:
        assert f.read() == b'{"a": 1}\n'


def test_peek_gives_the_head_and_the_whole_stream_back() -> None:
    data = bytes(range(256)) * 1000
    head, stream = peek(io.BytesIO(data), 1000)
    assert head == data[:1000]
    assert stream.read() == data
