"""Spool records: Arrow batches and JSON batches give the lake the same rows."""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake.lakedata import event, read_lake
from steppe.ingest.telemetry.eve_columns import EventBatch, observed, parse_eve_columns
from steppe.lake import EventLake
from steppe.lake.batches import (
    ARROW_MARK,
    ARROW_MIN_EVENTS,
    BadRecord,
    body_record,
    decode,
    encode,
)
from steppe.lake.handoff import DecodedRows
from steppe.lake.table import LEFTOVER_KEY, lake_schema, with_organisation

ACCEPTED = "2026-11-28T12:00:00.000000Z"


def awkward(n: int) -> dict[str, Any]:
    """Events with what the conversion must coerce or keep aside."""
    match n % 6:
        case 0:
            return event(n)
        case 1:
            return event(n, **{"destination.port": "8080", "source.port": "not a port"})
        case 2:
            return {k: v for k, v in event(n).items() if k != "@timestamp"}  # no time
        case 3:
            return event(n, **{"process.pid": 2**70, "tags": {"a"}})  # unfit, no column
        case 4:
            return event(n, day="2026-11-27", **{"@timestamp": "2026-11-27T23:59:59"})
        case _:
            return {**event(n), "raw": {"n": n, "big": 2**70, "nan": math.nan}}


def as_json_record(events: list[dict[str, Any]]) -> bytes:
    """The JSON form encode() gives small batches (and earlier versions always wrote)."""
    singles = [orjson.loads(encode(1, ACCEPTED, [e])) for e in events]
    return orjson.dumps({**singles[0], "e": [single["e"][0] for single in singles]})


def test_arrow_and_json_records_hold_the_same_rows() -> None:
    events = [awkward(n) for n in range(ARROW_MIN_EVENTS * 2)]
    arrow = encode(1, ACCEPTED, events)
    assert bytes(arrow).startswith(ARROW_MARK)
    from_arrow, from_json = decode(arrow), decode(as_json_record(events))
    assert from_arrow.schema.equals(lake_schema())
    rows = from_arrow.to_pylist()

    def number(row: dict[str, Any]) -> int:
        return int(json.loads(row["raw"])["n"])

    # Alike but for huge integers in raw: exact numbers in Arrow, text in the JSON form
    assert [r for r in rows if number(r) % 6 not in (3, 5)] == [
        r for r in from_json.to_pylist() if number(r) % 6 not in (3, 5)
    ]
    assert rows[1]["destination.port"] == 8080 and rows[1]["source.port"] is None
    assert orjson.loads(rows[1]["raw"])[LEFTOVER_KEY] == {"source.port": "not a port"}
    assert rows[2]["@timestamp"].isoformat() == "2026-11-28T12:00:00+00:00"  # accepted at
    assert json.loads(rows[3]["raw"])[LEFTOVER_KEY] == {"process.pid": 2**70, "tags": ["a"]}
    assert json.loads(rows[5]["raw"]) == {"n": 5, "big": 2**70, "nan": None}


def test_records_of_earlier_versions_still_decode() -> None:
    old = {"o": 4, "t": ACCEPTED, "e": [event(1), event(2)]}  # raw as a dict, no "j"
    table = decode(orjson.dumps(old))
    assert [orjson.loads(r)["n"] for r in table.column("raw").to_pylist()] == [1, 2]
    assert table.column("organisation").to_pylist() == [4, 4]


def test_a_batch_spooled_before_a_column_existed_gets_it_as_nulls() -> None:
    table = decode(encode(1, ACCEPTED, [event(n) for n in range(ARROW_MIN_EVENTS)]))
    older = table.drop_columns(["log.source.address", "rule.name"])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, older.schema) as stream:
        stream.write_table(older)
    conformed = decode(ARROW_MARK + sink.getvalue().to_pybytes())
    assert conformed.schema.equals(lake_schema())
    assert conformed.column("rule.name").null_count == ARROW_MIN_EVENTS
    assert conformed.column("raw").to_pylist() == table.column("raw").to_pylist()


def test_a_record_leaves_out_the_columns_without_a_value() -> None:
    events = [event(n) for n in range(ARROW_MIN_EVENTS)]
    events[0]["rule.name"] = "one value"
    record = encode(1, ACCEPTED, events)
    with pa.ipc.open_stream(memoryview(record)[len(ARROW_MARK) :]) as reader:
        spooled = reader.schema.names
    assert "rule.name" in spooled and "winlog.channel" not in spooled
    table = decode(record)
    assert table.schema.equals(lake_schema())
    assert table.column("winlog.channel").null_count == ARROW_MIN_EVENTS
    assert table.column("rule.name").to_pylist()[:2] == ["one value", None]


@pytest.mark.parametrize("payload", [b"{}", b"[1]", b"garbage", ARROW_MARK + b"garbage"])
def test_a_record_that_is_no_batch_is_refused(payload: bytes) -> None:
    with pytest.raises(BadRecord):
        decode(payload)


def test_large_batches_reach_every_partition_once_and_in_time_order(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    lake.start(background=False)
    days = ["2026-11-26", "2026-11-28", "2026-11-27"]
    for org in (2, 1):
        batch = [
            event(
                org * 1000 + n, days[n % 3], **{"@timestamp": f"{days[n % 3]}T{n % 24:02d}:00:00Z"}
            )
            for n in range(300)
        ]
        lake.accept(org, batch)
    lake.flush()
    counts = Counter(orjson.loads(r)["n"] for r in read_lake(tmp_path).column("raw").to_pylist())
    assert counts == Counter(org * 1000 + n for org in (1, 2) for n in range(300))
    parts = sorted(tmp_path.glob("organisation=*/day=*/*.parquet"))
    assert len(parts) == 6
    for path in parts:
        table = pq.read_table(path)
        stamps = table.column("@timestamp").to_pylist()
        assert stamps == sorted(stamps)
        org = int(path.parent.parent.name.split("=")[1])
        assert set(table.column("organisation").to_pylist()) == {org}
        assert {s.date().isoformat() for s in stamps} == {path.parent.name.split("=")[1]}
    lake.close()


EVE_LINES = [
    b'{"timestamp":"2026-11-28T10:00:00.000000+0000","event_type":"dns","src_ip":"10.0.0.1",'
    b'"dest_ip":"10.0.0.53","dns":{"rrname":"a.example","rrtype":"A"}}',
    b'{"event_type":"flow","src_ip":"10.0.0.2","dest_port":443,"proto":"TCP"}',  # no time
    b'{"timestamp":"2026-11-27T23:59:59.000000Z","event_type":"http","host":"sensor-2",'
    b'"http":{"hostname":"b.example","url":"/x"}}',
    b"not json",
    b'{"timestamp": "2026-11-28T10:00:01.5+01:00", "event_type": "tls", "tls": {"sni": "c"}}',
    b"",
    b'{"event_type":"alert","alert":{"signature_id":7,"signature":"S \\u00e9"}}',
]


@pytest.mark.parametrize("observer", [None, "sensor.kz"])
@pytest.mark.parametrize("end", [b"\n", b""])
def test_a_body_record_decodes_to_the_rows_the_request_had(
    observer: str | None, end: bytes
) -> None:
    body = b"\n".join(EVE_LINES) + end
    ingested = "2026-11-28T12:34:56.123456Z"
    items = list(parse_eve_columns(io.BytesIO(body), "request body", whole=body, ingested=ingested))
    table = pa.concat_tables(
        [observed(item, observer).table for item in items if isinstance(item, EventBatch)]
    )
    assert table.num_rows == 5  # the line that is no JSON is a problem; the blank one no event
    head, kept = body_record(3, ACCEPTED, ingested, observer, body)
    assert kept is body  # spooled as it came
    decoded = decode(head + kept)
    assert decoded.equals(with_organisation(table, 3, ACCEPTED))
    assert decoded.column("organisation").to_pylist() == [3] * 5
    assert decoded.column("observer.name").to_pylist()[2] == "sensor-2"


def test_a_body_record_s_rows_come_from_memory_when_its_request_left_them_there() -> None:
    body = b"\n".join(EVE_LINES)
    ingested = "2026-11-28T12:34:56.123456Z"
    left = DecodedRows(max_bytes=1 << 20)
    key = left.new_key()
    head, kept = body_record(3, ACCEPTED, ingested, "sensor.kz", body, key=key)
    again = decode(head + kept)  # no rows in memory: decoded from the record
    assert left.keep(key, again)
    assert decode(head + kept, decoded=left) is again  # taken, not decoded
    assert left.stats().taken == 1
    # taken once; after that (or for another process's key) the record is decoded again
    assert decode(head + kept, decoded=left).equals(again)
    other = DecodedRows(max_bytes=1 << 20)
    assert decode(head + kept, decoded=other).equals(again)


@pytest.mark.parametrize(
    "head",
    [b"EVB1", b"EVB1\x05\x00\x00\x00{bad}", b"EVB1\x02\x00\x00\x00{}", b"EVB1\xff\x00\x00\x00"],
)
def test_a_body_record_with_an_unreadable_header_is_refused(head: bytes) -> None:
    with pytest.raises(BadRecord):
        decode(head + b'{"event_type":"dns"}\n')
