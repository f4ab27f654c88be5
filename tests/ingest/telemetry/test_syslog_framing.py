"""RFC 6587 framing: both framings, any split of the stream, oversize and bad counts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from steppe.ingest.telemetry.syslog_framing import Framing, StreamFramer

MESSAGES = [b"<13>Oct 11 22:14:15 host app: one", b"<14>1 - h a - - - two", b"<15>three x"]


def octets(messages: list[bytes]) -> bytes:
    return b"".join(b"%d %s" % (len(m), m) for m in messages)


def lines(messages: list[bytes]) -> bytes:
    return b"".join(m + b"\n" for m in messages)


def feed_in_pieces(stream: bytes, cuts: list[int], limit: int = 1024) -> list[tuple[bytes, bool]]:
    framer = StreamFramer(max_message_bytes=limit)
    frames = []
    start = 0
    for cut in [*sorted(set(cuts)), len(stream)]:
        frames += framer.feed(stream[start:cut])
        start = cut
    last, lost = framer.finish()
    assert lost == 0
    return frames + last


@given(st.lists(st.integers(min_value=0, max_value=200), max_size=30))
def test_octet_counting_survives_any_split(cuts: list[int]) -> None:
    frames = feed_in_pieces(octets(MESSAGES), cuts)
    assert frames == [(m, False) for m in MESSAGES]


@given(st.lists(st.integers(min_value=0, max_value=200), max_size=30))
def test_newline_framing_survives_any_split(cuts: list[int]) -> None:
    frames = feed_in_pieces(lines(MESSAGES), cuts)
    assert frames == [(m, False) for m in MESSAGES]


def test_framing_is_detected_from_the_first_byte() -> None:
    counted = StreamFramer(max_message_bytes=100)
    counted.feed(b"\n3 abc")
    assert counted.framing is Framing.OCTET_COUNTING
    plain = StreamFramer(max_message_bytes=100)
    plain.feed(b"<13>x")
    assert plain.framing is Framing.NON_TRANSPARENT


def test_last_line_without_newline_is_kept_at_end_of_stream() -> None:
    framer = StreamFramer(max_message_bytes=100)
    assert framer.feed(b"<13>a\r\n<13>b") == [(b"<13>a\r", False)]
    assert framer.finish() == ([(b"<13>b", False)], 0)


def test_cut_off_counted_frame_is_reported_lost() -> None:
    framer = StreamFramer(max_message_bytes=100)
    assert framer.feed(b"10 <13>ab") == []
    assert framer.finish() == ([], 1)


def test_oversize_counted_frame_is_truncated_and_the_rest_skipped() -> None:
    big = b"<13>" + b"x" * 50
    framer = StreamFramer(max_message_bytes=10)
    frames = framer.feed(octets([big, b"<13>ok"])[:30])
    frames += framer.feed(octets([big, b"<13>ok"])[30:])
    assert frames == [(big[:10], True), (b"<13>ok", False)]


def test_oversize_line_is_truncated_even_before_its_newline() -> None:
    framer = StreamFramer(max_message_bytes=10)
    assert framer.feed(b"<13>" + b"y" * 20) == [(b"<13>yyyyyy", True)]
    assert framer.feed(b"y" * 100) == []  # still the same line: skipped
    assert framer.feed(b"yy\n<13>next\n") == [(b"<13>next", False)]
    assert framer.buffered == 0


def test_bad_octet_count_stops_the_stream() -> None:
    framer = StreamFramer(max_message_bytes=100)
    assert framer.feed(b"3 abcxyz <13>hello\n") == [(b"abc", False)]
    assert framer.error is not None and "octet count" in framer.error
    assert framer.feed(b"3 def") == []


def test_count_longer_than_ten_digits_is_not_a_count() -> None:
    framer = StreamFramer(max_message_bytes=100)
    assert framer.feed(b"12345678901") == []
    assert framer.error is not None


@given(st.lists(st.binary(max_size=40), max_size=10), st.integers(min_value=1, max_value=64))
def test_arbitrary_bytes_never_raise_and_frames_respect_the_limit(
    chunks: list[bytes], limit: int
) -> None:
    framer = StreamFramer(max_message_bytes=limit)
    frames = []
    for chunk in chunks:
        frames += framer.feed(chunk)
        # What waits is at most one message and its octet count: memory stays bounded.
        assert framer.buffered <= limit + 11
    frames += framer.finish()[0]
    assert all(len(data) <= limit for data, _ in frames)
