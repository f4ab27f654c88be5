"""The entry points: which format an input is, and reading files, folders and bodies.

Formats (the CLI's ``--format``): ``evtx`` (Windows ``.evtx``), ``winjson`` (evtx-crate
JSON), ``zeek`` (TSV or JSON lines, told apart by content), ``eve`` (Suricata),
``jsonl`` (generic JSON, ECS passed through or mapped), and ``auto``. Gzip is read
transparently wherever it appears.

    >>> detect_format(b'{"timestamp": "2026-01-01T00:00:00Z", "event_type": "dns"}\\n')
    'eve'
    >>> detect_format(b"#separator \\\\x09\\n#fields\\tts\\n")
    'zeek'
    >>> detect_format(b"hello") is None
    True

Every event out of :func:`read_path` and :func:`parse_bytes` has ``@timestamp``,
``event.dataset`` and ``event.ingested`` (the time of this read; ``@timestamp`` falls
back to it when the record has no time of its own).
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import orjson

from steppe.errors import InputError
from steppe.ingest.telemetry.eve_columns import EventBatch, parse_eve_columns
from steppe.ingest.telemetry.mapping import FieldMapping, parse_jsonl
from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem
from steppe.ingest.telemetry.records import GZIP_MAGIC, is_lines, open_input, peek
from steppe.ingest.telemetry.suricata import parse_eve
from steppe.ingest.telemetry.windows import parse_evtx, parse_winjson
from steppe.ingest.telemetry.zeek import parse_zeek_json, parse_zeek_tsv
from steppe.storage.timestamps import now

__all__ = [
    "FORMATS",
    "Item",
    "detect_format",
    "eve_lines_body",
    "parse_bytes",
    "parse_bytes_batched",
    "parse_stream",
    "parse_stream_batched",
    "read_path",
    "read_path_batched",
]

#: What the parsers yield: an event or a problem with one record.
Item = NormalisedEvent | ParseProblem
#: What the batched readers yield: also whole batches of events in the lake's columns.
BatchedItem = Item | EventBatch
FORMATS = ("auto", "evtx", "winjson", "zeek", "eve", "jsonl")
_EVTX_MAGIC = b"ElfFile\x00"
_HEAD = 65536
_Parser = Callable[[IO[bytes], str], Iterator[Item]]


def _check(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}", field="format")
    return fmt


def _inflate_head(head: bytes) -> bytes | None:
    try:
        return zlib.decompressobj(wbits=31).decompress(head, _HEAD)
    except zlib.error:
        return None


def detect_format(head: bytes) -> str | None:
    """The format of an input from its first bytes (gzip or not); None if not telemetry."""
    if head[:2] == GZIP_MAGIC:
        inflated = _inflate_head(head)
        return None if inflated is None else detect_format(inflated)
    if head.startswith(_EVTX_MAGIC):
        return "evtx"
    text = head.lstrip()
    if text.startswith(b"#separator") or text.startswith(b"#fields"):
        return "zeek"
    if text[:1] not in (b"{", b"["):
        return None
    first = text.lstrip(b"[ \t\r\n").split(b"\n", 1)[0].rstrip(b", \t\r")
    try:
        record = orjson.loads(first)
    except orjson.JSONDecodeError:
        record = None
    if isinstance(record, dict):
        if isinstance(record.get("Event"), dict) and "System" in record["Event"]:
            return "winjson"
        if "event_type" in record:
            return "eve"
        if "_path" in record or ("ts" in record and ("uid" in record or "id.orig_h" in record)):
            return "zeek"
        return "jsonl"
    # A pretty-printed first record: look for the tell-tale keys in the text.
    if b'"Event"' in text and b'"System"' in text:
        return "winjson"
    if b'"event_type"' in text:
        return "eve"
    if b'"_path"' in text or b'"id.orig_h"' in text:
        return "zeek"
    return "jsonl"


def _zeek(stream: IO[bytes], source: str) -> Iterator[Item]:
    head, stream = peek(stream, 4096)
    if head.lstrip()[:1] == b"#":
        return parse_zeek_tsv(stream, source)
    return parse_zeek_json(stream, source)


def _parser(fmt: str, mapping: FieldMapping | None) -> _Parser:
    if fmt == "jsonl" and mapping is not None:
        return lambda stream, source: parse_jsonl(stream, source, mapping)
    return {
        "evtx": parse_evtx,
        "winjson": parse_winjson,
        "zeek": _zeek,
        "eve": parse_eve,
        "jsonl": parse_jsonl,
    }[fmt]


def _stamped(items: Iterator[BatchedItem]) -> Iterator[BatchedItem]:
    ingested = now()
    for item in items:
        if not isinstance(item, ParseProblem | EventBatch):  # a batch is stamped already
            item["event.ingested"] = ingested
            if "@timestamp" not in item:
                item["@timestamp"] = ingested
        yield item


def parse_stream(
    stream: IO[bytes], fmt: str, source: str, mapping: FieldMapping | None = None
) -> Iterator[Item]:
    """Events and problems from a byte stream (gzip or not) in format ``fmt``.

    ``auto`` detects the format from the first bytes; input that is no format we read
    gives one problem. ``mapping`` applies to ``jsonl`` (and to ``auto`` when the input
    turns out to be generic JSON).
    """
    _check(fmt)
    return _stamped(_parse_stream(stream, fmt, source, mapping, False))  # type: ignore[return-value]


def parse_stream_batched(
    stream: IO[bytes], fmt: str, source: str, mapping: FieldMapping | None = None
) -> Iterator[BatchedItem]:
    """:func:`parse_stream`, but Suricata EVE JSON lines come as :class:`EventBatch` es
    (:mod:`steppe.ingest.telemetry.eve_columns`: the same rows, a few times cheaper)."""
    _check(fmt)
    return _stamped(_parse_stream(stream, fmt, source, mapping, True))


def _parse_stream(
    stream: IO[bytes],
    fmt: str,
    source: str,
    mapping: FieldMapping | None,
    batched: bool,
    whole: bytes | None = None,
    *,
    blocks: bool = False,
) -> Iterator[BatchedItem]:
    """``whole``: all of ``stream``'s bytes, when they are in memory (not gzip);
    ``blocks``: ``stream`` is an uncompressed file (EVE lines are then read in blocks)."""
    try:
        head, stream = peek(stream, _HEAD)
    except (OSError, EOFError, zlib.error) as exc:
        yield ParseProblem(source, 1, f"unreadable input (corrupt or truncated): {exc}")
        return
    if head[:2] == GZIP_MAGIC:
        yield from _parse_stream(_gunzip(stream), fmt, source, mapping, batched)
        return
    if fmt == "auto":
        if not head.strip():
            return  # an empty input is no events, not an error
        detected = detect_format(head)
        if detected is None:
            yield ParseProblem(
                source, None, f"not a telemetry format Steppe reads ({', '.join(FORMATS[1:])})"
            )
            return
        fmt = detected
    if fmt == "evtx":
        # The evtx reader wants the whole file; only files and bodies get here.
        yield from parse_evtx(io.BytesIO(stream.read()), source)
        return
    if fmt == "eve" and batched:
        yield from parse_eve_columns(stream, source, whole=whole, blocks=blocks)
        return
    yield from _parser(fmt, mapping)(stream, source)


def _gunzip(stream: IO[bytes]) -> IO[bytes]:
    return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]


def parse_bytes(
    data: bytes, fmt: str, source: str, mapping: FieldMapping | None = None
) -> Iterator[Item]:
    """An HTTP body (JSON lines or a JSON array; gzip allowed) in format ``fmt``.

    >>> [e["dns.question.name"] for e in parse_bytes(
    ...     b'{"ts": 1.5, "uid": "C1", "_path": "dns", "query": "A.example"}', "zeek", "body")]
    ['a.example']
    """
    return parse_stream(io.BytesIO(data), fmt, source, mapping)


def parse_bytes_batched(
    data: bytes, fmt: str, source: str, mapping: FieldMapping | None = None
) -> Iterator[BatchedItem]:
    """:func:`parse_bytes` with EVE JSON lines as :class:`EventBatch` es (cut into lines
    by the compiled decoder, the body being in memory already)."""
    _check(fmt)
    stream = io.BytesIO(data)
    return _stamped(_parse_stream(stream, fmt, source, mapping, True, data))


def eve_lines_body(data: bytes, fmt: str) -> bool:
    """Whether :func:`parse_bytes_batched` reads ``data`` as EVE JSON lines, column-wise:
    then its items are :class:`EventBatch` es and problems only, and a sink may keep the
    body as it came (:func:`steppe.lake.batches.body_record`)."""
    _check(fmt)
    head = data[:_HEAD]
    if head[:2] == GZIP_MAGIC or not head.strip():
        return False
    if fmt == "auto":
        fmt = detect_format(head) or ""
    return fmt == "eve" and is_lines(data[:4096])  # as parse_eve_columns decides


def read_path(
    path: Path, fmt: str = "auto", mapping: FieldMapping | None = None
) -> Iterator[tuple[str, Item]]:
    """Every event and problem of a file, or of every file under a folder (sorted).

    Yields ``(source, item)`` where source names the file. In a folder with ``auto``,
    files that are no telemetry format (a README) each give one problem and are skipped.
    """
    _check(fmt)  # here, not in the generator: a bad format fails at the call
    return _read_path(path, fmt, mapping, False)  # type: ignore[return-value]


def read_path_batched(
    path: Path, fmt: str = "auto", mapping: FieldMapping | None = None
) -> Iterator[tuple[str, BatchedItem]]:
    """:func:`read_path` with EVE JSON lines as :class:`EventBatch` es."""
    _check(fmt)
    return _read_path(path, fmt, mapping, True)


def _read_path(
    path: Path, fmt: str, mapping: FieldMapping | None, batched: bool
) -> Iterator[tuple[str, BatchedItem]]:
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and not child.name.startswith("."):
                yield from _read_file(child, fmt, mapping, batched)
    else:
        yield from _read_file(path, fmt, mapping, batched)


def _read_file(
    path: Path, fmt: str, mapping: FieldMapping | None, batched: bool
) -> Iterator[tuple[str, BatchedItem]]:
    source = str(path)
    try:
        stream = open_input(path)
    except OSError as exc:
        yield source, ParseProblem(source, None, f"cannot open: {exc.strerror or exc}")
        return
    with stream:
        if fmt in ("evtx", "auto") and _is_evtx(path):
            # The evtx reader maps the file itself rather than reading through Python.
            for item in _stamped(parse_evtx(path, source)):
                yield source, item
            return
        plain = not isinstance(stream, gzip.GzipFile)
        items = _parse_stream(stream, fmt, source, mapping, batched, blocks=plain)
        for item in _stamped(items):
            yield source, item


def _is_evtx(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(_EVTX_MAGIC)) == _EVTX_MAGIC
