"""Generic JSON: ECS passthrough (flat or nested) and field mappings."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from steppe.errors import ConfigError
from steppe.ingest.telemetry.mapping import FieldMapping, normalise_json, parse_jsonl
from steppe.ingest.telemetry.model import ParseProblem


def test_flat_and_nested_ecs_pass_through_normalised() -> None:
    flat = normalise_json(
        {
            "@timestamp": "2026-01-02T03:04:05+01:00",
            "event.dataset": "edr.process",
            "source.ip": "::ffff:10.0.0.1",
            "destination.port": 443,
            "url.domain": "WWW.Example.",
            "custom": "kept",
        }
    )
    assert flat["@timestamp"] == "2026-01-02T02:04:05.000000Z"
    assert flat["event.dataset"] == "edr.process"
    assert flat["event.module"] == "generic"
    assert flat["source.ip"] == "::ffff:10.0.0.1"
    assert flat["url.domain"] == "www.example"
    assert "custom" not in flat and flat["raw"]["custom"] == "kept"
    nested = normalise_json(
        {"@timestamp": 1700000000.5, "process": {"pid": "42", "executable": "/bin/sh"}}
    )
    assert nested["process.pid"] == 42
    assert nested["process.executable"] == "/bin/sh"
    assert nested["@timestamp"] == "2023-11-14T22:13:20.500000Z"
    assert nested["event.dataset"] == "generic"


def test_a_mapping_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "proxy.json"
    path.write_bytes(
        orjson.dumps(
            {
                "dataset": "acme.proxy",
                "module": "acme",
                "fields": {
                    "source.ip": "client.ip",
                    "url.full": "request.url",
                    "http.response.status_code": "response.code",
                    "user.name": "auth.user",
                },
                "timestamp": "time",
                "timestamp_format": "%d/%b/%Y:%H:%M:%S %z",
            }
        )
    )
    mapping = FieldMapping.from_file(path)
    record = {
        "time": "10/Oct/2026:13:55:36 -0700",
        "client": {"ip": "10.1.2.3"},
        "request": {"url": "http://a.example/x"},
        "response": {"code": "404"},
        "auth.user": "ann",  # a key with dots is found as it is
    }
    event = normalise_json(record, mapping)
    assert event["@timestamp"] == "2026-10-10T20:55:36.000000Z"
    assert event["source.ip"] == "10.1.2.3"
    assert event["url.full"] == "http://a.example/x"
    assert event["http.response.status_code"] == 404
    assert event["user.name"] == "ann"
    assert (event["event.dataset"], event["event.module"]) == ("acme.proxy", "acme")


def test_timestamp_formats() -> None:
    for form, value, expected in (
        ("epoch", "1700000000", "2023-11-14T22:13:20.000000Z"),
        ("epoch_ms", 1700000000123, "2023-11-14T22:13:20.123000Z"),
        ("iso", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000000Z"),
        ("%Y-%m-%d %H:%M:%S", "2026-01-02 03:04:05", "2026-01-02T03:04:05.000000Z"),
    ):
        mapping = FieldMapping(timestamp="t", timestamp_format=form)
        assert normalise_json({"t": value}, mapping)["@timestamp"] == expected


def test_bad_mappings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"not lake columns: source\.address"):
        FieldMapping.from_dict({"fields": {"source.address": "a"}})
    with pytest.raises(ConfigError, match="unknown keys"):
        FieldMapping.from_dict({"feilds": {}})
    with pytest.raises(ConfigError, match="timestamp_format"):
        FieldMapping.from_dict({"timestamp_format": "unix"})
    with pytest.raises(ConfigError, match="must map"):
        FieldMapping.from_dict({"fields": {"source.ip": 3}})


def test_a_value_of_the_wrong_type_is_a_problem_naming_the_field() -> None:
    mapping = FieldMapping(fields={"source.port": "sport"}, timestamp="t", timestamp_format="iso")
    data = b'{"t": "2026-01-01T00:00:00Z", "sport": "x"}\n{"t": "nope"}\n{"t": "2026-01-01T00:00:00Z"}\n'
    items = list(parse_jsonl(io.BytesIO(data), "sensor.jsonl", mapping))
    assert [(i.line, i.field) for i in items if isinstance(i, ParseProblem)] == [
        (1, "sport"),
        (2, "t"),
    ]
    assert isinstance(items[2], dict)


def test_a_json_array_of_records() -> None:
    data = b'[{"source.ip": "10.0.0.1"}, {"source.ip": "10.0.0.2"}, 3]'
    items = list(parse_jsonl(io.BytesIO(data), "a.json"))
    assert [i["source.ip"] for i in items[:2]] == ["10.0.0.1", "10.0.0.2"]  # type: ignore[index]
    assert isinstance(items[2], ParseProblem) and items[2].line == 3
