"""Reading telemetry inputs into records: gzip by its magic bytes, JSON in its three shapes.

Sensors write JSON three ways, and :func:`json_records` reads all of them, giving each
record the line it starts on (or its position in an array) for error messages:

- JSON lines (Zeek, Suricata's ``eve.json``, most shippers): one object per line;
- one JSON array (exports, the Suricata samples);
- pretty-printed objects one after another (the Sigma regression events).

    >>> import io
    >>> list(json_records(io.BytesIO(b'{"a": 1}\\n\\n{"a": 2}\\n'), "x.json"))
    [(1, {'a': 1}), (3, {'a': 2})]
    >>> [str(r) if isinstance(r, ParseProblem) else r
    ...  for r in json_records(io.BytesIO(b'{"a": 1}\\n{"a": \\n'), "x.json")]
    [(1, {'a': 1}), 'x.json:2: not valid JSON: unexpected end of data']

A bad record is reported and reading goes on; a corrupt gzip stream ends the input with
one problem (nothing after the damage can be trusted).
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from steppe.ingest.telemetry.model import ParseProblem

__all__ = [
    "GZIP_MAGIC",
    "JsonRecord",
    "is_lines",
    "json_records",
    "lines",
    "open_input",
    "peek",
]

GZIP_MAGIC = b"\x1f\x8b"
#: A record and the 1-based line (JSON lines, concatenated objects) or position (array).
JsonRecord = tuple[int, dict[str, Any]]
# What a damaged gzip stream raises while it is read (BadGzipFile is an OSError).
_STREAM_ERRORS = (OSError, EOFError, zlib.error)


def open_input(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip (by content, not by name)."""
    raw = path.open("rb")
    if raw.read(2) == GZIP_MAGIC:
        raw.close()
        # gzip.open closes the file it opens, unlike GzipFile(fileobj=...).
        return gzip.open(path, "rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw


def peek(stream: IO[bytes], size: int = 65536) -> tuple[bytes, IO[bytes]]:
    """The first ``size`` bytes and a stream that still starts at the beginning."""
    head = stream.read(size)
    return head, io.BufferedReader(_Chained(head, stream))


class _Chained(io.RawIOBase):
    """``head`` then the rest of ``stream``: lets detection look without seeking."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        chunk = self._stream.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self._stream.close()
        super().close()


def lines(stream: IO[bytes], source: str) -> Iterator[tuple[int, bytes] | ParseProblem]:
    """Numbered lines (with their newline), ending with a problem if the stream breaks."""
    number = 0
    try:
        for number, line in enumerate(stream, 1):
            yield number, line
    except _STREAM_ERRORS as exc:
        yield ParseProblem(source, number + 1, f"unreadable input (corrupt or truncated): {exc}")


def _not_object(source: str, number: int, value: Any) -> ParseProblem:
    return ParseProblem(source, number, f"expected a JSON object, found {type(value).__name__}")


def json_records(stream: IO[bytes], source: str) -> Iterator[JsonRecord | ParseProblem]:
    """Every JSON object in the input, whichever of the three shapes it comes in."""
    try:
        head, stream = peek(stream, 4096)
    except _STREAM_ERRORS as exc:
        yield ParseProblem(source, 1, f"unreadable input (corrupt or truncated): {exc}")
        return
    start = head.lstrip()[:1]
    if start == b"[":
        yield from _array(stream, source)
        return
    if not is_lines(head):
        yield from _concatenated(stream, source)
        return
    for item in lines(stream, source):
        if isinstance(item, ParseProblem):
            yield item
            return
        number, line = item
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if line.strip():
                yield ParseProblem(source, number, f"not valid JSON: {exc.msg}")
            continue
        if type(value) is dict:
            yield number, value
        else:
            yield _not_object(source, number, value)


def is_lines(head: bytes) -> bool:
    """Whether input starting with ``head`` is JSON lines (or one line), rather than a
    JSON array or objects that span several lines (pretty-printed, concatenated)."""
    text = head.lstrip()
    if text[:1] == b"[":
        return False
    first_line = text.split(b"\n", 1)[0]
    return not (text[:1] == b"{" and len(first_line) < len(text) and not _complete(first_line))


def _complete(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _read_all(stream: IO[bytes], source: str) -> bytes | ParseProblem:
    try:
        return stream.read()
    except _STREAM_ERRORS as exc:
        return ParseProblem(source, None, f"unreadable input (corrupt or truncated): {exc}")


def _array(stream: IO[bytes], source: str) -> Iterator[JsonRecord | ParseProblem]:
    data = _read_all(stream, source)
    if isinstance(data, ParseProblem):
        yield data
        return
    try:
        values = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield ParseProblem(source, exc.lineno, f"not valid JSON: {exc.msg}")
        return
    if not isinstance(values, list):
        yield _not_object(source, 1, values)
        return
    for number, value in enumerate(values, 1):
        yield (number, value) if type(value) is dict else _not_object(source, number, value)


def _concatenated(stream: IO[bytes], source: str) -> Iterator[JsonRecord | ParseProblem]:
    # Pretty-printed objects back to back are rare and small (exports, test events):
    # the standard library's raw_decode, which reports where each object ends, is
    # fast enough here; orjson has no such call.
    data = _read_all(stream, source)
    if isinstance(data, ParseProblem):
        yield data
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield ParseProblem(source, data.count(b"\n", 0, exc.start) + 1, "not UTF-8 text")
        return
    decoder = json.JSONDecoder()
    position, line, end = 0, 1, len(text)
    while True:
        skipped = position
        while position < end and text[position] in " \t\r\n":
            position += 1
        line += text.count("\n", skipped, position)
        if position >= end:
            return
        try:
            value, stop = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            yield ParseProblem(source, line, f"not valid JSON: {exc.msg}")
            # Go on at the next object that starts a line (nested ones are indented);
            # from where the broken one began, as the error may be found far past it.
            resume = text.find("\n{", position + 1)
            if resume < 0:
                return
            line += text.count("\n", position, resume + 1)
            position = resume + 1
            continue
        yield (line, value) if type(value) is dict else _not_object(source, line, value)
        line += text.count("\n", position, stop)
        position = stop
