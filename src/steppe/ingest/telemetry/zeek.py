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
from typing import IO, Any

from steppe.ingest.telemetry import ecs
from steppe.ingest.telemetry.ecs import FieldProblem, Normaliser
from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem
from steppe.ingest.telemetry.records import json_records, lines

__all__ = ["guess_path", "normalise_zeek", "parse_zeek_json", "parse_zeek_tsv", "path_from_name"]

# ECS fields beyond those every log with a connection id carries (ts, id.*, proto),
# which normalise_zeek handles itself.
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


_ZEEK_CONNECTION = ("id.orig_h", "id.resp_h", "id.orig_p", "id.resp_p", "proto")
_DATASETS: dict[str, str] = {}


def _dataset(path: str) -> str:
    name = f"zeek.{path}"
    if len(_DATASETS) < 1000:  # a few dozen logs exist; junk names are not kept
        _DATASETS[path] = name
    return name


def path_from_name(name: str) -> str:
    """The log path from a file name: ``conn.09:00:00-10:00:00.log.gz`` → ``conn``."""
    return name.rsplit("/", 1)[-1].split(".", 1)[0] or "unknown"


# Fields only one log has, for records that arrive without a file name or ``_path``
# (Zeek's JSON writer leaves ``_path`` out unless told to; HTTP bodies have no name).
_TELLING_FIELDS = (
    ("conn_state", "conn"),
    ("qtype_name", "dns"),
    ("query", "dns"),
    ("status_code", "http"),
    ("uri", "http"),
    ("ssl_history", "ssl"),
    ("server_name", "ssl"),
    ("note", "notice"),
    ("certificate.version", "x509"),
    ("fuid", "files"),
    ("mime_type", "files"),
)


def guess_path(raw: dict[str, Any]) -> str:
    """The log a record most likely comes from, by the fields it has; else ``unknown``.

    >>> guess_path({"ts": 1.0, "query": "a.example"}), guess_path({"ts": 1.0})
    ('dns', 'unknown')
    """
    for field, path in _TELLING_FIELDS:
        if field in raw:
            return path
    return "unknown"


def normalise_zeek(raw: dict[str, Any], path: str) -> NormalisedEvent:
    """ECS fields of one Zeek record (raw as described above); FieldProblem on a bad value."""
    # The connection fields are written out rather than looped over a table: this runs
    # for every line of the biggest logs, and the loop and calls doubled its cost.
    get = raw.get
    event: NormalisedEvent = {
        "event.module": "zeek",
        "event.dataset": _DATASETS.get(path) or _dataset(path),
        "event.kind": "alert" if path == "notice" else "event",
        "raw": raw,
    }
    value = get("ts")
    if value is None:
        value = get("_write_ts")
        if value is not None:
            event["@timestamp"] = ecs.timestamp(value, "_write_ts")
    else:
        event["@timestamp"] = ecs.timestamp(value, "ts")
    ecs.connection(event, get, _ZEEK_CONNECTION)
    for name, target, normaliser in _BY_PATH.get(path, ()):
        value = get(name)
        if value is not None and target not in event:
            event[target] = normaliser(value, name)
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
    """Zeek JSON lines.

    The log path is ``_path`` in the record, else ``path``, else the file name's first
    part when ``source`` looks like a file (``dns.json``), else guessed from the fields.
    """
    name = source.rsplit("/", 1)[-1]
    fallback = path or (path_from_name(name) if "." in name and " " not in name else None)
    for item in json_records(stream, source):
        if isinstance(item, ParseProblem):
            yield item
            continue
        number, raw = item
        record_path = raw.get("_path")
        try:
            if not isinstance(record_path, str) or not record_path:
                record_path = fallback or guess_path(raw)
            yield normalise_zeek(raw, record_path)
        except FieldProblem as exc:
            yield ParseProblem(source, number, exc.message, exc.field)


# --- TSV ----------------------------------------------------------------------------

_ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2})")


def _unescape(value: str) -> str:
    # Zeek writes a backslash as \\ and separators and non-printables as \xNN.
    return _ESCAPE.sub(lambda m: "\\" if m[1] == "\\" else chr(int(m[1][1:], 16)), value)


_BOOLS = {"T": True, "F": False}
_ATOMS: dict[str, str] = {
    "count": "int", "int": "int", "port": "int", "double": "float", "time": "float",
    "interval": "float", "bool": "boolean",
}  # fmt: skip


_ATOM_FUNCTIONS: dict[str, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "boolean": _BOOLS.__getitem__,
}


class _Layout:
    """One ``#fields``/``#types`` header compiled into a function from a split line to raw.

    The function is generated (as ``collections.namedtuple`` and ``dataclasses`` do):
    straight-line code per column ran the dns sample twice as fast as a loop over
    (name, converter) pairs. Names and types from the header enter the code only as
    ``repr`` literals.
    """

    def __init__(
        self, fields: list[str], types: list[str], set_separator: str, empty: str, unset: str
    ) -> None:
        self.width = len(fields)
        self.empty = empty
        self.text_names: list[str] = []
        namespace: dict[str, Any] = {
            "FieldProblem": FieldProblem,
            "unset": unset,
            "boolean": _BOOLS.__getitem__,
        }
        code = ["def convert(v):", "    raw = {}"]
        for index, name in enumerate(fields):
            kind = types[index] if index < len(types) else "string"
            call = self._call(kind, index, namespace, set_separator, empty)
            key = repr(name)
            code += [f"    x = v[{index}]", "    if x != unset:"]
            if call is None:
                self.text_names.append(name)
                code.append(f"        raw[{key}] = x")
            else:
                code += [
                    "        try:",
                    f"            raw[{key}] = {call}(x)",
                    "        except (ValueError, KeyError):",
                    f"            raise FieldProblem({key}, 'not a valid ' + {kind!r} + "
                    "': ' + repr(x)) from None",
                ]
        code.append("    return raw")
        exec("\n".join(code), namespace)  # safe: see the class docstring
        self.convert: Callable[[list[str]], dict[str, Any]] = namespace["convert"]

    @staticmethod
    def _call(
        kind: str, index: int, namespace: dict[str, Any], set_separator: str, empty: str
    ) -> str | None:
        if kind.endswith("]") and "[" in kind:  # set[addr], vector[string] …
            atom_name = _ATOMS.get(kind[kind.index("[") + 1 : -1])
            atom = _ATOM_FUNCTIONS.get(atom_name or "")

            def container(value: str) -> list[Any]:
                if value == empty:
                    return []
                items = value.split(set_separator)
                if "\\" in value:
                    items = [_unescape(item) for item in items]
                return items if atom is None else [atom(item) for item in items]

            namespace[f"c{index}"] = container
            return f"c{index}"
        # None for string, addr, subnet, enum: text as written, fixed up only on the
        # rare lines with an escape or an empty string (see fix_text).
        return _ATOMS.get(kind)

    def fix_text(self, raw: dict[str, Any]) -> None:
        for name in self.text_names:
            value = raw.get(name)
            if value == self.empty:
                raw[name] = ""
            elif value is not None and "\\" in value:
                raw[name] = _unescape(value)


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
                types = line.split(separator)[1:]
                layout = _Layout(fields, types, set_separator, empty, unset)
            continue
        if layout is None:
            if not fields:
                yield ParseProblem(source, number, "data before the #fields header")
                continue
            layout = _Layout(fields, [], set_separator, empty, unset)
        values = line.split(separator)
        if len(values) != layout.width:
            yield ParseProblem(
                source, number, f"expected {layout.width} fields, found {len(values)}"
            )
            continue
        try:
            raw = layout.convert(values)
            if "\\" in line or empty in line:
                layout.fix_text(raw)
            yield normalise_zeek(raw, log_path)
        except FieldProblem as exc:
            yield ParseProblem(source, number, exc.message, exc.field)
