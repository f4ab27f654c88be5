"""Compaction merges a day's files into one: never an event twice, never one lost, even
when interrupted or raced by a writer."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from lake.lakedata import event, read_lake
from steppe.lake import EventLake
from steppe.lake.compaction import (
    _finish,
    _merge,
    compact_partition,
    compaction_lock,
    finish_interrupted,
)
from steppe.lake.partitions import list_partitions, parquet_files
from steppe.lake.writer import write_segment

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
OLD_DAY, RECENT_DAY = "2026-11-20", "2026-11-27"


def numbers(root: Path) -> Counter[int]:
    return Counter(orjson.loads(raw)["n"] for raw in read_lake(root).column("raw").to_pylist())


def fill(root: Path, day: str, batches: int, org: int = 1) -> None:
    lake = EventLake(root)
    lake.start(background=False)
    for b in range(batches):
        lake.accept(org, [event(b * 10 + i, day) for i in range(10)])
        lake.flush()  # one file per batch
    lake.close()


def files(root: Path, day: str, org: int = 1) -> list[str]:
    (partition,) = [p for p in list_partitions(root, [org]) if p.day.isoformat() == day]
    return [p.name for p in parquet_files(partition)]


def test_old_days_are_merged_into_one_file_and_recent_ones_left(tmp_path: Path) -> None:
    fill(tmp_path, OLD_DAY, 5)
    fill(tmp_path, RECENT_DAY, 3)
    before = numbers(tmp_path)
    done = EventLake(tmp_path).compact(NOW, min_age_days=2)
    assert [(p.day.isoformat(), n) for p, n in done] == [(OLD_DAY, 5)]
    assert len(files(tmp_path, OLD_DAY)) == 1 and len(files(tmp_path, RECENT_DAY)) == 3
    assert numbers(tmp_path) == before
    assert EventLake(tmp_path).compact(NOW) == []  # nothing left to merge
    fill(tmp_path, OLD_DAY, 1)  # a late event for an old day
    fill(tmp_path, OLD_DAY, 1)
    assert [n for _, n in EventLake(tmp_path).compact(NOW)] == [3]  # compact file + 2
    assert len(files(tmp_path, OLD_DAY)) == 1
    assert sum(numbers(tmp_path).values()) == sum(before.values()) + 20
    leftovers = [p for p in tmp_path.glob("organisation=*/.*")]
    assert not leftovers  # no half-done compaction folders


def codecs(path: Path) -> dict[str, str]:
    meta = pq.ParquetFile(path).metadata.row_group(0)
    return {
        meta.column(i).path_in_schema: meta.column(i).compression for i in range(meta.num_columns)
    }


def test_the_writer_s_lz4_raw_is_rewritten_in_zstd_by_compaction(tmp_path: Path) -> None:
    fill(tmp_path, OLD_DAY, 2)
    (partition,) = list_partitions(tmp_path, [1])
    written = codecs(parquet_files(partition)[0])
    assert written["raw"] == "LZ4" and written["event.kind"] == "ZSTD"
    EventLake(tmp_path).compact(NOW)
    (partition,) = list_partitions(tmp_path, [1])
    (compacted,) = parquet_files(partition)
    assert set(codecs(compacted).values()) == {"ZSTD"}


def test_a_segment_replayed_after_compaction_is_not_written_again(tmp_path: Path) -> None:
    lake = EventLake(tmp_path, flush_seconds=3600)
    lake.start(background=False)
    spool = lake._spool
    assert spool is not None
    lake.accept(1, [event(n, OLD_DAY) for n in range(3)])
    (first,) = spool.seal()
    lake.accept(1, [event(n, OLD_DAY) for n in range(3, 6)])
    sealed = spool.seal()
    for segment in sealed:  # written, then the process dies before retiring them
        write_segment(segment, tmp_path)
    spool.close()
    lake._spool = None
    assert first in sealed
    EventLake(tmp_path).compact(NOW)
    assert len(files(tmp_path, OLD_DAY)) == 1
    replay = EventLake(tmp_path)
    assert replay.start(background=False).events == 6  # read again…
    replay.close()
    assert numbers(tmp_path) == Counter(range(6))  # …but not written twice
    assert len(files(tmp_path, OLD_DAY)) == 1


def _interrupted_after_rename(root: Path, late: bool) -> tuple[Path, Path, Path]:
    """Steps 1-2 of a compaction done, then a crash; optionally a late file landed."""
    (partition,) = list_partitions(root)
    inputs = [partition.path / name for name in files(root, OLD_DAY)]
    new = partition.path.with_name(f".compact-{partition.path.name}-1-aa")
    new.mkdir()
    _merge(inputs, new / "compact-1-aa.parquet", [p.stem for p in inputs])
    old = partition.path.with_name(f".old-{partition.path.name}-1-aa")
    if late:
        table = pq.read_table(inputs[0])
        late_rows = table.set_column(
            table.schema.get_field_index("raw"), "raw", pa.array(['{"n": 999}'] * table.num_rows)
        )
        pq.write_table(late_rows, partition.path / "late-segment.parquet")
    partition.path.rename(old)
    return partition.path, new, old


def test_a_compaction_interrupted_after_the_rename_is_finished(tmp_path: Path) -> None:
    fill(tmp_path, OLD_DAY, 3)
    before = numbers(tmp_path)
    _, new, old = _interrupted_after_rename(tmp_path, late=True)
    assert read_lake(tmp_path).num_rows == 0  # the day is hidden, never doubled
    finish_interrupted(tmp_path)
    assert not new.exists() and not old.exists()
    assert sorted(files(tmp_path, OLD_DAY)) == ["compact-1-aa.parquet", "late-segment.parquet"]
    assert numbers(tmp_path) == before + Counter({999: 10})


def test_a_compaction_interrupted_before_the_rename_is_discarded(tmp_path: Path) -> None:
    fill(tmp_path, OLD_DAY, 3)
    before = numbers(tmp_path)
    (partition,) = list_partitions(tmp_path)
    inputs = [partition.path / n for n in files(tmp_path, OLD_DAY)]
    new = partition.path.with_name(f".compact-{partition.path.name}-2-bb")
    new.mkdir()
    _merge(inputs, new / "compact-2-bb.parquet", [p.stem for p in inputs])
    finish_interrupted(tmp_path)
    assert not new.exists()
    assert len(files(tmp_path, OLD_DAY)) == 3 and numbers(tmp_path) == before


def test_a_writer_that_recreated_the_day_meanwhile_is_joined(tmp_path: Path) -> None:
    fill(tmp_path, OLD_DAY, 3)
    before = numbers(tmp_path)
    day, new, old = _interrupted_after_rename(tmp_path, late=False)
    merged = {p.name for p in old.glob("*.parquet")}
    day.mkdir()  # a writer makes the day folder again, with a new file
    some = pq.read_table(next(old.glob("*.parquet")))
    pq.write_table(
        some.set_column(
            some.schema.get_field_index("raw"), "raw", pa.array(['{"n": 777}'] * some.num_rows)
        ),
        day / "writer-segment.parquet",
    )
    _finish(old, new, day, merged)
    assert sorted(files(tmp_path, OLD_DAY)) == ["compact-1-aa.parquet", "writer-segment.parquet"]
    assert numbers(tmp_path) == before + Counter({777: 10})


def test_a_compaction_under_way_is_left_alone(tmp_path: Path) -> None:
    fill(tmp_path, OLD_DAY, 3)
    before = numbers(tmp_path)
    _, new, old = _interrupted_after_rename(tmp_path, late=False)
    with compaction_lock(tmp_path) as mine:  # as the compacting process holds it
        assert mine
        other = EventLake(tmp_path)
        other.start(background=False)  # does not touch the folders of the compaction
        assert new.exists() and old.exists()
        assert other.compact(NOW) == []
        other.close()
    finish_interrupted(tmp_path)
    assert numbers(tmp_path) == before


def test_files_of_an_older_schema_are_merged_with_nulls(tmp_path: Path) -> None:
    fill(tmp_path, OLD_DAY, 1)
    folder = tmp_path / "organisation=1" / f"day={OLD_DAY}"
    old = pa.table(
        {
            "@timestamp": pa.array([0], pa.timestamp("us", tz="UTC")),
            "raw": ['{"n": 500}'],
            "organisation": pa.array([1], pa.int64()),
        }
    )
    pq.write_table(old, folder / "older.parquet")
    (partition,) = list_partitions(tmp_path)
    assert compact_partition(partition) == 2
    assert numbers(tmp_path) == Counter([*range(10), 500])


def test_compacting_while_a_writer_keeps_writing_that_day(tmp_path: Path) -> None:
    fill(tmp_path, OLD_DAY, 3)
    lake = EventLake(tmp_path, flush_seconds=0.005)
    lake.start()
    stop = threading.Event()

    def send() -> None:
        n = 1000
        while not stop.is_set():
            lake.accept(1, [event(n + i, OLD_DAY) for i in range(5)])
            n += 5
            time.sleep(0.002)
        sent.append(n)

    sent: list[int] = []
    writer = threading.Thread(target=send)
    writer.start()
    try:
        for _ in range(8):
            EventLake(tmp_path).compact(NOW)
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()
        lake.close()
    expected = Counter(range(30)) + Counter(range(1000, sent[0]))
    assert numbers(tmp_path) == expected
    assert lake.stats().quarantined_segments == 0
