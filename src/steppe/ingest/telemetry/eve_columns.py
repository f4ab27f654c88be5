"""Suricata EVE JSON lines straight to the lake's columns, without a dict per event.

The per-event path (:func:`steppe.ingest.telemetry.suricata.normalise_eve`) costs about
four times ``orjson.loads`` of the line: a dict per record, another per event, and
a dozen Python look-ups and checks. Here a chunk of lines is decoded by ``msgspec``
into small typed structs holding only the fields the lake uses (the rest of the line
is skipped, not built), and the ECS columns are computed column-wise in Arrow.

The rows are the ones the per-event path gives, by construction: a line comes here
only in the shape where both paths provably agree, and every other line goes through
the per-event path (the *fallback*), unchanged:

- compact JSON with no backslash escape, no float, no ``-0`` and no integer past 18
  digits (one regex over the chunk): then ``orjson.dumps(orjson.loads(line))`` is the
  line itself, so ``raw`` is the line's own text, as the per-event path would store it;
- valid UTF-8 (``msgspec`` does not check skipped strings; ``orjson`` refuses);
- every used field of the JSON type the normaliser takes without conversion (strings
  where it wants text, integers where it wants a number: ``msgspec`` decodes strictly);
- addresses in canonical IPv4 form, ports in range, times with six fraction digits and
  a zone, lower-cased fields ASCII, no v3 ``dns.queries`` without ``rrname``.

In front of both, where it is built (``setup.py``), a compiled decoder
(``_evecolumns.c``) reads the lines that hold to the rules above, and a few stricter
ones (ASCII only, each used key once, times with a zone of hours and minutes), straight
into the columns' Arrow buffers: about orjson's cost, against ~4.5 µs an event for
``msgspec`` and Arrow compute. The lines it leaves take the ``msgspec`` path, and the
ones that path leaves the per-event one.

(One difference is left: a line with a key twice keeps both in ``raw`` here; the
per-event path keeps the last. Both give the same columns: ``msgspec`` and ``orjson``
take the last value.) Malformed lines fail the decode or the checks and so reach the
fallback, which reports them with their line numbers exactly as before.

    >>> import io
    >>> lines = (b'{"timestamp":"2026-01-02T03:04:05.123456+0100","event_type":"dns",'
    ...          b'"src_ip":"10.0.0.5","dest_port":53,"proto":"UDP","dns":{"rrname":"A.Example."}}\\n'
    ...          b'{"event_type": "dns", "src_port": true}\\n')
    >>> problem, batch = parse_eve_columns(io.BytesIO(lines), "eve.json")
    >>> table = batch.table
    >>> table.column("dns.question.name").to_pylist(), str(table.column("@timestamp")[0])
    (['a.example'], '2026-01-02 02:04:05.123456+00:00')
    >>> str(problem)
    'eve.json:2: src_port: expected an integer, found True'
"""

from __future__ import annotations

import io
import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

import msgspec
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from steppe.ingest.telemetry import ecs
from steppe.ingest.telemetry.ecs import FieldProblem
from steppe.ingest.telemetry.model import ECS_COLUMNS, NormalisedEvent, ParseProblem
from steppe.ingest.telemetry.records import is_lines, json_records, lines, peek
from steppe.ingest.telemetry.suricata import normalise_eve, normalise_records
from steppe.lake.table import TIMESTAMP, events_table, lake_schema
from steppe.storage.timestamps import now

if TYPE_CHECKING:
    from steppe.ingest.telemetry._evecolumns import Column

#: The compiled decoder's signatures (``_evecolumns.pyi``).
Decode = Callable[[list[bytes], int], tuple[list[int], int, list["Column"], bytes]]
DecodeBlock = Callable[
    [bytes, int, int, int],
    tuple[list[tuple[int, int, int]], int, list["Column"], bytes, int, int],
]
_decode_compiled: Decode | None
_decode_block: DecodeBlock | None
try:  # the compiled decoder (setup.py); without it, the msgspec path reads every line
    from steppe.ingest.telemetry._evecolumns import decode as _decode_compiled
    from steppe.ingest.telemetry._evecolumns import decode_block as _decode_block
except ImportError:  # pragma: no cover - a build without a C compiler
    _decode_compiled = _decode_block = None

__all__ = [
    "CHUNK_LINES",
    "EventBatch",
    "eve_body_table",
    "eve_table",
    "observed",
    "parse_eve_columns",
]

log = logging.getLogger(__name__)

#: Lines converted together (the intake's file batch).
CHUNK_LINES = 5_000


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Events already in the lake's columns (every column but ``organisation``), in the
    order of their lines."""

    table: pa.Table

    def __len__(self) -> int:
        rows: int = self.table.num_rows
        return rows


# gc=False: these structs hold only strings and integers, never a cycle.
class _Alert(msgspec.Struct, gc=False):
    signature_id: int | None = None
    signature: str | None = None
    severity: int | None = None
    action: str | None = None


class _Dns(msgspec.Struct, gc=False):
    rrname: str | None = None
    rrtype: str | None = None
    queries: msgspec.Raw | None = None


class _Http(msgspec.Struct, gc=False):
    hostname: str | None = None
    url: str | None = None
    http_port: int | None = None
    http_method: str | None = None
    http_user_agent: str | None = None
    status: int | None = None


class _Tls(msgspec.Struct, gc=False):
    sni: str | None = None


class _Fileinfo(msgspec.Struct, gc=False):
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    filename: str | None = None


class _Flow(msgspec.Struct, gc=False):
    state: str | None = None


class _Eve(msgspec.Struct, gc=False):
    timestamp: str | None = None
    event_type: str | None = None
    src_ip: str | None = None
    dest_ip: str | None = None
    src_port: int | None = None
    dest_port: int | None = None
    proto: str | None = None
    app_proto: str | None = None
    host: str | None = None
    alert: _Alert | None = None
    dns: _Dns | None = None
    http: _Http | None = None
    tls: _Tls | None = None
    fileinfo: _Fileinfo | None = None
    flow: _Flow | None = None


_decode = msgspec.json.Decoder(_Eve).decode
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError)

# Compact JSON whose re-encoding by orjson is itself: strings without escapes, integers
# of at most 18 digits (orjson reads longer ones as floats) and no -0, no float.
_VERBATIM = r'^(?:"[^"\\]*"|[{}\[\],:]|(?:0|-?[1-9][0-9]{0,17})[,}\]]|true|false|null)*\n$'
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"^{_OCTET}(?:\.{_OCTET}){{3}}$"  # what ecs.ip keeps as it is
_ISO = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}(?:Z|[+-][0-9]{2}:?[0-9]{2})?$"

_SCHEMA = lake_schema()
_MODULE = pa.scalar("suricata", pa.string())
_COLUMNS = [name for name, _ in ECS_COLUMNS] + ["raw"]
_TYPES = {field.name: field.type for field in _SCHEMA}


def parse_eve_columns(
    stream: IO[bytes],
    source: str,
    *,
    whole: bytes | None = None,
    ingested: str | None = None,
    blocks: bool = False,
) -> Iterator[EventBatch | ParseProblem | NormalisedEvent]:
    """EVE JSON lines as :class:`EventBatch` es and problems; a JSON array or
    pretty-printed records (rare: exports, samples) go through the per-event path and
    come out as events, as :func:`~steppe.ingest.telemetry.suricata.parse_eve` gives them.

    ``whole`` is all of ``stream``'s bytes when the caller has them in memory (an HTTP
    body): the compiled decoder then cuts the lines itself (:func:`_body_batches`).
    With ``blocks`` (an uncompressed file) it does the same to blocks of
    :data:`BLOCK_BYTES` read from ``stream``, cut after their last newline
    (:func:`_block_batches`). ``ingested`` is the time stamped as ``event.ingested``
    (default: now).
    """
    ingested = now() if ingested is None else ingested
    try:
        head, stream = peek(stream, 4096)
    except (OSError, EOFError, zlib.error) as exc:
        yield ParseProblem(source, 1, f"unreadable input (corrupt or truncated): {exc}")
        return
    if not is_lines(head):
        yield from _per_event(json_records(stream, source), source, ingested)
        return
    if whole is not None and _decode_block is not None:
        yield from _body_batches(_decode_block, whole, source, ingested)
        return
    if blocks and _decode_block is not None:
        yield from _block_batches(_decode_block, stream, source, ingested)
        return
    yield from _stream_batches(stream, source, ingested)


#: Bytes read at a time from a file whose lines the compiled decoder cuts itself.
BLOCK_BYTES = 8 << 20


def _block_batches(
    decode: DecodeBlock, stream: IO[bytes], source: str, ingested: str
) -> Iterator[EventBatch | ParseProblem]:
    """:func:`_body_batches` of ``stream`` read in blocks, each cut after its last
    newline (the rest goes in front of the next block): the same rows, problems and line
    numbers as line by line. A file's lines read one by one through Python took ~27% of
    the parse's instructions (callgrind: 12,144 against 8,902 an event for a body). A
    read that fails loses the lines of its block, which line by line would have been
    kept: only uncompressed files come here (a failing read is a disk error)."""
    before, rest = 0, b""
    while True:
        try:
            data = stream.read(BLOCK_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            yield ParseProblem(
                source, before + 1, f"unreadable input (corrupt or truncated): {exc}"
            )
            return
        if not data:
            if rest:
                yield from _body_batches(decode, rest, source, ingested, before)
            return
        block = rest + data if rest else data
        cut = block.rfind(b"\n") + 1
        if cut == 0:  # no newline yet: a line longer than a block
            rest = block
            continue
        lines_here, rest = block[:cut], block[cut:]
        yield from _body_batches(decode, lines_here, source, ingested, before)
        before += lines_here.count(b"\n")


def eve_body_table(
    body: bytes,
    ingested: str,
    observer: str | None,
    *,
    source: str = "spool",
    note: Callable[[ParseProblem], None] | None = None,
) -> pa.Table:
    """The rows (no ``organisation``) of a body of EVE JSON lines decoded at ``ingested``
    for ``observer``; its problems go to ``note`` (if given). The request that takes the
    body and the lake's writer that decodes the spooled body again
    (:func:`steppe.lake.batches.body_record`) both read it with this, so they find the
    same rows."""
    tables = []
    events: list[tuple[int, str, NormalisedEvent]] = []
    for item in parse_eve_columns(io.BytesIO(body), source, whole=body, ingested=ingested):
        if isinstance(item, EventBatch):
            tables.append(observed(item, observer).table)
        elif isinstance(item, ParseProblem):
            if note is not None:
                note(item)
        else:  # not lines after all: events one by one
            if observer is not None:
                item.setdefault("observer.name", observer)
            events.append((0, ingested, item))
    if events:
        tables.append(events_table(events).drop_columns(["organisation"]))
    if not tables:
        return events_table([]).drop_columns(["organisation"])
    return pa.concat_tables(tables)


def observed(batch: EventBatch, observer: str | None) -> EventBatch:
    """``observer.name`` set to ``observer`` where the events have none."""
    if observer is None:
        return batch
    table = batch.table
    index = table.schema.get_field_index("observer.name")
    named = pc.coalesce(table.column(index), pa.scalar(observer, pa.string()))
    return EventBatch(table.set_column(index, "observer.name", named))


def _stream_batches(
    stream: IO[bytes], source: str, ingested: str, before: int = 0
) -> Iterator[EventBatch | ParseProblem]:
    """The lines of ``stream`` (numbered after ``before``) in chunks of
    :data:`CHUNK_LINES`, each read by :func:`eve_table`."""
    chunk: list[bytes] = []
    first = 1
    for item in lines(stream, source):
        if isinstance(item, ParseProblem):
            yield from _chunk(chunk, first, source, ingested)
            yield replace(item, line=None if item.line is None else item.line + before)
            return
        number, line = item
        if not chunk:
            first = number + before
        chunk.append(line)
        if len(chunk) >= CHUNK_LINES:
            yield from _chunk(chunk, first, source, ingested)
            chunk = []
    yield from _chunk(chunk, first, source, ingested)


def _per_event(
    records: Iterator[tuple[int, dict[str, Any]] | ParseProblem], source: str, ingested: str
) -> Iterator[NormalisedEvent | ParseProblem]:
    for event in normalise_records(records, source):
        if isinstance(event, ParseProblem):
            yield event
            continue
        event["event.ingested"] = ingested
        if "@timestamp" not in event:
            event["@timestamp"] = ingested
        yield event


def _chunk(
    chunk: list[bytes], first: int, source: str, ingested: str
) -> Iterator[EventBatch | ParseProblem]:
    if not chunk:
        return
    table, problems = eve_table(chunk, first, source, ingested)
    yield from problems
    if table.num_rows:
        yield EventBatch(table)


def eve_table(
    chunk: list[bytes], first: int, source: str, ingested: str
) -> tuple[pa.Table, list[ParseProblem]]:
    """The lake rows (no ``organisation``) of ``chunk``'s lines, numbered from ``first``,
    and the problems of the lines that are not events."""
    if chunk[-1][-1:] != b"\n":  # the input's last line: every line ends alike
        chunk = [*chunk[:-1], chunk[-1] + b"\n"]
    if _decode_compiled is not None:
        try:
            table, rejected = _compiled_table(_decode_compiled, chunk, ingested)
        except Exception:  # past 2 GiB of a column, or a bug: the Python path reads it
            log.exception("columnar EVE: chunk of %s read without the compiled decoder", source)
        else:
            rest = [chunk[index] for index in rejected]
            return _with_rejected(table, rejected, rest, len(chunk), first, source, ingested)
    table, _, problems = _python_table(chunk, range(first, first + len(chunk)), source, ingested)
    return table, problems


def _with_rejected(
    table: pa.Table,
    rejected: list[int],
    rest: list[bytes],
    count: int,
    first: int,
    source: str,
    ingested: str,
) -> tuple[pa.Table, list[ParseProblem]]:
    """``table`` (the compiled decoder's rows of ``count`` lines numbered from
    ``first``) with the rows of the lines it left (``rest``, at indices ``rejected``)
    read by the Python path, in line order, and their problems."""
    if not rejected:
        return table, []
    numbers = [first + index for index in rejected]
    others, rows, problems = _python_table(rest, numbers, source, ingested)
    if not rows:
        return table, problems
    kept = sorted(set(range(count)).difference(rejected))
    positions = kept + [rejected[row] for row in rows]
    merged = pa.concat_tables([table, others])
    return merged.take(pc.sort_indices(pa.array(positions, pa.int64()))), problems


def _body_batches(
    decode: DecodeBlock, data: bytes, source: str, ingested: str, before: int = 0
) -> Iterator[EventBatch | ParseProblem]:
    """The lines of ``data`` (numbered after ``before``) in chunks of :data:`CHUNK_LINES`,
    as :func:`eve_table` reads a chunk, but cut at their newlines by the compiled decoder without the GIL
    and without a ``bytes`` object a line: only the lines it does not take are copied
    out, for the Python path. Measured on 5,000-line bodies (``bench/telemetry_ingest.py``'s
    mix): the per-line Python of reading them from a stream held the GIL about as long
    as the request's event loop did."""
    at = pa.scalar(ingested, pa.string()).cast(TIMESTAMP)
    offset, first = 0, before + 1
    while offset < len(data):
        try:
            rejected, n, built, stamps, count, following = decode(
                data, offset, CHUNK_LINES, at.value
            )
        except Exception:  # past 2 GiB of a column, or a bug: the Python path reads it
            log.exception("columnar EVE: a body of %s read without the compiled decoder", source)
            yield from _stream_batches(io.BytesIO(data[offset:]), source, ingested, first - 1)
            return
        table = _arrow_table(n, built, stamps, at)
        indices = [index for index, _, _ in rejected]
        rest = [data[start:end] + b"\n" for _, start, end in rejected]
        table, problems = _with_rejected(table, indices, rest, count, first, source, ingested)
        yield from problems
        if table.num_rows:
            yield EventBatch(table)
        offset, first = following, first + count


def _compiled_table(
    decode: Decode,
    chunk: list[bytes],
    ingested: str,
) -> tuple[pa.Table, list[int]]:
    """The rows of the lines ``decode`` (the compiled decoder) takes, and the indices of
    the others."""
    at = pa.scalar(ingested, pa.string()).cast(TIMESTAMP)
    rejected, n, built, stamps = decode(chunk, at.value)
    return _arrow_table(n, built, stamps, at), rejected


def _arrow_table(n: int, built: list[Column], stamps: bytes, at: pa.Scalar) -> pa.Table:
    """The compiled decoder's buffers of ``n`` rows as a table of the lake's columns."""
    columns: dict[str, pa.Array] = {}
    for name, valid, offsets, nulls, data in built:
        kind = _TYPES[name]
        validity = None if valid is None else pa.py_buffer(valid)
        if offsets is None:
            buffers = [validity, pa.py_buffer(data)]
        else:
            buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
        columns[name] = pa.Array.from_buffers(kind, n, buffers, null_count=nulls)
    columns["@timestamp"] = pa.Array.from_buffers(TIMESTAMP, n, [None, pa.py_buffer(stamps)])
    columns["event.ingested"] = pa.repeat(at, n)
    columns["event.module"] = pa.repeat(_MODULE, n)
    arrays = [columns[name] if name in columns else pa.nulls(n, _TYPES[name]) for name in _COLUMNS]
    return pa.Table.from_arrays(arrays, names=_COLUMNS)


def _python_table(
    chunk: list[bytes], numbers: Sequence[int], source: str, ingested: str
) -> tuple[pa.Table, list[int], list[ParseProblem]]:
    """The rows of ``chunk``'s lines (numbered ``numbers``) by ``msgspec``, or the
    per-event path where that cannot say; with the indices of the lines that gave them."""
    lines_array = pa.array(chunk, pa.binary())
    verbatim = pc.match_substring_regex(lines_array, _VERBATIM)
    fast: list[int]
    structs: list[_Eve] = []
    if pc.all(verbatim).as_py() and all(map(bytes.isascii, chunk)):
        # The usual chunk: decoded in one go, line by line only if some line fails.
        try:
            structs = list(map(_decode, chunk))
            fast = list(range(len(chunk)))
        except _DECODE_ERRORS:
            structs = []
    if not structs:
        fast = []
        for index, (line, plain) in enumerate(zip(chunk, verbatim.to_pylist(), strict=True)):
            if not plain:
                continue
            if not line.isascii():
                try:
                    line.decode()
                except UnicodeDecodeError:
                    continue
            try:
                structs.append(_decode(line))
            except _DECODE_ERRORS:
                continue
            fast.append(index)
        lines_array = lines_array.take(pa.array(fast, pa.int64()))
    raw = pc.binary_slice(lines_array, 0, -1)  # less the newline
    try:
        table, rejected = _columns(structs, raw, ingested)
    except Exception:  # a bug here must not refuse telemetry: the per-event path reads it
        log.exception("columnar EVE: chunk of %s read the per-event way", source)
        table, rejected = _table({}, 0, raw.slice(0, 0)), set(range(len(fast)))
    if rejected:
        kept = [index for position, index in enumerate(fast) if position not in rejected]
    else:
        kept = fast
    if len(kept) == len(chunk):
        return table, kept, []
    problems: list[ParseProblem] = []
    events: list[NormalisedEvent] = []
    positions: list[int] = []
    is_fast = set(kept)
    for index, line in enumerate(chunk):
        if index in is_fast:
            continue
        item = _one(numbers[index], line, source, ingested)
        if isinstance(item, ParseProblem):
            problems.append(item)
        elif item is not None:
            events.append(item)
            positions.append(index)
    if not events:
        return table, kept, problems
    rows = events_table([(0, ingested, event) for event in events]).drop_columns(["organisation"])
    merged = pa.concat_tables([table, rows])
    order = kept + positions
    return merged.take(pc.sort_indices(pa.array(order, pa.int64()))), sorted(order), problems


def _one(
    number: int, line: bytes, source: str, ingested: str
) -> NormalisedEvent | ParseProblem | None:
    """One line the per-event way, exactly as ``json_records`` and ``parse_eve`` read it."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return ParseProblem(source, number, f"not valid JSON: {exc.msg}") if line.strip() else None
    if type(record) is not dict:
        return ParseProblem(
            source, number, f"expected a JSON object, found {type(record).__name__}"
        )
    try:
        event = normalise_eve(record)
    except FieldProblem as exc:
        return ParseProblem(source, number, exc.message, exc.field)
    event["event.ingested"] = ingested
    if "@timestamp" not in event:
        event["@timestamp"] = ingested
    return event


def _strings(values: list[Any]) -> pa.Array:
    return pa.array(values, pa.string())


def _ints(values: list[Any]) -> pa.Array:
    return pa.array(values, pa.int64())


def _where(applies: pa.Array, values: pa.Array) -> pa.Array:
    """``values`` on the rows the field applies to, null elsewhere."""
    return pc.if_else(applies, values, pa.scalar(None, values.type))


def _domain(values: pa.Array) -> pa.Array:
    return pc.utf8_rtrim(pc.ascii_lower(values), characters=".")


def _bad_text(values: pa.Array) -> pa.Array:
    """Set and not ASCII: Arrow's lower-casing and Python's may differ there."""
    return pc.and_kleene(pc.is_valid(values), pc.invert(pc.string_is_ascii(values)))


def _columns(structs: list[_Eve], raw: pa.Array, ingested: str) -> tuple[pa.Table, set[int]]:
    """The rows of ``structs`` (``raw``: their lines) and the positions of the structs
    that must take the per-event path instead (values only it can check or convert)."""
    n = len(structs)
    columns: dict[str, pa.Array] = {}
    if not n:
        return _table(columns, 0, raw), set()
    kind = _strings([s.event_type for s in structs])
    kind = pc.if_else(pc.fill_null(pc.equal(kind, ""), True), "unknown", kind)
    is_alert = pc.equal(kind, "alert")
    columns["event.module"] = pa.repeat("suricata", n).cast(pa.string())
    columns["event.dataset"] = pc.binary_join_element_wise("suricata.eve.", kind, "")
    columns["event.kind"] = pc.if_else(is_alert, "alert", "event")
    bad = pa.repeat(False, n)

    def flag(condition: pa.Array) -> None:
        nonlocal bad
        bad = pc.or_(bad, pc.fill_null(condition, False))

    stamp = _strings([s.timestamp for s in structs])
    shaped = pc.match_substring_regex(stamp, _ISO)
    flag(pc.invert(shaped))  # another shape: the per-event path reads it
    columns["@timestamp"], unreadable = _times(
        pc.if_else(shaped, stamp, pa.scalar(None, pa.string())), ingested
    )
    flag(unreadable)
    columns["event.ingested"] = pa.repeat(ingested, n).cast(pa.string()).cast(TIMESTAMP)

    for name, values in (
        ("source.ip", [s.src_ip for s in structs]),
        ("destination.ip", [s.dest_ip for s in structs]),
    ):
        address = _strings(values)
        address = pc.if_else(pc.equal(address, ""), pa.scalar(None, pa.string()), address)
        flag(pc.invert(pc.match_substring_regex(address, _IPV4)))
        columns[name] = address
    for name, numbers in (
        ("source.port", [s.src_port for s in structs]),
        ("destination.port", [s.dest_port for s in structs]),
    ):
        port = _ints(numbers)
        flag(pc.or_(pc.less(port, 0), pc.greater(port, 65535)))
        columns[name] = port
    for name, values in (
        ("network.transport", [s.proto for s in structs]),
        ("network.protocol", [s.app_proto for s in structs]),
    ):
        text = _strings(values)
        flag(_bad_text(text))
        columns[name] = pc.ascii_lower(text)
    columns["observer.name"] = _strings([s.host for s in structs])

    action: pa.Array | None = None
    alerts = [s.alert for s in structs]
    if any(a is not None for a in alerts):
        alert = [a if a is not None else _NO_ALERT for a in alerts]
        sid = _where(is_alert, _ints([a.signature_id for a in alert]))
        columns["rule.id"] = pc.cast(sid, pa.string())
        columns["rule.name"] = _where(is_alert, _strings([a.signature for a in alert]))
        columns["event.severity"] = _where(is_alert, _ints([a.severity for a in alert]))
        action = _where(is_alert, _strings([a.action for a in alert]))
    flows = [s.flow for s in structs]
    if any(f is not None for f in flows):
        state = _where(
            pc.equal(kind, "flow"), _strings([f.state if f is not None else None for f in flows])
        )
        action = state if action is None else pc.coalesce(action, state)
    if action is not None:
        columns["event.action"] = action

    dns_list = [s.dns for s in structs]
    if any(d is not None for d in dns_list):
        applies = pc.or_(pc.equal(kind, "dns"), is_alert)
        dns = [d if d is not None else _NO_DNS for d in dns_list]
        name = _where(applies, _strings([d.rrname for d in dns]))
        queries = pa.array([d.queries is not None for d in dns], pa.bool_())
        flag(pc.and_(applies, pc.and_(pc.is_null(name), queries)))
        flag(_bad_text(name))
        columns["dns.question.name"] = _domain(name)
        columns["dns.question.type"] = _where(applies, _strings([d.rrtype for d in dns]))

    http_list = [s.http for s in structs]
    if any(h is not None for h in http_list):
        _http_columns(columns, flag, http_list, pc.or_(pc.equal(kind, "http"), is_alert))

    tls_list = [s.tls for s in structs]
    if any(t is not None for t in tls_list):
        applies = pc.or_(pc.equal(kind, "tls"), is_alert)
        sni = _where(applies, _strings([t.sni if t is not None else None for t in tls_list]))
        flag(_bad_text(sni))
        columns["tls.server.sni"] = columns["destination.domain"] = _domain(sni)

    files = [s.fileinfo for s in structs]
    if any(f is not None for f in files):
        applies = pc.or_(pc.equal(kind, "fileinfo"), is_alert)
        info = [f if f is not None else _NO_FILE for f in files]
        for field, target in (
            ("md5", "file.hash.md5"),
            ("sha1", "file.hash.sha1"),
            ("sha256", "file.hash.sha256"),
        ):
            digest = _where(applies, _strings([getattr(f, field) for f in info]))
            flag(_bad_text(digest))
            columns[target] = pc.ascii_lower(digest)
        path = _where(applies, _strings([f.filename for f in info]))
        columns["file.path"] = path
        columns["file.name"] = pc.replace_substring_regex(path, "(?s)^.*/", "")

    table = _table(columns, n, raw)
    if not pc.any(bad).as_py():
        return table, set()
    rejected = set(pc.indices_nonzero(bad).to_pylist())
    return table.filter(pc.invert(bad)), rejected


_NO_ALERT = _Alert()
_NO_DNS = _Dns()
_NO_HTTP = _Http()
_NO_FILE = _Fileinfo()


def _http_columns(
    columns: dict[str, pa.Array], flag: Any, bodies: list[_Http | None], applies: pa.Array
) -> None:
    http = [h if h is not None else _NO_HTTP for h in bodies]
    host = _where(applies, _strings([h.hostname for h in http]))
    flag(_bad_text(host))
    domain = columns["url.domain"] = _domain(host)
    url = _where(applies, _strings([h.url for h in http]))
    # As the per-event path: ``http_port or destination.port``, no port shown for 80.
    given = _ints([h.http_port for h in http])
    port = pc.if_else(
        pc.fill_null(pc.not_equal(given, 0), False), given, columns["destination.port"]
    )
    plain = pc.or_kleene(pc.is_null(port), pc.equal(port, 80))
    where = pc.if_else(
        plain, domain, pc.binary_join_element_wise(domain, pc.cast(port, pa.string()), ":")
    )
    built = pc.binary_join_element_wise("http://", where, url, "")
    columns["url.full"] = pc.if_else(pc.match_substring(url, "://"), url, built)
    columns["http.request.method"] = _where(applies, _strings([h.http_method for h in http]))
    columns["user_agent.original"] = _where(applies, _strings([h.http_user_agent for h in http]))
    columns["http.response.status_code"] = _where(applies, _ints([h.status for h in http]))


def _times(stamp: pa.Array, ingested: str) -> tuple[pa.Array, pa.Array]:
    """``@timestamp`` from EVE's times, and which rows the per-event path must read.

    Converted a second at a time, as :func:`steppe.ingest.telemetry.ecs.iso` does (and
    through it, so both agree): the time less its fraction is the key, a few thousand
    distinct ones at most per chunk.
    """
    key = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(stamp, 0, 19), pc.utf8_slice_codeunits(stamp, 26), ""
    )
    keys = pc.unique(key)
    seconds: list[int | None] = []
    for value in keys.to_pylist():
        second = None
        if value is not None:
            try:
                utc = ecs.iso(f"{value[:19]}.000000{value[19:]}", "timestamp")
                moment = datetime.fromisoformat(utc[:19]).replace(tzinfo=UTC)
                second = (moment - _EPOCH) // _SECOND
            except (FieldProblem, ValueError, OverflowError):
                second = None
        seconds.append(second)
    # Microseconds since the epoch, added up rather than written out as text and parsed
    # back (that was half of this function's work).
    second_column = pc.take(pa.array(seconds, pa.int64()), pc.index_in(key, keys))
    fraction = pc.cast(pc.utf8_slice_codeunits(stamp, 20, 26), pa.int64())
    micros = pc.add(pc.multiply(second_column, 1_000_000), fraction)
    unreadable = pc.and_kleene(pc.is_valid(stamp), pc.is_null(micros))
    fallback = pa.scalar(ingested, pa.string()).cast(TIMESTAMP)
    return pc.coalesce(micros.cast(TIMESTAMP), fallback), unreadable


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def _table(columns: dict[str, pa.Array], n: int, raw: pa.Array) -> pa.Table:
    arrays = [
        columns[name].cast(_TYPES[name]) if name in columns else pa.nulls(n, _TYPES[name])
        for name, _ in ECS_COLUMNS
    ]
    arrays.append(raw.cast(pa.string()))
    return pa.Table.from_arrays(arrays, names=_COLUMNS)
