"""What one spool record holds: a batch of accepted events, as Arrow or as JSON, or a
request body of EVE JSON lines as it came (:func:`body_record`).

:meth:`steppe.lake.EventLake.accept` converts the batch to the lake's table
(:func:`steppe.lake.table.events_table`) at once and spools it as an Arrow IPC stream
behind the marker ``ARW1``; the writer then only splits it by partition and writes
Parquet. Measured on EVE (``bench/lake_write.py``, ``bench/telemetry_ingest.py``): the
JSON record cost ~3 µs per event to encode and ~7 µs to decode and convert again; the
Arrow record ~5 µs to build and nothing to read back.

A batch the conversion fails on (it should not: values of the wrong type are coerced)
is spooled as JSON (``{"o", "t", "j", "e"}``, the format earlier versions wrote, which
the writer still reads, so spools of an older process replay), and the writer decides
what to do with it (quarantine, if it cannot be written).

    >>> events = [{"@timestamp": "2026-11-28T09:00:00Z", "raw": {"a": n}} for n in range(64)]
    >>> payload = encode(7, "2026-11-28T10:00:00.000000Z", events)
    >>> bytes(payload[:4])
    b'ARW1'
    >>> table = decode(payload)
    >>> table.num_rows, table.column("raw")[1].as_py(), table.column("organisation")[0].as_py()
    (64, '{"a":1}', 7)
    >>> decode(encode(7, "2026-11-28T10:00:00.000000Z", events[:1])).num_rows  # as JSON
    1
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence

import orjson
import pyarrow as pa

from steppe.ingest.telemetry.model import NormalisedEvent
from steppe.lake.handoff import DecodedRows
from steppe.lake.table import events_table, json_safe, lake_schema, with_organisation

__all__ = [
    "ARROW_MARK",
    "BODY_MARK",
    "BadRecord",
    "body_record",
    "decode",
    "encode",
    "encode_table",
    "json_safe",
]

log = logging.getLogger(__name__)

ARROW_MARK = b"ARW1"
#: A request body of Suricata EVE JSON lines, kept as it came (:func:`body_record`).
BODY_MARK = b"EVB1"
_BODY_HEAD = struct.Struct("<4sI")

#: Smaller batches are spooled as JSON: an Arrow stream carries its schema (~7 KB for
#: the lake's 54 columns), more than a few dozen events of JSON.
ARROW_MIN_EVENTS = 64


class BadRecord(ValueError):
    """A checksummed record that is no batch (written by a different version)."""


def encode(
    organisation_id: int, accepted_at: str, events: Sequence[NormalisedEvent]
) -> bytes | memoryview:
    """The spool record of a batch: Arrow when it converts, JSON otherwise (and for
    batches of fewer than :data:`ARROW_MIN_EVENTS`)."""
    if len(events) < ARROW_MIN_EVENTS:
        return _json_record(organisation_id, accepted_at, events)
    try:
        table = events_table([(organisation_id, accepted_at, event) for event in events])
    except Exception:  # a bug in conversion must not refuse telemetry: the writer decides
        log.exception("lake: batch kept as JSON, its Arrow conversion failed")
        return _json_record(organisation_id, accepted_at, events)
    return _arrow_record(table)


def encode_table(organisation_id: int, accepted_at: str, table: pa.Table) -> memoryview:
    """The spool record of rows already in the lake's columns (all but ``organisation``,
    as :mod:`steppe.ingest.telemetry.eve_columns` builds them): Arrow, whatever the size."""
    return _arrow_record(with_organisation(table, organisation_id, accepted_at))


def body_record(
    organisation_id: int,
    accepted_at: str,
    ingested: str,
    observer: str | None,
    body: bytes,
    *,
    key: str | None = None,
) -> tuple[bytes, bytes]:
    """The spool record of an HTTP body of EVE JSON lines, which the request decodes for
    its answer meanwhile, in two parts (written one after the other, not joined): what
    the decoding needs to give the same rows again — ``ingested``, the time it stamped, and
    the ``observer`` it named — then the body as it came. :func:`decode` decodes it again.

    Kept instead of the decoded rows (an Arrow record) because that was most of what
    a request cost besides the decoding: on ``bench/telemetry_ingest.py``'s EVE, 354
    bytes an event to write and fsync against 591, and no Arrow stream to encode —
    measured in-process, 2.7 against 3.6 to 4.3 µs of CPU an event for the decoding and
    the spooling together (load ~4). The writer, a background thread, decodes it again,
    unless the request left its rows under ``key`` (:mod:`steppe.lake.handoff`).
    """
    fields = {"o": organisation_id, "t": accepted_at, "i": ingested, "b": observer}
    if key is not None:
        fields["k"] = key
    head = orjson.dumps(fields)
    return _BODY_HEAD.pack(BODY_MARK, len(head)) + head, body


def _body_table(payload: bytes | memoryview, decoded: DecodedRows | None) -> pa.Table:
    """The lake rows of a :func:`body_record`, as the request that spooled it had them:
    taken from ``decoded`` if the request left them there, else decoded again."""
    from steppe.ingest.telemetry.eve_columns import eve_body_table  # ingest builds on lake

    try:
        _, size = _BODY_HEAD.unpack_from(payload)
        start = _BODY_HEAD.size
        head = orjson.loads(payload[start : start + size])
        org, accepted_at, ingested = int(head["o"]), str(head["t"]), str(head["i"])
        observer, key = head["b"], head.get("k")
    except (struct.error, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise BadRecord("unreadable body record header") from None
    if decoded is not None and isinstance(key, str):
        kept = decoded.take(key)
        if kept is not None:
            return kept
    body = bytes(payload[start + size :])
    table = eve_body_table(body, ingested, observer if isinstance(observer, str) else None)
    return with_organisation(table, org, accepted_at)


def _arrow_record(table: pa.Table) -> memoryview:
    # Columns without a value in the batch are left out (decode gives them back as nulls,
    # as to a batch spooled before a column existed): a null string column still costs
    # 4 bytes of offsets an event. On bench/telemetry_ingest.py's EVE, 727 → 590 bytes
    # an event to write and fsync.
    if table.num_rows:
        empty = [
            name
            for name, column in zip(table.column_names, table.columns, strict=True)
            if column.null_count == table.num_rows
        ]
        table = table.drop_columns(empty)
    sink = pa.BufferOutputStream()
    sink.write(ARROW_MARK)
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    # A view of Arrow's buffer, not a copy: a body's batch is megabytes, and every copy
    # showed in the server's peak memory under overload.
    return memoryview(sink.getvalue())


def decode(payload: bytes | memoryview, *, decoded: DecodedRows | None = None) -> pa.Table:
    """The lake table of a spool record (raises :class:`BadRecord` if it is none); a body
    record's rows come from ``decoded`` when its request left them there."""
    mark = bytes(payload[: len(ARROW_MARK)])
    if mark == BODY_MARK:
        return _body_table(payload, decoded)
    if mark == ARROW_MARK:
        try:
            with pa.ipc.open_stream(memoryview(payload)[len(ARROW_MARK) :]) as reader:
                table = reader.read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise BadRecord(f"unreadable Arrow batch: {exc}") from None
        return _conform(table)
    try:
        batch = orjson.loads(payload)
        org, accepted_at = int(batch["o"]), str(batch["t"])
        events = batch["e"]
        raw_is_json = bool(batch.get("j"))
        rows = [(org, accepted_at, event) for event in events if isinstance(event, dict)]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise BadRecord("not a batch") from None
    return events_table(rows, raw_is_json=raw_is_json)


def _conform(table: pa.Table) -> pa.Table:
    """``table`` with the columns of today's schema: a batch spooled before a column was
    added to ``ECS_COLUMNS`` gets it as nulls."""
    schema = lake_schema()
    if table.schema.equals(schema):
        return table
    names = set(table.column_names)
    columns = [
        table.column(field.name).cast(field.type)
        if field.name in names
        else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _json_record(
    organisation_id: int, accepted_at: str, events: Sequence[NormalisedEvent]
) -> bytes:
    # ``raw`` goes in as JSON text ("j"): the writer then stores it without parsing and
    # re-encoding every raw record.
    batch = {"o": organisation_id, "t": accepted_at, "j": 1, "e": _with_raw_text(events)}
    try:
        return orjson.dumps(batch, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        # orjson refuses integers past 64 bits and unknown types: keep them as text
        return orjson.dumps(json_safe(batch))


def _with_raw_text(events: Sequence[NormalisedEvent]) -> list[NormalisedEvent]:
    out = []
    for event in events:
        raw = event.get("raw")
        try:
            text = orjson.dumps(raw, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            text = orjson.dumps(json_safe(raw)).decode()
        out.append({**event, "raw": text})
    return out
