"""Zeek logs, TSV (``#fields`` headers) or JSON lines, to ECS.

``raw`` is the record with Zeek's own field names (``id.orig_h``, ``query``,
``server_name`` …) and the value types Zeek's JSON writer uses, whichever form the log
came in: counts and ports are ints, times and intervals floats, bools ``True``/``False``,
sets and vectors lists, unset fields absent. A Sigma rule on Zeek fields therefore
matches the TSV and the JSON of the same log alike.

    >>> import io
    >>> log = (b"#separator \\\\x09\\n#set_separator\\t,\\n#empty_field\\t(empty)\\n"
    ...        b"#unset_field\\t-\\n#path\\tdns\\n#fields\\tts\\tid.orig_h\\tid.orig_p\\tquery\\n"
    ...        b"#types\\ttime\\taddr\\tport\\tstring\\n"
    ...        b"1521911720.865716\\t10.47.1.100\\t41772\\tIse.Wrccdc.org.\\n")
    >>> [event] = parse_zeek_tsv(io.BytesIO(log), "dns.log")
    >>> event["@timestamp"], event["source.port"], event["dns.question.name"]
    ('2018-03-24T17:15:20.865716Z', 41772, 'ise.wrccdc.org')
    >>> event["event.dataset"], event["raw"]["id.orig_p"]
    ('zeek.dns', 41772)

Speed: a TSV file's columns are resolved once per ``#fields`` header into converters
and the ECS mapping once per log path; the per-line work is a split and a loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import IO, Any

from steppe.ingest.telemetry import ecs
from steppe.ingest.telemetry.ecs import FieldProblem, Normaliser
from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem
from steppe.ingest.telemetry.records import json_records, lines

__all__ = ["normalise_zeek", "parse_zeek_json", "parse_zeek_tsv", "path_from_name"]

# ECS fields every log with a connection id carries.
_COMMON: tuple[tuple[str, str, Normaliser], ...] = (
    ("ts", "@timestamp", ecs.timestamp),
    ("id.orig_h", "source.ip", ecs.ip),
    ("id.orig_p", "source.port", ecs.port),
    ("id.resp_h", "destination.ip", ecs.ip),
    ("id.resp_p", "destination.port", ecs.port),
    ("proto", "network.transport", ecs.lower),
)
_BY_PATH: dict[str, tuple[tuple[str, str, Normaliser], ...]] = {
    "conn": (("service", "network.protocol", ecs.lower),),
    "dns": (
        ("query", "dns.question.name", ecs.domain),
        ("qtype_name", "dns.question.type", ecs.text),
    ),
    "http": (
        ("host", "url.domain", ecs.domain),
        ("method", "http.request.method", ecs.text),
        ("user_agent", "user_agent.original", ecs.text),
        ("status_code", "http.response.status_code", ecs.integer),
    ),
    "ssl": (
        ("server_name", "tls.server.sni", ecs.domain),
        ("server_name", "destination.domain", ecs.domain),
    ),
    "files": (
        ("md5", "file.hash.md5", ecs.lower),
        ("sha1", "file.hash.sha1", ecs.lower),
        ("sha256", "file.hash.sha256", ecs.lower),
        ("filename", "file.name", ecs.text),
    ),
    "notice": (
        ("note", "rule.name", ecs.text),
        ("msg", "message", ecs.text),
        ("src", "source.ip", ecs.ip),
        ("dst", "destination.ip", ecs.ip),
        ("p", "destination.port", ecs.port),
    ),
    "weird": (("name", "event.action", ecs.text),),
    "ntlm": (("username", "user.name", ecs.text), ("domainname", "user.domain", ecs.text)),
    "ftp": (("user", "user.name", ecs.text),),
    "known_hosts": (("host", "host.ip", ecs.ip),),
    "known_services": (("host", "host.ip", ecs.ip),),
    "known_certs": (("host", "host.ip", ecs.ip),),
    "software": (("host", "host.ip", ecs.ip),),
    "smb_files": (("name", "file.name", ecs.text), ("path", "file.path", ecs.text)),
    "syslog": (("message", "message", ecs.text),),
    "pe": (),
}
_PROTOCOL = {
    "dns": "dns", "http": "http", "ssl": "tls", "ssh": "ssh", "smtp": "smtp", "ftp": "ftp",
    "rdp": "rdp", "kerberos": "kerberos", "ntlm": "ntlm", "dce_rpc": "dce_rpc",
    "modbus": "modbus", "snmp": "snmp", "ntp": "ntp", "syslog": "syslog",
    "smb_files": "smb", "smb_mapping": "smb", "ldap": "ldap", "ldap_search": "ldap",
    "rfb": "rfb", "sip": "sip", "dhcp": "dhcp", "mysql": "mysql", "irc": "irc",
    "radius": "radius", "dnp3": "dnp3", "socks": "socks", "tunnel": "tunnel",
}  # fmt: skip


@lru_cache(maxsize=256)
def _mapping(path: str) -> tuple[tuple[str, str, Normaliser], ...]:
    return _COMMON + _BY_PATH.get(path, ())


def path_from_name(name: str) -> str:
    """The log path from a file name: ``conn.09:00:00-10:00:00.log.gz`` → ``conn``."""
    return name.rsplit("/", 1)[-1].split(".", 1)[0] or "unknown"


def normalise_zeek(raw: dict[str, Any], path: str) -> NormalisedEvent:
    """ECS fields of one Zeek record (raw as described above); FieldProblem on a bad value."""
    event: NormalisedEvent = {
        "event.module": "zeek",
        "event.dataset": f"zeek.{path}",
        "event.kind": "alert" if path == "notice" else "event",
        "raw": raw,
    }
    for name, target, normaliser in _mapping(path):
        value = raw.get(name)
        if value is not None and target not in event:
            event[target] = normaliser(value, name)
    if "@timestamp" not in event:
        written = raw.get("_write_ts")
        if written is not None:
            event["@timestamp"] = ecs.timestamp(written, "_write_ts")
    protocol = _PROTOCOL.get(path)
    if protocol is not None:
        event["network.protocol"] = protocol
    if path == "http":
        _url(raw, event)
    return event


def _url(raw: dict[str, Any], event: NormalisedEvent) -> None:
    host = event.get("url.domain")
    uri = raw.get("uri")
    if host is None or not isinstance(uri, str):
        return
    port = event.get("destination.port")
    where = host if port in (None, 80) else f"{host}:{port}"
    event["url.full"] = f"http://{where}{uri}"


# --- JSON ---------------------------------------------------------------------------


def parse_zeek_json(
    stream: IO[bytes], source: str, path: str | None = None
) -> Iterator[NormalisedEvent | ParseProblem]:
    """Zeek JSON lines; the log path is ``_path`` in the record, else ``path``/the name."""
    fallback = path or path_from_name(source)
    for item in json_records(stream, source):
        if isinstance(item, ParseProblem):
            yield item
            continue
        number, raw = item
        record_path = raw.get("_path")
        try:
            yield normalise_zeek(raw, record_path if isinstance(record_path, str) else fallback)
        except FieldProblem as exc:
            yield ParseProblem(source, number, exc.message, exc.field)


# --- TSV ----------------------------------------------------------------------------

_ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2})")


def _unescape(value: str) -> str:
    # Zeek writes a backslash as \\ and separators and non-printables as \xNN.
    return _ESCAPE.sub(lambda m: "\\" if m[1] == "\\" else chr(int(m[1][1:], 16)), value)


def _bool(value: str) -> bool:
    if value == "T":
        return True
    if value == "F":
        return False
    raise ValueError(f"expected T or F, found {value!r}")


_ATOMS: dict[str, Callable[[str], Any]] = {
    "count": int, "int": int, "port": int, "double": float, "time": float,
    "interval": float, "bool": _bool,
}  # fmt: skip


class _Layout:
    """One ``#fields``/``#types`` header resolved into per-column converters."""

    def __init__(self, fields: list[str], types: list[str], set_separator: str, empty: str) -> None:
        self.names = fields
        self.converters: list[Callable[[str], Any] | None] = [
            self._converter(kind, set_separator, empty) for kind in types[: len(fields)]
        ]
        self.converters += [None] * (len(fields) - len(self.converters))
        self.width = len(fields)
        self.text_names = [n for n, c in zip(fields, self.converters, strict=True) if c is None]
        self.empty = empty

    def fix_text(self, raw: dict[str, Any]) -> None:
        for name in self.text_names:
            value = raw.get(name)
            if value == self.empty:
                raw[name] = ""
            elif value is not None and "\\" in value:
                raw[name] = _unescape(value)

    @staticmethod
    def _converter(kind: str, set_separator: str, empty: str) -> Callable[[str], Any] | None:
        if kind.endswith("]") and "[" in kind:  # set[addr], vector[string] …
            atom = _ATOMS.get(kind[kind.index("[") + 1 : -1])

            def container(value: str) -> list[Any]:
                if value == empty:
                    return []
                items = value.split(set_separator)
                if "\\" in value:
                    items = [_unescape(item) for item in items]
                return items if atom is None else [atom(item) for item in items]

            return container
        # None for string, addr, subnet, enum: text as written, fixed up only on the
        # rare lines with an escape or an empty string (see fix_text).
        return _ATOMS.get(kind)


def _header_value(line: str, separator: str) -> str:
    return line.split(separator, 1)[1] if separator in line else ""


def parse_zeek_tsv(
    stream: IO[bytes], source: str, path: str | None = None
) -> Iterator[NormalisedEvent | ParseProblem]:
    """A Zeek TSV log (plain or, through :func:`records.open_input`, gzip)."""
    separator, set_separator, empty, unset = "\t", ",", "(empty)", "-"
    log_path = path or path_from_name(source)
    fields: list[str] = []
    layout: _Layout | None = None
    for item in lines(stream, source):
        if isinstance(item, ParseProblem):
            yield item
            return
        number, data = item
        try:
            line = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            # Zeek escapes non-UTF-8 bytes itself, so this is not a Zeek line.
            yield ParseProblem(source, number, "not UTF-8 text")
            continue
        if not line:
            continue
        if line[0] == "#":
            if line.startswith("#separator "):
                separator = _unescape(line[len("#separator ") :].strip()) or "\t"
            elif line.startswith("#set_separator"):
                set_separator = _header_value(line, separator) or ","
            elif line.startswith("#empty_field"):
                empty = _header_value(line, separator)
            elif line.startswith("#unset_field"):
                unset = _header_value(line, separator)
            elif line.startswith("#path"):
                log_path = path or _header_value(line, separator) or log_path
            elif line.startswith("#fields"):
                fields = line.split(separator)[1:]
                layout = None
            elif line.startswith("#types"):
                layout = _Layout(fields, line.split(separator)[1:], set_separator, empty)
            continue
        if layout is None:
            if not fields:
                yield ParseProblem(source, number, "data before the #fields header")
                continue
            layout = _Layout(fields, [], set_separator, empty)
        values = line.split(separator)
        if len(values) != layout.width:
            yield ParseProblem(
                source, number, f"expected {layout.width} fields, found {len(values)}"
            )
            continue
        raw: dict[str, Any] = {}
        try:
            for name, convert, value in zip(layout.names, layout.converters, values, strict=True):
                if value == unset:
                    continue
                try:
                    raw[name] = value if convert is None else convert(value)
                except ValueError as exc:
                    raise FieldProblem(name, f"bad value {value!r}: {exc}") from None
            if "\\" in line or empty in line:
                layout.fix_text(raw)
            yield normalise_zeek(raw, log_path)
        except FieldProblem as exc:
            yield ParseProblem(source, number, exc.message, exc.field)
