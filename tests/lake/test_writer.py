"""The Parquet files the writer makes: dictionaries and statistics where they pay."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from lake.lakedata import event
from steppe.lake.batches import encode
from steppe.lake.spool import Spool
from steppe.lake.writer import write_segment


def test_nearly_unique_columns_get_no_dictionary_and_time_keeps_its_min_max(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "spool" / "p1", segment_bytes=1 << 20)
    events = [event(n, **{"source.port": 1024 + n}) for n in range(100)]
    spool.append(encode(7, "2026-11-28T10:00:00.000000Z", events), max_backlog=1 << 20)
    result = write_segment(spool.seal()[0], tmp_path)
    (path,) = result.files
    group = pq.ParquetFile(path).metadata.row_group(0)
    chunks = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    for name in ("raw", "source.port"):
        assert not chunks[name].has_dictionary_page, name
        assert not chunks[name].is_stats_set, name
    assert chunks["event.dataset"].has_dictionary_page
    assert chunks["@timestamp"].is_stats_set and not chunks["@timestamp"].has_dictionary_page
    stats = chunks["@timestamp"].statistics
    assert stats.min == stats.max  # every event of the fixture is at 10:00
