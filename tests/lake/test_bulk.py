"""BulkLoad: a file's rows straight into Parquet, durable and visible at each commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake.lakedata import event, read_lake
from steppe.lake import EventLake
from steppe.lake.bulk import BulkLoad
from steppe.lake.partitions import list_partitions, parquet_files
from steppe.lake.table import events_table

ACCEPTED = "2026-11-28T12:00:00.000000Z"


def rows(numbers: range, organisation: int = 7, day: str = "2026-11-28") -> pa.Table:
    """Lake rows numbered ``numbers`` (in ``raw``), a second apart, in time order."""
    return events_table(
        [
            (
                organisation,
                ACCEPTED,
                event(
                    n,
                    day,
                    **{
                        "@timestamp": f"{day}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"
                    },
                ),
            )
            for n in numbers
        ]
    )


def numbers(root: Path) -> Counter[int]:
    """How many times each event number is in the lake's visible files."""
    return Counter(orjson.loads(raw)["n"] for raw in read_lake(root).column("raw").to_pylist())


def hidden(root: Path) -> list[Path]:
    """Files not (yet) in the lake: staged by bulk loads, or hidden in a day folder."""
    return sorted([*root.glob(".bulk/*/*"), *root.glob("organisation=*/day=*/.tmp-*")])


def test_every_row_lands_once_spread_over_the_writers_each_file_in_time_order(
    tmp_path: Path,
) -> None:
    with BulkLoad(tmp_path, "p1-bulk0001", writers=2, chunk_rows=100) as load:
        for start in range(0, 1_000, 50):
            load.add(rows(range(start, start + 50)))
            load.add(rows(range(10_000 + start, 10_000 + start + 50), organisation=9))
    assert numbers(tmp_path) == Counter([*range(1_000), *range(10_000, 11_000)])
    assert load.result.events == 2_000
    files = [path for partition in list_partitions(tmp_path) for path in parquet_files(partition)]
    assert len(files) == 4  # two organisations, a file per writer each
    for path in files:
        stamps = pq.read_table(path, columns=["@timestamp"]).column(0).to_pylist()
        assert stamps == sorted(stamps)
        assert pq.ParquetFile(path).metadata.row_group(0).num_rows >= 50
    assert hidden(tmp_path) == []


def test_a_commit_makes_rows_visible_and_later_rows_go_to_new_files(tmp_path: Path) -> None:
    committed: list[int] = []
    with BulkLoad(
        tmp_path,
        "p1-bulk0001",
        writers=2,
        chunk_rows=30,
        on_commit=lambda r: committed.append(r.events),
    ) as load:
        load.add(rows(range(100)))
        assert load.pending_rows == 100
        assert numbers(tmp_path) == Counter()  # nothing visible before the commit
        first = load.commit()
        assert first.events == 100 and load.pending_rows == 0
        assert numbers(tmp_path) == Counter(range(100))
        load.add(rows(range(100, 150)))
    assert numbers(tmp_path) == Counter(range(150))
    assert committed == [100, 50]
    names = {path.name for path in tmp_path.glob("organisation=*/day=*/*.parquet")}
    # a file per commit and writer that had rows: the writers take turns per chunk
    assert sorted(names) == ["p1-bulk0001-0000w0.parquet", "p1-bulk0001-0001w1.parquet"]


def test_an_error_discards_what_was_not_committed_and_keeps_what_was(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="reader failed"),
        BulkLoad(tmp_path, "p1-bulk0001", chunk_rows=10) as load,
    ):
        load.add(rows(range(40)))
        load.commit()
        load.add(rows(range(40, 80)))
        raise RuntimeError("reader failed")
    assert numbers(tmp_path) == Counter(range(40))
    assert hidden(tmp_path) == []
    with pytest.raises(RuntimeError, match="closed"):
        load.add(rows(range(1)))


def test_a_compaction_of_the_day_during_the_load_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    with EventLake(tmp_path) as lake, lake.bulk_load(chunk_rows=50) as load:
        load.add(rows(range(50), day="2026-10-01"))  # a backfill: a day long past
        load.add(rows(range(50, 100), day="2026-10-01"))
        load.commit()  # two files in the day, one per writer
        load.add(rows(range(100, 200), day="2026-10-01"))  # written, not committed
        load.add(rows(range(200, 250), day="2026-10-02"))
        while len(hidden(tmp_path)) < 2:
            time.sleep(0.01)  # the writers have their files open
        assert [n for _, n in lake.compact(datetime(2026, 11, 28, tzinfo=UTC))] == [2]
    assert numbers(tmp_path) == Counter(range(250))
    assert hidden(tmp_path) == [] and not list((tmp_path / ".bulk").iterdir())
    days = {p.day.isoformat(): len(parquet_files(p)) for p in list_partitions(tmp_path)}
    assert days == {"2026-10-01": 2, "2026-10-02": 1}  # the compacted file, this commit's


def test_rows_of_another_schema_are_refused_at_once(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="lake's schema"),
        BulkLoad(tmp_path, "p1-bulk0001") as load,
    ):
        load.add(pa.table({"not": ["the lake's schema"]}))
    assert numbers(tmp_path) == Counter() and hidden(tmp_path) == []


def test_a_writer_failing_fails_the_load_and_leaves_no_partial_file(tmp_path: Path) -> None:
    (tmp_path / "organisation=9").write_text("in the way of organisation 9's folder")
    with pytest.raises(OSError), BulkLoad(tmp_path, "p1-bulk0001", chunk_rows=10) as load:
        load.add(rows(range(40)))
        load.add(rows(range(40, 80), organisation=9))
        load.add(rows(range(80, 120)))
    assert numbers(tmp_path) == Counter() and hidden(tmp_path) == []


def test_the_lake_counts_a_bulk_load_as_accepted_and_written(tmp_path: Path) -> None:
    with EventLake(tmp_path) as lake:
        with lake.bulk_load() as load:
            load.add(rows(range(25)))
        stats = lake.stats()
        assert (stats.accepted_events, stats.written_events) == (25, 25)
        assert stats.written_files == len(load.result.files) == 1
        assert stats.backlog_bytes == 0 and stats.fsyncs == 0  # the spool was not used
    assert numbers(tmp_path) == Counter(range(25))


KILLED = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from steppe.lake import EventLake
    from steppe.lake.table import events_table

    def rows(first, count):
        return events_table([(1, "2026-11-28T12:00:00.000000Z",
                              {"@timestamp": "2026-11-28T10:00:00Z", "raw": {"n": n}})
                             for n in range(first, first + count)])

    lake = EventLake(Path(sys.argv[1]))
    lake.start()
    load = lake.bulk_load(chunk_rows=100)
    load.add(rows(0, 300))
    load.commit()
    load.add(rows(300, 300))
    load.add(rows(600, 300))  # handed to the writers, never committed
    print("committed 300", flush=True)
    import time; time.sleep(600)
    """
)


def test_kill_9_keeps_the_committed_files_and_the_next_start_removes_the_rest(
    tmp_path: Path,
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "committed 300"
        deadline = time.monotonic() + 30
        while not hidden(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.01)  # the writers open their files as they take the rows
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert hidden(tmp_path) != []
    assert numbers(tmp_path) == Counter(range(300))
    with EventLake(tmp_path) as lake:
        assert lake.stats().written_events == 0  # nothing to replay: no spool was written
        assert hidden(tmp_path) == []
    assert numbers(tmp_path) == Counter(range(300))
