"""EventLake: accepted events reach Parquet exactly once, through crashes and overload."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from lake.lakedata import event, read_lake
from steppe.errors import Overloaded, SteppeError
from steppe.ingest.telemetry.model import EventSink
from steppe.lake import EventLake
from steppe.lake.spool import Segment, segment_files
from steppe.lake.table import TIMESTAMP, lake_schema
from steppe.lake.writer import write_segment
from steppe.settings import Settings


def numbers(root: Path) -> Counter[int]:
    """How many times each event number is in the lake."""
    return Counter(orjson.loads(raw)["n"] for raw in read_lake(root).column("raw").to_pylist())


def test_accepted_events_land_in_partitions_with_typed_columns(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    lake.start(background=False)
    lake.accept(7, [event(1, "2026-11-27"), event(2, "2026-11-28")])
    lake.accept(9, [event(3, "2026-11-28", **{"destination.port": "not a port"})])
    lake.flush()
    folders = sorted(
        p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("organisation=*/day=*")
    )
    assert folders == [
        "organisation=7/day=2026-11-27",
        "organisation=7/day=2026-11-28",
        "organisation=9/day=2026-11-28",
    ]
    table = read_lake(tmp_path)
    assert table.schema == lake_schema()
    assert table.schema.field("@timestamp").type == TIMESTAMP
    rows = {orjson.loads(r["raw"])["n"]: r for r in table.to_pylist()}
    assert rows[1]["organisation"] == 7 and rows[3]["organisation"] == 9
    assert rows[2]["destination.port"] == 443
    assert rows[3]["destination.port"] is None  # bad value nulled, batch kept
    stats = lake.stats()
    assert (stats.accepted_events, stats.written_events, stats.backlog_bytes) == (3, 3, 0)
    lake.close()


def test_the_background_flusher_writes_without_being_asked(tmp_path: Path) -> None:
    lake = EventLake(tmp_path, flush_seconds=0.05)
    lake.start()
    lake.accept(1, [event(i) for i in range(10)])
    deadline = time.monotonic() + 30
    while lake.stats().written_events < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert numbers(tmp_path) == Counter(range(10))
    lake.close()


def test_close_writes_everything_and_leaves_no_spool(tmp_path: Path) -> None:
    lake = EventLake(tmp_path, flush_seconds=3600)
    lake.start()
    for batch in range(5):
        lake.accept(1, [event(batch * 100 + i) for i in range(100)])
    lake.close()
    assert numbers(tmp_path) == Counter(range(500))
    assert list((tmp_path / "spool").iterdir()) == []


CHILD = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from steppe.lake import EventLake

    root, per_thread = Path(sys.argv[1]), int(sys.argv[2])
    lake = EventLake(root, flush_seconds=3600, segment_bytes=64 * 1024)
    lake.start(background=False)  # nothing is written to Parquet before the kill

    def send(t):
        for b in range(0, per_thread, 50):
            lake.accept(1 + t % 2, [
                {"@timestamp": "2026-11-28T10:00:00.000000Z", "raw": {"n": t * per_thread + i}}
                for i in range(b, min(b + 50, per_thread))
            ])

    threads = [threading.Thread(target=send, args=(t,)) for t in range(4)]
    for th in threads: th.start()
    for th in threads: th.join()
    print("accepted", flush=True)
    time.sleep(600)
    """
)


def test_events_accepted_before_kill_9_are_recovered_exactly_once(tmp_path: Path) -> None:
    per_thread = 500
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(per_thread)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "accepted"
        assert read_lake(tmp_path).num_rows == 0  # the child never flushed
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    lake = EventLake(tmp_path)
    report = lake.start(background=False)
    assert report.events == 4 * per_thread
    assert report.folders == 1 and report.segments > 1  # rotated by size
    assert numbers(tmp_path) == Counter(range(4 * per_thread))
    lake.close()
    again = EventLake(tmp_path)
    assert again.start(background=False).events == 0  # nothing left to replay
    again.close()
    assert numbers(tmp_path) == Counter(range(4 * per_thread))


STREAMING_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from steppe.lake import EventLake

    lake = EventLake(Path(sys.argv[1]), flush_seconds=0.01, segment_bytes=16 * 1024)
    lake.start()  # the flusher runs too: the kill lands wherever it lands
    batch = 0
    while True:
        lake.accept(1, [{"@timestamp": "2026-11-28T10:00:00Z", "raw": {"n": batch * 10 + i}}
                        for i in range(10)])
        print(batch, flush=True)  # acknowledged
        batch += 1
    """
)


def test_kill_9_mid_stream_loses_no_acknowledged_batch_and_duplicates_none(
    tmp_path: Path,
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", STREAMING_CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    try:
        for _ in range(200):
            child.stdout.readline()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    acked = [int(line) for line in child.stdout.read().split()]  # what it said before dying
    child.stdout.close()
    last = max(acked, default=199)

    lake = EventLake(tmp_path)
    lake.start(background=False)
    lake.close()
    found = numbers(tmp_path)
    assert max(found.values()) == 1  # nothing twice
    assert set(range((last + 1) * 10)) <= set(found)  # every acknowledged batch
    assert set(found) <= set(range((last + 2) * 10))  # at most the one in flight besides


def _orphan_spool(root: Path, batches: list[list[int]]) -> list[Segment]:
    """A spool folder as a dead process leaves it (sealed, lock released)."""
    lake = EventLake(root, flush_seconds=3600)
    lake.start(background=False)
    spool = lake._spool
    assert spool is not None
    for batch in batches:
        lake.accept(1, [event(n) for n in batch])
    sealed = spool.seal()
    spool.close()  # releases the flock, as process death would
    lake._spool = None
    return sealed


def test_a_torn_tail_is_ignored_and_everything_before_it_kept(tmp_path: Path) -> None:
    (segment,) = _orphan_spool(tmp_path, [[1, 2], [3, 4], [5]])
    data = segment.path.read_bytes()
    segment.path.write_bytes(data[:-7])  # the last batch was cut by the crash
    lake = EventLake(tmp_path)
    report = lake.start(background=False)
    assert report.events == 4
    assert len(report.torn) == 1 and "partial record" in report.torn[0]
    assert numbers(tmp_path) == Counter([1, 2, 3, 4])
    lake.close()


def test_a_crash_after_parquet_but_before_retirement_does_not_duplicate(tmp_path: Path) -> None:
    segments = _orphan_spool(tmp_path, [[1, 2, 3], [4]])
    for segment in segments:  # the Parquet files were written, the segment not deleted
        write_segment(segment, tmp_path)
    assert numbers(tmp_path) == Counter([1, 2, 3, 4])
    lake = EventLake(tmp_path)
    assert lake.start(background=False).events == 4  # replayed…
    assert numbers(tmp_path) == Counter([1, 2, 3, 4])  # …over the same files
    lake.close()


def test_a_live_process_spool_is_not_taken_over(tmp_path: Path) -> None:
    first = EventLake(tmp_path, flush_seconds=3600)
    first.start(background=False)
    first.accept(1, [event(1)])
    second = EventLake(tmp_path)
    assert second.start(background=False).events == 0
    assert first._spool is not None and segment_files(first._spool.folder)
    second.close()
    first.close()
    assert numbers(tmp_path) == Counter([1])


def test_backpressure_refuses_whole_batches_until_drained(tmp_path: Path) -> None:
    lake = EventLake(tmp_path, flush_seconds=3600, max_backlog_bytes=4096)
    lake.start(background=False)
    accepted = 0
    with pytest.raises(Overloaded) as refused:
        for n in range(1000):
            lake.accept(1, [event(n)])
            accepted += 1
    assert refused.value.retry_after >= 1
    assert 0 < accepted < 1000
    stats = lake.stats()
    assert stats.rejected_batches == 1 and stats.backlog_bytes <= 4096
    lake.flush()
    assert lake.stats().backlog_bytes == 0
    lake.accept(1, [event(5000)])  # room again
    lake.flush()
    assert numbers(tmp_path) == Counter([*range(accepted), 5000])
    lake.close()


def test_an_empty_batch_is_a_no_op(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    lake.start(background=False)
    lake.accept(1, [])
    lake.close()
    assert read_lake(tmp_path).num_rows == 0


def test_values_json_cannot_carry_do_not_fail_the_batch(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    lake.start(background=False)
    lake.accept(1, [event(1, **{"process.pid": 2**70, "tags": {"a", "b"}})])
    lake.close()
    (row,) = read_lake(tmp_path).to_pylist()
    assert row["process.pid"] is None
    assert isinstance(row["raw"], str)


def test_a_failing_writer_keeps_the_events_and_catches_up(tmp_path: Path) -> None:
    blocker = tmp_path / "organisation=1"
    blocker.write_text("a file where the partition folder should go")
    lake = EventLake(tmp_path, flush_seconds=0.05)
    lake.start()
    lake.accept(1, [event(1), event(2)])
    deadline = time.monotonic() + 30
    while lake.stats().last_error is None and time.monotonic() < deadline:
        time.sleep(0.02)
    stats = lake.stats()
    assert stats.last_error is not None and stats.written_events == 0
    assert stats.backlog_bytes > 0  # still spooled, still counted against the limit
    blocker.unlink()
    lake.flush()
    assert lake.stats().backlog_bytes == 0
    lake.close()
    assert numbers(tmp_path) == Counter([1, 2])


def test_the_lake_is_an_event_sink(tmp_path: Path) -> None:
    sink: EventSink = EventLake(tmp_path)
    assert callable(sink.accept)


def test_accept_before_start_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SteppeError, match="not started"):
        EventLake(tmp_path).accept(1, [event(1)])


def test_a_segment_the_writer_chokes_on_is_quarantined_not_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import steppe.lake.lake as lake_module

    real = lake_module.write_segment
    calls = {"n": 0}

    def choke_once(segment: Segment, root: Path, **options: Any) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in the writer")
        return real(segment, root, **options)

    monkeypatch.setattr(lake_module, "write_segment", choke_once)
    lake = EventLake(tmp_path)
    lake.start(background=False)
    lake.accept(1, [event(1)])
    lake.flush()  # the first segment is set aside…
    error = lake.stats().last_error
    assert error is not None and "a bug in the writer" in error
    lake.accept(1, [event(2)])
    lake.flush()  # …and the next one is written
    stats = lake.stats()
    assert stats.quarantined_segments == 1 and stats.backlog_bytes == 0
    lake.close()
    assert numbers(tmp_path) == Counter([2])
    (kept,) = (tmp_path / "quarantine").iterdir()
    assert kept.suffix == ".wal" and kept.stat().st_size > 0


def test_values_json_cannot_carry_in_raw_are_kept_as_text(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    lake.start(background=False)
    lake.accept(1, [event(1, raw={"n": 1, "big": 2**70, "tags": {"x"}, "nan": float("nan")},
                         extra_field="leftover")])  # fmt: skip
    lake.close()
    (row,) = read_lake(tmp_path).to_pylist()
    raw = orjson.loads(row["raw"])
    assert raw["big"] == str(2**70) and raw["tags"] == ["x"] and raw["nan"] is None
    assert raw["@steppe.fields"] == {"extra_field": "leftover"}


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own niceness is Linux's")
@pytest.mark.parametrize("nice", [0, 4])
def test_the_flusher_runs_at_the_niceness_it_is_given(tmp_path: Path, nice: int) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    lake = EventLake(tmp_path, flush_seconds=0.05, writer_nice=nice)
    lake.start()
    try:
        flusher = lake._thread
        assert flusher is not None and flusher.native_id is not None
        deadline = time.monotonic() + 5
        while (
            os.getpriority(os.PRIO_PROCESS, flusher.native_id) != min(19, base + nice)
            and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        assert os.getpriority(os.PRIO_PROCESS, flusher.native_id) == min(19, base + nice)
        assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the process's own is unchanged
        lake.accept(3, [event(1)])
        deadline = time.monotonic() + 5
        while lake.stats().written_events < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lake.stats().written_events == 1
    finally:
        lake.close()


def test_the_settings_give_the_flusher_its_niceness(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, lake_writer_nice=7)
    assert EventLake.from_settings(settings).writer_nice == 7
    assert Settings(data_dir=tmp_path).lake_writer_nice == 10
