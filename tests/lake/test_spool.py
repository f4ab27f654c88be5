"""The write-ahead spool: records come back whole, a torn tail is ignored, appends are
durable and bounded."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from steppe.errors import Overloaded
from steppe.lake.spool import Spool, SpoolBroken, TornTail, read_segment, segment_files

BIG = 1 << 30


def test_records_come_back_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", segment_bytes=BIG)
    payloads = [f"record {i}".encode() * (i + 1) for i in range(20)]
    for payload in payloads:
        spool.append(payload, max_backlog=BIG)
    (segment,) = spool.seal()
    assert list(read_segment(segment.path)) == payloads
    assert segment.records == 20


@pytest.mark.parametrize(
    ("cut", "reason"),
    [
        (lambda data: data[:-1], "partial record"),  # payload cut short
        (lambda data: data + b"STW", "partial record header"),  # header cut short
        (lambda data: data + b"XXXX" + bytes(20), "bad record marker"),  # garbage tail
    ],
)
def test_a_torn_tail_is_ignored_and_what_precedes_it_kept(
    tmp_path: Path, cut: object, reason: str
) -> None:
    spool = Spool(tmp_path / "s", segment_bytes=BIG)
    for i in range(5):
        spool.append(f"r{i}".encode(), max_backlog=BIG)
    (segment,) = spool.seal()
    data = segment.path.read_bytes()
    segment.path.write_bytes(cut(data))  # type: ignore[operator]
    torn = TornTail()
    records = list(read_segment(segment.path, torn))
    expected = [f"r{i}".encode() for i in range(4 if reason == "partial record" else 5)]
    assert records == expected
    assert torn.reason == reason


def test_a_bad_checksum_ends_the_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", segment_bytes=BIG)
    for i in range(3):
        spool.append(f"r{i}".encode(), max_backlog=BIG)
    (segment,) = spool.seal()
    data = bytearray(segment.path.read_bytes())
    data[-1] ^= 0xFF  # last payload byte flipped
    segment.path.write_bytes(bytes(data))
    torn = TornTail()
    assert list(read_segment(segment.path, torn)) == [b"r0", b"r1"]
    assert torn.reason == "checksum mismatch"


def test_segments_rotate_by_size(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", segment_bytes=100)
    for _ in range(10):
        spool.append(b"x" * 30, max_backlog=BIG)
    sealed = spool.seal()
    assert len(sealed) == 5  # two 42-byte records (12 of header) per 100-byte segment
    assert sum(seg.records for seg in sealed) == 10
    assert [seq for seq, _ in segment_files(tmp_path / "s")] == [s.seq for s in sealed]


def test_backlog_over_the_limit_refuses_and_writes_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", segment_bytes=BIG)
    spool.append(b"x" * 100, max_backlog=200)
    with pytest.raises(Overloaded) as refused:
        spool.append(b"y" * 100, max_backlog=200)
    assert refused.value.retry_after > 0
    (segment,) = spool.seal()
    assert list(read_segment(segment.path)) == [b"x" * 100]
    spool.retire(segment)
    assert spool.pending_bytes == 0
    spool.append(b"y" * 100, max_backlog=200)  # room again


def test_one_batch_larger_than_the_limit_still_enters_an_empty_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", segment_bytes=BIG)
    spool.append(b"z" * 1000, max_backlog=10)
    assert spool.pending_bytes > 10


def test_concurrent_appends_all_land_and_share_fsyncs(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", segment_bytes=4096)
    threads = [
        threading.Thread(
            target=lambda t=t: [
                spool.append(f"{t}:{i}".encode(), max_backlog=BIG) for i in range(50)
            ]
        )
        for t in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = [r for seg in spool.seal() for r in read_segment(seg.path)]
    assert sorted(records) == sorted(f"{t}:{i}".encode() for t in range(8) for i in range(50))
    assert spool.fsyncs <= 400
    for t in range(8):  # each thread's records stay in its order
        mine = [r for r in records if r.startswith(f"{t}:".encode())]
        assert mine == [f"{t}:{i}".encode() for i in range(50)]


def test_a_folder_in_use_by_another_spool_is_refused(tmp_path: Path) -> None:
    first = Spool(tmp_path / "s", segment_bytes=BIG)
    with pytest.raises(SpoolBroken, match="in use"):
        Spool(tmp_path / "s", segment_bytes=BIG)
    first.close()
    Spool(tmp_path / "s", segment_bytes=BIG).close()


def test_a_closed_spool_accepts_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", segment_bytes=BIG)
    spool.close()
    with pytest.raises(SpoolBroken, match="closed"):
        spool.append(b"late", max_backlog=BIG)


def test_records_survive_short_writes_and_views(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel may write part of a writev; the rest follows, nothing doubled."""
    import os

    real_writev = os.writev

    def stingy(fd: int, buffers: list[memoryview]) -> int:
        return real_writev(fd, [buffers[0][:5]])  # at most 5 bytes a call

    monkeypatch.setattr(os, "writev", stingy)
    spool = Spool(tmp_path / "s", segment_bytes=BIG)
    payloads = [b"first record", memoryview(b"-a view of a buffer-")[1:-1], b""]
    for payload in payloads:
        spool.append(payload, max_backlog=BIG)
    (segment,) = spool.seal()
    assert list(read_segment(segment.path)) == [bytes(p) for p in payloads]


def test_a_record_in_parts_reads_back_as_one_payload(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", segment_bytes=BIG)
    spool.append(b"head|", memoryview(b"body"), b"", b"|tail", max_backlog=BIG)
    spool.append(b"whole", max_backlog=BIG)
    (segment,) = spool.seal()
    assert list(read_segment(segment.path)) == [b"head|body|tail", b"whole"]
    assert segment.size == 2 * 12 + len(b"head|body|tail") + len(b"whole")
