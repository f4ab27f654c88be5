"""The intake hands EVE batches to the lake as Arrow, and to subscribers and plain sinks
as the events the per-event path gives."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from lake.lakedata import read_lake
from steppe.ingest.telemetry import intake as intake_module
from steppe.ingest.telemetry.formats import parse_bytes, parse_bytes_batched
from steppe.ingest.telemetry.intake import TelemetryIntake
from steppe.ingest.telemetry.memory_sink import MemorySink
from steppe.ingest.telemetry.model import ParseProblem
from steppe.lake import EventLake
from steppe.lake.batches import BODY_MARK, decode, encode_table
from steppe.lake.spool import read_segment
from steppe.lake.table import table_events
from steppe.workers.broker import InProcessBroker, Message

BODY = b"".join(
    orjson.dumps(record) + b"\n"
    for record in [
        {"timestamp": "2026-11-28T10:00:00.000001+0100", "event_type": "dns", "src_ip": "10.0.0.1",
         "src_port": 5353, "proto": "UDP", "dns": {"rrname": "Evil.Example.", "rrtype": "A"}},
        {"timestamp": "2026-11-28T10:00:01.000002Z", "event_type": "http", "host": "sensor-1",
         "dest_port": 8080, "http": {"hostname": "a.example", "url": "/x", "status": 200}},
        {"timestamp": "2026-11-28T10:00:02.5Z", "event_type": "alert", "src_ip": "2001:DB8::1",
         "alert": {"signature_id": 7}},
    ]
) + b'{"broken": \n'  # fmt: skip


def expected() -> list[dict[str, Any]]:
    events = [e for e in parse_bytes(BODY, "eve", "body") if not isinstance(e, ParseProblem)]
    for event in events:
        event.setdefault("observer.name", "sensor.kz")
    return events


def without_ingest_time(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "event.ingested"} for e in events]


def test_a_plain_sink_gets_the_events_of_the_per_event_path() -> None:
    sink = MemorySink()
    report = TelemetryIntake(sink).ingest_body(
        3, parse_bytes_batched(BODY, "eve", "body"), observer="sensor.kz"
    )
    assert (report.events, report.problems, report.first_problems[0].line) == (3, 1, 4)
    assert without_ingest_time(sink.events(3)) == without_ingest_time(expected())


def test_subscribers_get_the_batch_as_the_lake_spools_it(tmp_path: Path) -> None:
    broker = InProcessBroker()
    got: list[Message] = []
    broker.subscribe("telemetry.*", got.append)
    with EventLake(tmp_path / "lake") as lake:
        TelemetryIntake(lake, broker).ingest_body(
            3, parse_bytes_batched(BODY, "eve", "body"), observer="sensor.kz"
        )
        broker.drain()
        assert lake.stats().accepted_events == 3
    broker.close()
    (message,) = got
    assert message.subject == "telemetry.3"
    table = decode(message.data)
    assert table.column("organisation").to_pylist() == [3, 3, 3]
    assert without_ingest_time(table_events(table.drop_columns(["organisation"]))) == (
        without_ingest_time(expected())
    )


@pytest.mark.parametrize("fmt", ["eve", "auto"])
def test_a_body_of_eve_lines_is_spooled_as_it_came_and_handed_to_subscribers_as_rows(
    tmp_path: Path, fmt: str
) -> None:
    broker = InProcessBroker()
    got: list[Message] = []
    broker.subscribe("telemetry.*", got.append)
    with EventLake(tmp_path / "lake") as lake:
        report = TelemetryIntake(lake, broker).ingest_request(3, BODY, fmt, observer="sensor.kz")
        broker.drain()
        assert (report.events, report.problems) == (3, 1)
        (segment,) = lake._require_spool().seal()
        (record,) = read_segment(segment.path)
        assert record.startswith(BODY_MARK) and record.endswith(BODY)
        assert decode(record).equals(got[0].table)  # the writer's rows are the broker's
    broker.close()
    (message,) = got
    assert message.subject == "telemetry.3" and message.data == b""
    assert message.table.column("organisation").to_pylist() == [3, 3, 3]
    assert without_ingest_time(
        table_events(message.table.drop_columns(["organisation"]))
    ) == without_ingest_time(expected())
    lake_rows = read_lake(tmp_path / "lake")
    assert sorted(lake_rows.column("raw").to_pylist()) == sorted(
        message.table.column("raw").to_pylist()
    )


@pytest.mark.parametrize("handoff_bytes", [128 << 20, 0])
def test_the_writer_takes_the_rows_the_request_decoded_and_writes_the_same_lake(
    tmp_path: Path, handoff_bytes: int
) -> None:
    broker = InProcessBroker()
    got: list[Message] = []
    broker.subscribe("telemetry.*", got.append)
    bodies = [BODY, BODY.replace(b"sensor-1", b"sensor-9")]
    lake = EventLake(tmp_path / "lake", handoff_bytes=handoff_bytes)
    lake.start(background=False)
    intake = TelemetryIntake(lake, broker)
    for body in bodies:
        intake.ingest_request(3, body, "eve", observer="sensor.kz")
    broker.drain()
    lake.flush()
    handoff = lake.handoff_stats()
    lake.close()
    broker.close()
    if handoff_bytes:
        assert handoff is not None and (handoff.kept, handoff.taken) == (2, 2)
        assert handoff.held_bytes == 0
    else:
        assert handoff is None
    written = read_lake(tmp_path / "lake")
    sent = pa.concat_tables([message.table for message in got])
    assert written.num_rows == sent.num_rows == 6
    key = ["raw", "@timestamp"]
    assert written.sort_by([(k, "ascending") for k in key]).equals(
        sent.cast(written.schema).sort_by([(k, "ascending") for k in key])
    )


def test_a_body_without_one_event_is_answered_with_its_problems_and_writes_nothing(
    tmp_path: Path,
) -> None:
    broker = InProcessBroker()
    got: list[Message] = []
    broker.subscribe("telemetry.*", got.append)
    body = b'{"event_type": \n{"also": broken\n'
    with EventLake(tmp_path / "lake") as lake:
        report = TelemetryIntake(lake, broker).ingest_request(3, body, "eve")
        broker.drain()
    broker.close()
    assert (report.events, report.problems) == (0, 2)
    assert [p.line for p in report.first_problems] == [1, 2]
    assert got == [] and read_lake(tmp_path / "lake").num_rows == 0


ARRAY = b"[" + b",".join(BODY.splitlines()[:3]) + b"]"


@pytest.mark.parametrize(
    ("body", "fmt", "events"),
    [(BODY, "jsonl", 3), (ARRAY, "eve", 3), (ARRAY, "auto", 3)],
    ids=["generic JSON lines", "an EVE array", "an EVE array detected"],
)
def test_a_body_that_is_not_eve_lines_is_spooled_as_its_rows(
    tmp_path: Path, body: bytes, fmt: str, events: int
) -> None:
    with EventLake(tmp_path / "lake") as lake:
        report = TelemetryIntake(lake).ingest_request(3, body, fmt)
        (segment,) = lake._require_spool().seal()
        (record,) = read_segment(segment.path)
    assert report.events == events
    assert not record.startswith(BODY_MARK)
    assert read_lake(tmp_path / "lake").num_rows == events


class _SpoolingSink(MemorySink):
    """A table sink that says which record it made durable."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[bytes] = []

    def accept_table(self, organisation_id: int, table: Any) -> bytes:
        record = bytes(encode_table(organisation_id, "2026-11-28T00:00:00.000000Z", table))
        self.records.append(record)
        return record


def test_the_broker_gets_the_record_the_sink_spooled_not_a_second_encoding() -> None:
    broker = InProcessBroker()
    got: list[Message] = []
    broker.subscribe("telemetry.*", got.append)
    sink = _SpoolingSink()
    TelemetryIntake(sink, broker).ingest_body(3, parse_bytes_batched(BODY, "eve", "body"))
    broker.drain()
    broker.close()
    assert [m.data for m in got] == sink.records  # the same bytes, time stamp included


class _SlowSink(MemorySink):
    """Takes its time over each batch (as a disk sync does) and remembers the order."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.fail_at = fail_at

    def accept(self, organisation_id: int, events: Any) -> None:
        if len(self.batches) == self.fail_at:
            raise OSError("disk full")
        time.sleep(0.01)
        super().accept(organisation_id, events)
        self.batches.append(len(events))


def file_events(count: int) -> list[dict[str, Any]]:
    return [
        {"@timestamp": f"2026-11-28T10:00:{n % 60:02d}.000000Z", "raw": {"n": n}}
        for n in range(count)
    ]


def test_a_file_is_submitted_batch_after_batch_in_order() -> None:
    sink = _SlowSink()
    progress: list[int] = []
    report = TelemetryIntake(sink, batch_size=4).ingest_items(
        5, file_events(10), progress=progress.append
    )
    assert report.events == 10 and progress == sink.batches == [4, 4, 2]
    assert [e["raw"]["n"] for e in sink.events(5)] == list(range(10))


def test_a_failure_to_submit_a_batch_stops_the_file_with_that_error() -> None:
    sink = _SlowSink(fail_at=1)
    with pytest.raises(OSError, match="disk full"):
        TelemetryIntake(sink, batch_size=4).ingest_items(5, file_events(10))
    assert sink.batches == [4]


class _CheckingBroker:
    """Listens on everything; at each publish, notes which events the lake shows."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: list[tuple[list[int], set[int]]] = []

    def publish(self, subject: str, data: bytes) -> None:
        published = [event["raw"]["n"] for event in orjson.loads(data)]
        visible = {orjson.loads(raw)["n"] for raw in read_lake(self.root).column("raw").to_pylist()}
        self.seen.append((published, visible))

    def subscribe(self, pattern: str, handler: Any) -> Any:
        raise NotImplementedError

    def wants(self, subject: str) -> bool:
        return True

    def close(self) -> None:
        pass


def test_a_file_goes_to_the_lake_in_bulk_and_is_published_only_once_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake_module, "BULK_COMMIT_EVENTS", 6)
    broker = _CheckingBroker(tmp_path)
    progress: list[int] = []
    with EventLake(tmp_path) as lake:
        report = TelemetryIntake(lake, broker, batch_size=4).ingest_items(
            5, [*file_events(10), ParseProblem("f.json", 11, "not JSON")], progress=progress.append
        )
        stats = lake.stats()
    assert report.events == 10 and report.problems == 1 and progress == [4, 4, 2]
    assert stats.fsyncs == 0 and stats.written_events == 10  # no spool: straight to Parquet
    # Two commits: after 8 events (past 6), then the last 2 at the end of the file; each
    # batch published after the commit that made it durable, in order.
    assert [published for published, _ in broker.seen] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    for published, visible in broker.seen:
        assert set(published) <= visible
    assert broker.seen[0][1] == set(range(8))


def test_a_file_of_eve_lines_reaches_lake_and_subscribers_as_the_body_does(tmp_path: Path) -> None:
    broker = InProcessBroker()
    got: list[Message] = []
    broker.subscribe("telemetry.*", got.append)
    with EventLake(tmp_path) as lake:
        report = TelemetryIntake(lake, broker).ingest_items(
            3, parse_bytes_batched(BODY, "eve", "eve.json"), observer="sensor.kz"
        )
        broker.drain()
    broker.close()
    assert (report.events, report.problems, report.first_problems[0].line) == (3, 1, 4)
    (message,) = got
    published = decode(message.data)
    stored = read_lake(tmp_path)
    for table in (published, stored):
        assert table.column("organisation").to_pylist() == [3, 3, 3]
        assert without_ingest_time(table_events(table.drop_columns(["organisation"]))) == (
            without_ingest_time(expected())
        )
