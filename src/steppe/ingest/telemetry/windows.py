"""Windows event logs: ``.evtx`` files and their JSON form (the evtx crate's).

Both come as ``{"Event": {"System": {...}, "EventData": {...}}}`` where XML attributes
sit under ``#attributes``. :func:`normalise_windows` maps one such record to ECS.

``raw`` is **flat**, the shape a Sigma engine matches on: the ``EventData`` (or the
element inside ``UserData``) keys stay as they are (``Image``, ``CommandLine``,
``ParentImage``, ``TargetObject``, ``Hashes`` …), and the ``System`` fields join them
with their path joined by ``_`` and attributes unwrapped — ``EventID``, ``Channel``,
``Computer``, ``Provider_Name``, ``Provider_Guid``, ``TimeCreated_SystemTime``,
``EventRecordID``, ``Execution_ProcessID``, ``Security_UserID``, ``Level`` …
(``EventID``, ``Provider_Name`` and ``Channel`` are the names SigmaHQ rules use). An event field never gives way to a ``System``
one of the same name; the ``System`` value then stays under ``System_<name>``.
Namespace declarations (``xmlns``) are dropped; nothing else is.

    >>> event = normalise_windows({"Event": {
    ...     "System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
    ...                "Computer": "pc1",
    ...                "TimeCreated": {"#attributes": {"SystemTime": "2025-11-27T07:40:10Z"}}},
    ...     "EventData": {"Image": "C:\\\\a.exe", "User": "CORP\\\\ann"}}})
    >>> event["event.dataset"], event["process.executable"], event["user.name"]
    ('windows.sysmon_operational', 'C:\\\\a.exe', 'ann')
    >>> event["raw"]["Image"], event["raw"]["EventID"], event["raw"]["Channel"]
    ('C:\\\\a.exe', 1, 'Microsoft-Windows-Sysmon/Operational')
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import evtx
import orjson

from steppe.ingest.telemetry import ecs
from steppe.ingest.telemetry.ecs import FieldProblem
from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem
from steppe.ingest.telemetry.records import json_records

__all__ = ["flatten_event", "normalise_windows", "parse_evtx", "parse_winjson"]

# Names of (flat raw) fields → ECS field, copied as text when present. Order matters:
# the first present wins (Sysmon's Image before Security's NewProcessName).
_TEXT_FIELDS: tuple[tuple[str, str], ...] = (
    ("Image", "process.executable"),
    ("NewProcessName", "process.executable"),
    ("ProcessName", "process.executable"),
    ("SourceImage", "process.executable"),
    ("CommandLine", "process.command_line"),
    ("ParentImage", "process.parent.executable"),
    ("ParentProcessName", "process.parent.executable"),
    ("ParentCommandLine", "process.parent.command_line"),
    ("TargetFilename", "file.path"),
    ("ImageLoaded", "file.path"),
    ("TargetObject", "registry.path"),
    ("ScriptBlockText", "message"),
)
_PID_FIELDS = ("ProcessId", "NewProcessId")
# BITS (59, 60), WebClient and others name the URL they fetch so.
_URL_FIELDS = ("url", "Url", "URL", "RemoteUrl")
_SYSMON_CATEGORY: dict[int, tuple[str, str]] = {
    1: ("process", "process-created"),
    3: ("network", "network-connection-detected"),
    5: ("process", "process-terminated"),
    7: ("process", "image-loaded"),
    8: ("process", "create-remote-thread"),
    10: ("process", "process-accessed"),
    11: ("file", "file-created"),
    12: ("registry", "registry-object-added-or-deleted"),
    13: ("registry", "registry-value-set"),
    14: ("registry", "registry-object-renamed"),
    15: ("file", "file-stream-created"),
    17: ("file", "pipe-created"),
    18: ("file", "pipe-connected"),
    22: ("network", "dns-query"),
    23: ("file", "file-deleted"),
    26: ("file", "file-deleted-detected"),
}
_DATASETS = {
    "microsoft-windows-sysmon/operational": "sysmon_operational",
    "security": "security",
    "system": "system",
    "application": "application",
    "windows powershell": "powershell",
    "microsoft-windows-powershell/operational": "powershell_operational",
}


@lru_cache(maxsize=256)
def dataset(channel: str) -> str:
    """``windows.<slug>`` for a channel name, Elastic's names for the common ones.

    >>> dataset("Microsoft-Windows-Windows Defender/Operational")
    'windows.windows_defender_operational'
    """
    key = channel.lower()
    slug = _DATASETS.get(key)
    if slug is None:
        slug = key.removeprefix("microsoft-windows-")
        slug = "".join(c if c.isalnum() else "_" for c in slug).strip("_") or "unknown"
    return f"windows.{slug}"


def _flatten_into(out: dict[str, Any], node: dict[str, Any], prefix: str) -> None:
    for key, value in node.items():
        if key == "#attributes" and isinstance(value, dict):
            for name, attr in value.items():
                if name != "xmlns" and not name.startswith("xmlns:"):
                    out[f"{prefix}_{name}" if prefix else name] = attr
        elif key == "#text":
            out[prefix or "text"] = value
        elif isinstance(value, dict):
            _flatten_into(out, value, f"{prefix}_{key}" if prefix else key)
        else:
            out[f"{prefix}_{key}" if prefix else key] = value


def flatten_event(record: dict[str, Any]) -> dict[str, Any]:
    """The flat ``raw`` form described in the module docstring."""
    event = record.get("Event", record)
    if not isinstance(event, dict):
        raise FieldProblem("Event", "expected an object")
    out: dict[str, Any] = {}
    data = event.get("EventData")
    if (
        data.__class__ is dict
        and "#attributes" not in data
        and dict not in map(type, data.values())
    ):
        out = dict(data)  # the usual case, flat already: copied at C speed
    elif isinstance(data, dict):
        # The EventData element's own attributes (rare: a Name) keep the prefix.
        _flatten_into(out, {k: v for k, v in data.items() if k != "#attributes"}, "")
        attrs = data.get("#attributes")
        if isinstance(attrs, dict):
            _flatten_into(out, {"#attributes": attrs}, "EventData")
    elif data is not None:
        out["EventData"] = data  # classic events: a list of unnamed values
    user = event.get("UserData")
    if isinstance(user, dict):
        for inner in user.values():  # one wrapper element named after the event
            if isinstance(inner, dict):
                _flatten_into(out, inner, "")
    system = event.get("System")
    if isinstance(system, dict):
        flat: dict[str, Any] = {}
        for key, value in system.items():
            if value.__class__ is not dict:
                flat[key] = value
            elif len(value) == 1 and value.keys() == {"#attributes"} and _plain(value):
                # Provider, TimeCreated, Execution …: attributes only, one level.
                for name, attr in value["#attributes"].items():
                    flat[f"{key}_{name}"] = attr
            else:
                _flatten_into(flat, value, key)
        for key, value in flat.items():
            out[f"System_{key}" if key in out else key] = value
    return out


def _plain(element: dict[str, Any]) -> bool:
    attrs = element["#attributes"]
    return (
        attrs.__class__ is dict and "xmlns" not in attrs and dict not in map(type, attrs.values())
    )


def normalise_windows(record: dict[str, Any]) -> NormalisedEvent:
    """ECS fields of one evtx-JSON record; raises FieldProblem on a bad value."""
    raw = flatten_event(record)
    event: NormalisedEvent = {"event.module": "windows", "event.kind": "event", "raw": raw}
    system_time = raw.get("TimeCreated_SystemTime")
    if system_time is not None:
        event["@timestamp"] = ecs.iso(system_time, "TimeCreated")
    event_id = raw.get("EventID")
    if event_id is not None:
        number = ecs.integer(event_id, "EventID")
        event["winlog.event_id"] = number
        event["event.code"] = str(number)
    else:
        number = None
    channel = raw.get("Channel")
    if isinstance(channel, str):
        event["winlog.channel"] = channel
        event["event.dataset"] = dataset(channel)
    else:
        event["event.dataset"] = "windows.unknown"
    provider = raw.get("Provider_Name")
    if isinstance(provider, str):
        event["winlog.provider_name"] = provider
    computer = raw.get("Computer")
    if isinstance(computer, str):
        event["winlog.computer_name"] = computer
        event["host.name"] = computer
    for name, target in _TEXT_FIELDS:
        value = raw.get(name)
        if value is not None and target not in event and value != "-":
            event[target] = ecs.text(value, name)
    for name in _PID_FIELDS:
        value = raw.get(name)
        if value is not None:
            event["process.pid"] = ecs.integer(value, name)
            break
    _user(raw, event)
    path = event.get("file.path")
    if path is not None:
        event["file.name"] = path.rsplit("\\", 1)[-1]
    digests = raw.get("Hashes") or raw.get("Hash")
    if isinstance(digests, str):
        event.update(ecs.hashes(digests))
    for name in _URL_FIELDS:
        url = raw.get(name)
        if isinstance(url, str) and "://" in url:
            event["url.full"] = url
            try:
                host = urlsplit(url).hostname
            except ValueError:  # "http://[::1" and other broken ones: keep url.full only
                host = None
            if host:
                event["url.domain"] = host.rstrip(".")
            break
    if number is not None and provider == "Microsoft-Windows-Sysmon":
        _sysmon(number, raw, event)
    return event


def _user(raw: dict[str, Any], event: NormalisedEvent) -> None:
    user = raw.get("User")
    if isinstance(user, str) and user:
        domain, sep, name = user.rpartition("\\")
        event["user.name"] = name
        if sep:
            event["user.domain"] = domain
        return
    for name_key, domain_key in (
        ("TargetUserName", "TargetDomainName"),
        ("SubjectUserName", "SubjectDomainName"),
    ):
        who = raw.get(name_key)
        if isinstance(who, str) and who and who != "-":
            event["user.name"] = who
            where = raw.get(domain_key)
            if isinstance(where, str) and where and where != "-":
                event["user.domain"] = where
            return


def _sysmon(number: int, raw: dict[str, Any], event: NormalisedEvent) -> None:
    category = _SYSMON_CATEGORY.get(number)
    if category is not None:
        event["event.category"], event["event.action"] = category
    if number == 3:
        for name, target, normaliser in (
            ("SourceIp", "source.ip", ecs.ip),
            ("SourcePort", "source.port", ecs.port),
            ("DestinationIp", "destination.ip", ecs.ip),
            ("DestinationPort", "destination.port", ecs.port),
            ("DestinationHostname", "destination.domain", ecs.domain),
            ("Protocol", "network.transport", ecs.lower),
        ):
            value = raw.get(name)
            if value is not None and value != "" and value != "-":
                event[target] = normaliser(value, name)
    elif number == 22:
        query = raw.get("QueryName")
        if query:
            event["dns.question.name"] = ecs.domain(query, "QueryName")
    elif number in (17, 18):
        pipe = raw.get("PipeName")
        if isinstance(pipe, str):
            event["file.path"] = pipe


def _records(
    items: Iterator[tuple[int, dict[str, Any]] | ParseProblem], source: str
) -> Iterator[NormalisedEvent | ParseProblem]:
    for item in items:
        if isinstance(item, ParseProblem):
            yield item
            continue
        number, record = item
        try:
            yield normalise_windows(record)
        except FieldProblem as exc:
            yield ParseProblem(source, number, exc.message, exc.field)


def parse_winjson(stream: IO[bytes], source: str) -> Iterator[NormalisedEvent | ParseProblem]:
    """Windows events as evtx-crate JSON: JSON lines, an array, or objects back to back."""
    return _records(json_records(stream, source), source)


# A damaged chunk can make every following record fail; past this many errors in a row
# the rest of the file is given up with one problem rather than thousands.
_MAX_ERRORS_IN_A_ROW = 100


_FILE_HEADER = 4096
_CHUNK = 65536
_CHUNK_MAGIC = b"ElfChnk\x00"


def _layout_problem(path: Path | IO[bytes], source: str) -> ParseProblem | None:
    """What the evtx reader would skip without a word: missing or foreign chunks."""
    stream = path.open("rb") if isinstance(path, Path) else path
    try:
        if not stream.seekable():
            return None
        start = stream.tell()
        header = stream.read(_FILE_HEADER)
        if len(header) < _FILE_HEADER:
            return None  # the reader itself reports a short header
        chunks = int.from_bytes(header[42:44], "little")
        size = stream.seek(0, 2) - start
        for index in range(chunks):
            offset = _FILE_HEADER + index * _CHUNK
            stream.seek(start + offset)
            if offset + _CHUNK > size or stream.read(len(_CHUNK_MAGIC)) != _CHUNK_MAGIC:
                stream.seek(start)
                return ParseProblem(
                    source,
                    None,
                    f"the header lists {chunks} chunks but chunk {index + 1} is missing or "
                    "damaged (truncated file?); its records are lost",
                )
        stream.seek(start)
        return None
    finally:
        if isinstance(path, Path):
            stream.close()


def _evtx_items(path: Path | IO[bytes], source: str) -> Iterator[tuple[int, Any] | ParseProblem]:
    try:
        layout = _layout_problem(path, source)
    except OSError as exc:
        yield ParseProblem(source, None, f"not a readable EVTX file: {exc}")
        return
    if layout is not None:
        yield layout
    try:
        # One thread: files are read next to the API and other ingest on few cores; the
        # crate's default is a thread per core.
        parser = evtx.PyEvtxParser(path, number_of_threads=1)
        records = parser.records_json()
    except (OSError, RuntimeError, ValueError) as exc:
        yield ParseProblem(source, None, f"not a readable EVTX file: {exc}")
        return
    number = 0
    in_a_row = 0
    while True:
        number += 1
        try:
            item = next(records)
        except StopIteration:
            return
        except (RuntimeError, OSError, ValueError) as exc:
            yield ParseProblem(source, number, f"unreadable EVTX record: {exc}")
            in_a_row += 1
            if in_a_row >= _MAX_ERRORS_IN_A_ROW:
                yield ParseProblem(source, None, "too many unreadable records; rest skipped")
                return
            continue
        in_a_row = 0
        if item is None:
            return
        record_id = item.get("event_record_id")
        try:
            record = orjson.loads(item["data"])
        except orjson.JSONDecodeError as exc:
            yield ParseProblem(source, number, f"record {record_id}: not valid JSON: {exc.msg}")
            continue
        if not isinstance(record, dict):
            yield ParseProblem(source, number, "expected a JSON object")
            continue
        yield number, record


def parse_evtx(path: Path | IO[bytes], source: str) -> Iterator[NormalisedEvent | ParseProblem]:
    """Every record of an ``.evtx`` file; ``line`` in problems is the record's position."""
    return _records(_evtx_items(path, source), source)
