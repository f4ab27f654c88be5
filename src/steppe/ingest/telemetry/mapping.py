"""Generic JSON telemetry: ECS passed through, or mapped from a sensor's own names.

With no mapping, records that already speak ECS just work: flat dotted keys
(``"source.ip"``) or nested ECS objects (``{"source": {"ip": ...}}``) fill the lake's
columns, normalised like every other parser's. Everything stays in ``raw``.

    >>> event = normalise_json({"@timestamp": "2026-11-28T10:00:00Z",
    ...                         "source": {"ip": "10.0.0.5", "port": "53"}})
    >>> event["source.ip"], event["source.port"], event["event.dataset"]
    ('10.0.0.5', 53, 'generic')

A :class:`FieldMapping` says where each ECS field is in some other JSON (a JSON file of
the same shape is loadable with :meth:`FieldMapping.from_file`):

    >>> mapping = FieldMapping.from_dict({
    ...     "dataset": "acme.proxy",
    ...     "fields": {"source.ip": "client.addr", "url.full": "req.url"},
    ...     "timestamp": "when", "timestamp_format": "epoch_ms"})
    >>> event = normalise_json({"when": 1764324000000, "client": {"addr": "10.0.0.9"},
    ...                         "req": {"url": "http://x.example/a"}}, mapping)
    >>> event["@timestamp"], event["source.ip"], event["event.dataset"]
    ('2025-11-28T10:00:00.000000Z', '10.0.0.9', 'acme.proxy')
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from steppe.errors import ConfigError
from steppe.ingest.telemetry import ecs
from steppe.ingest.telemetry.ecs import FieldProblem, Normaliser
from steppe.ingest.telemetry.model import ECS_COLUMNS, NormalisedEvent, ParseProblem
from steppe.ingest.telemetry.records import json_records
from steppe.storage.timestamps import format_ts

__all__ = ["FieldMapping", "normalise_json", "parse_jsonl"]

_COLUMNS = tuple(name for name, _ in ECS_COLUMNS)
_NORMALISERS: dict[str, Normaliser] = {name: ecs.normaliser_for(name) for name in _COLUMNS}
_COLUMN_SET = frozenset(_COLUMNS)
# Top-level keys under which nested ECS objects sit ("source" of "source.ip").
_ROOTS = frozenset(name.split(".", 1)[0] for name in _COLUMNS if "." in name)
_TIME_FORMATS = ("auto", "iso", "epoch", "epoch_ms")


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Where the ECS fields are in a sensor's JSON.

    ``fields`` maps an ECS column name to a path in the record, dots between object
    keys (a key that itself contains dots is found too). ``timestamp_format`` is
    ``auto`` (epoch seconds if a number, else ISO 8601), ``iso``, ``epoch``,
    ``epoch_ms``, or a ``strptime`` format (taken as UTC unless it has ``%z``).
    ``passthrough`` also keeps ECS-named keys of the record that the mapping leaves out.
    """

    fields: dict[str, str] = field(default_factory=dict)
    timestamp: str | None = None
    timestamp_format: str = "auto"
    dataset: str = "generic"
    module: str = "generic"
    passthrough: bool = True

    def __post_init__(self) -> None:
        unknown = sorted(set(self.fields) - set(_COLUMNS))
        if unknown:
            raise ConfigError(
                f"field mapping: not lake columns: {', '.join(unknown)} "
                "(map to one of the ECS columns; everything else stays in raw)"
            )
        if self.timestamp_format not in _TIME_FORMATS and "%" not in self.timestamp_format:
            raise ConfigError(
                f"field mapping: timestamp_format {self.timestamp_format!r} is not one of "
                f"{', '.join(_TIME_FORMATS)} nor a strptime format"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldMapping:
        known = {"fields", "timestamp", "timestamp_format", "dataset", "module", "passthrough"}
        extra = sorted(set(data) - known)
        if extra:
            raise ConfigError(f"field mapping: unknown keys {', '.join(extra)}")
        fields = data.get("fields", {})
        if not isinstance(fields, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
        ):
            raise ConfigError("field mapping: 'fields' must map ECS names to paths (strings)")
        for key in ("timestamp", "timestamp_format", "dataset", "module"):
            if key in data and not isinstance(data[key], str):
                raise ConfigError(f"field mapping: {key!r} must be a string")
        return cls(
            fields=dict(fields),
            timestamp=data.get("timestamp"),
            timestamp_format=data.get("timestamp_format", "auto"),
            dataset=data.get("dataset", "generic"),
            module=data.get("module", "generic"),
            passthrough=bool(data.get("passthrough", True)),
        )

    @classmethod
    def from_file(cls, path: Path) -> FieldMapping:
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"field mapping {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"field mapping {path}: expected a JSON object")
        return cls.from_dict(data)


_PASSTHROUGH = FieldMapping()


def _lookup(record: dict[str, Any], path: str) -> Any:
    value = record.get(path)
    if value is not None or "." not in path:
        return value
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _time(value: Any, form: str, where: str) -> str:
    if form == "auto":
        return ecs.timestamp(value, where)
    if form == "iso":
        return ecs.iso(value, where)
    if form == "epoch":
        return ecs.epoch(value, where)
    if form == "epoch_ms":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise FieldProblem(where, f"expected milliseconds since 1970, found {value!r}")
        try:
            return format_ts(datetime.fromtimestamp(float(value) / 1000, UTC))
        except (OverflowError, OSError, ValueError):
            raise FieldProblem(where, f"not a time: {value!r}") from None
    if not isinstance(value, str):
        raise FieldProblem(where, f"expected a time as text, found {value!r}")
    try:
        moment = datetime.strptime(value, form)
    except ValueError:
        raise FieldProblem(where, f"time {value!r} does not match {form!r}") from None
    return format_ts(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def normalise_json(record: dict[str, Any], mapping: FieldMapping = _PASSTHROUGH) -> NormalisedEvent:
    """ECS fields of one JSON record; raises FieldProblem on a bad value."""
    event: NormalisedEvent = {}
    if mapping.passthrough:
        # Set operations on the keys (C speed) find what is there to take, rather than
        # asking the record for each of the ~50 columns.
        flat = record
        nested = [k for k in _ROOTS.intersection(record) if record[k].__class__ is dict]
        if nested:
            flat = dict(record)
            for key in nested:
                for inner, value in record[key].items():
                    if value.__class__ is dict:
                        flat.update(ecs.flatten(value, f"{key}.{inner}."))
                    else:
                        flat[f"{key}.{inner}"] = value
        for name in _COLUMN_SET.intersection(flat):
            value = flat[name]
            if value is not None and value != "":
                event[name] = _NORMALISERS[name](value, name)
    for name, path in mapping.fields.items():
        value = _lookup(record, path)
        if value is not None and value != "":
            event[name] = ecs.normaliser_for(name)(value, path)
    if mapping.timestamp is not None:
        value = _lookup(record, mapping.timestamp)
        if value is not None:
            event["@timestamp"] = _time(value, mapping.timestamp_format, mapping.timestamp)
    event.setdefault("event.dataset", mapping.dataset)
    event.setdefault("event.module", mapping.module)
    event["raw"] = record
    return event


def parse_jsonl(
    stream: IO[bytes], source: str, mapping: FieldMapping = _PASSTHROUGH
) -> Iterator[NormalisedEvent | ParseProblem]:
    """Generic JSON (lines or an array), ECS passed through or mapped by ``mapping``."""
    for item in json_records(stream, source):
        if isinstance(item, ParseProblem):
            yield item
            continue
        number, record = item
        try:
            yield normalise_json(record, mapping)
        except FieldProblem as exc:
            yield ParseProblem(source, number, exc.message, exc.field)
