"""Events become typed lake rows; wrong types are coerced or nulled, never fatal."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pyarrow as pa

from steppe.ingest.telemetry.model import ECS_COLUMNS, ColumnKind
from steppe.lake.table import LEFTOVER_KEY, TIMESTAMP, events_table, lake_schema

ACCEPTED = "2026-11-28T12:00:00.000000Z"


def test_schema_has_every_ecs_column_typed_then_raw_and_organisation() -> None:
    schema = lake_schema()
    expected = {
        ColumnKind.STRING: pa.string(),
        ColumnKind.INT: pa.int64(),
        ColumnKind.TIMESTAMP: TIMESTAMP,
    }
    assert schema.names == [name for name, _ in ECS_COLUMNS] + ["raw", "organisation"]
    for name, kind in ECS_COLUMNS:
        assert schema.field(name).type == expected[kind], name
    assert schema.field("raw").type == pa.string()
    assert schema.field("organisation").type == pa.int64()


def test_clean_events_keep_their_values() -> None:
    table = events_table(
        [
            (
                3,
                ACCEPTED,
                {
                    "@timestamp": "2026-11-28T10:00:00.123456Z",
                    "source.ip": "10.0.0.5",
                    "destination.port": 53,
                    "raw": {"query": "evil.example"},
                },
            )
        ]
    )
    row = table.to_pylist()[0]
    assert row["@timestamp"] == datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC)
    assert row["source.ip"] == "10.0.0.5"
    assert row["destination.port"] == 53
    assert row["organisation"] == 3
    assert orjson.loads(row["raw"]) == {"query": "evil.example"}
    assert row["user.name"] is None


def test_wrong_types_are_coerced_or_nulled_and_kept_in_raw() -> None:
    rows = [
        (1, ACCEPTED, {"@timestamp": "2026-11-28T10:00:00Z", "source.port": "8080",
                       "destination.port": "https", "host.ip": ["10.0.0.1", "10.0.0.2"],
                       "event.code": 4688, "event.ingested": "yesterday",
                       "process.pid": True, "raw": {"line": 1}}),
        (1, ACCEPTED, {"@timestamp": "2026-11-28T11:00:00+02:00", "source.port": 22.0,
                       "destination.port": 2**70, "raw": {"line": 2}}),
    ]  # fmt: skip
    first, second = events_table(rows).to_pylist()
    assert first["source.port"] == 8080
    assert first["destination.port"] is None
    assert first["host.ip"] == '["10.0.0.1","10.0.0.2"]'
    assert first["event.code"] == "4688"
    assert first["event.ingested"] is None
    assert first["process.pid"] is None
    assert orjson.loads(first["raw"]) == {
        "line": 1,
        LEFTOVER_KEY: {"destination.port": "https", "event.ingested": "yesterday",
                       "process.pid": True},
    }  # fmt: skip
    assert second["@timestamp"] == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert second["source.port"] == 22
    assert second["destination.port"] is None
    assert orjson.loads(second["raw"])[LEFTOVER_KEY] == {"destination.port": 2**70}


def test_fields_without_a_column_are_kept_in_raw() -> None:
    (row,) = events_table(
        [(1, ACCEPTED, {"@timestamp": ACCEPTED, "dns.answers": ["1.2.3.4"], "raw": "a line"})]
    ).to_pylist()
    assert orjson.loads(row["raw"]) == {"raw": "a line", LEFTOVER_KEY: {"dns.answers": ["1.2.3.4"]}}


def test_missing_or_unreadable_timestamp_takes_the_time_of_acceptance() -> None:
    rows = [
        (1, ACCEPTED, {"raw": {}}),
        (1, ACCEPTED, {"@timestamp": "not a time", "raw": {}}),
        (1, ACCEPTED, {"@timestamp": "2026-11-28T10:00:00", "raw": {}}),  # no zone: UTC
    ]
    stamps = events_table(rows).column("@timestamp").to_pylist()
    accepted = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert stamps == [accepted, accepted, datetime(2026, 11, 28, 10, tzinfo=UTC)]


def test_columns_no_event_has_are_null_and_extras_stay_with_their_event() -> None:
    rows = [
        (1, "2026-11-28T10:00:00.000000Z", {"@timestamp": "2026-11-28T09:00:00Z", "raw": {}}),
        (1, "2026-11-28T10:00:00.000000Z", {"source.port": 53, "note": "x", "raw": {"a": 1}}),
    ]
    table = events_table(rows)
    assert table.schema.equals(lake_schema())
    assert table.column("process.pid").to_pylist() == [None, None]
    assert table.column("source.port").to_pylist() == [None, 53]
    first, second = (orjson.loads(r) for r in table.column("raw").to_pylist())
    assert first == {} and second == {"a": 1, LEFTOVER_KEY: {"note": "x"}}
