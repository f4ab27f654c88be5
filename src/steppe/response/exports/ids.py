"""Suricata and Snort rules: one or two rules per value.

SIDs are ``sid_base + 100 + 2 × observable id + slot``: unique in an export, and the
same on every export while the indicator keeps its version (the observable row is the
version's), so a device's suppressions and thresholds keep working. ``sid_base`` up to
``sid_base + 99`` is left to the dataset rules (:mod:`.datasets`).

Suricata (6/7):

- ipv4, ipv6, cidr: ``alert ip V any <> any any`` (either direction);
- domain: ``dns.query`` and ``tls.sni`` with ``dotprefix`` + ``endswith``, so the domain
  and its sub-domains hit, not ``notevil.com``;
- url: ``http.host`` exactly the URL's host, ``http.uri`` starting with its path;
- md5/sha1/sha256 need a list file (``filemd5``): see the ``suricata-datasets`` format;
  email: no rule (no reliable keyword); both are counted in the header comment.

Snort 2.9 syntax (Snort 3 loads it through ``snort2lua``): the same IP rules; domains as
the DNS wire-format name (``|04|evil|03|com|00|``), which matches the name and its
sub-domains on label boundaries; URLs with ``http_header`` / ``http_uri`` contents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import ClassVar
from urllib.parse import urlsplit

from steppe.errors import InputError
from steppe.response.exports.base import Change, ExportContext, lines_to_chunks, register_exporter
from steppe.response.exports.selection import ExportEntry

__all__ = ["SnortRules", "SuricataRules", "content", "rule_text", "sid_of"]

_MAX_SID = 2**32 - 1
_ESCAPED = {ord(c) for c in '";\\|:'}
#: What ``content`` must escape; a value without any (nearly all) is written as it is.
_NEEDS_HEX = re.compile(r'[^\x20-\x7e]|[";\\|:]')
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def sid_of(context: ExportContext, entry: ExportEntry, slot: int) -> int:
    sid = context.sid_base + 100 + 2 * entry.observable_id + slot
    if sid > _MAX_SID:
        raise InputError(f"SID {sid} passes 2^32-1: lower STEPPE_EXPORT_SID_BASE", field="sid_base")
    return sid


def content(value: str) -> str:
    """A rule ``content`` string: quotes, ``;``, ``\\``, ``|``, ``:`` and non-printable
    bytes written as ``|hex|`` so no value can end the option or the rule.

    >>> content('a"b')
    '"a|22|b"'
    """
    if _NEEDS_HEX.search(value) is None:  # the byte loop below was a third of a rule
        return f'"{value}"'
    out: list[str] = []
    for byte in value.encode():
        if byte in _ESCAPED or byte < 0x20 or byte > 0x7E:
            out.append(f"|{byte:02X}|")
        else:
            out.append(chr(byte))
    return '"' + "".join(out).replace("||", " ") + '"'


def _msg(text: str) -> str:
    clean = _UNPRINTABLE.sub("?", text[:200])
    for char in '\\";':
        clean = clean.replace(char, "\\" + char)
    return f'"{clean}"'


def rule_text(action_header: str, msg: str, body: str, sid: int, entry: ExportEntry) -> str:
    meta = f"steppe_indicator {entry.stix_id}, tlp {entry.tlp.replace('+', '_')}"
    return f"{action_header} (msg:{_msg(msg)}; {body}metadata:{meta}; sid:{sid}; rev:1;)\n"


def _skipped(skipped: dict[str, int]) -> Iterator[str]:
    for key, count in sorted(skipped.items()):
        yield f"# {count} {key} value(s) have no rule in this format\n"


def _split_url(value: str) -> tuple[str, str] | None:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    if not host:
        return None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return host, path


class _Rules:
    kind: ClassVar[str]

    def __init__(self, context: ExportContext) -> None:
        self.context = context
        self.skipped: dict[str, int] = {}

    def render(self, changes: Iterable[Change]) -> Iterator[bytes]:
        context = self.context
        yield (
            f"# Steppe {self.kind} export for {context.requester}, {context.generated_at}\n"
            f"# cursor: {context.cursor}\n"
        ).encode()
        yield from lines_to_chunks(self._lines(changes))
        # Counted while streaming, so the tally comes last.
        yield "".join(_skipped(self.skipped)).encode()

    def _lines(self, changes: Iterable[Change]) -> Iterator[str]:
        for _, entry in changes:
            rules = self.rules(entry)
            if not rules:
                self.skipped[entry.type] = self.skipped.get(entry.type, 0) + 1
            yield from rules

    def rules(self, entry: ExportEntry) -> list[str]:
        raise NotImplementedError


@register_exporter
class SuricataRules(_Rules):
    name: ClassVar[str] = "suricata"
    media_type: ClassVar[str] = "text/plain; charset=utf-8"
    suffix: ClassVar[str] = ".rules"
    removals: ClassVar[bool] = False
    reads_times: ClassVar[bool] = False
    kind = "Suricata rules"

    def rules(self, entry: ExportEntry) -> list[str]:
        kind, value = entry.type, entry.value
        msg = f"Steppe IOC {kind} {value}"
        if kind in ("ipv4", "ipv6", "cidr"):
            target = f"[{value}]"
            header = f"alert ip {target} any <> any any"
            return [rule_text(header, msg, "", sid_of(self.context, entry, 0), entry)]
        if kind == "domain":
            match = f"dotprefix; content:{content('.' + value)}; nocase; endswith; "
            return [
                rule_text(
                    "alert dns any any -> any any",
                    msg,
                    "dns.query; " + match,
                    sid_of(self.context, entry, 0),
                    entry,
                ),
                rule_text(
                    "alert tls any any -> any any",
                    msg,
                    "tls.sni; " + match,
                    sid_of(self.context, entry, 1),
                    entry,
                ),
            ]
        if kind == "url":
            split = _split_url(value)
            if split is None:
                return []
            host, path = split
            body = (
                f"flow:established,to_server; http.host; content:{content(host)}; nocase; "
                "startswith; endswith; "
            )
            if path != "/":
                body += f"http.uri; content:{content(path)}; startswith; "
            header = "alert http any any -> any any"
            return [rule_text(header, msg, body, sid_of(self.context, entry, 0), entry)]
        return []


def _dns_wire(domain: str) -> str:
    """``evil.com`` → ``"|04|evil|03|com|00|"``: the name as it travels in a DNS query."""
    parts: list[str] = []
    for label in domain.encode().split(b"."):
        parts.append(f"|{len(label):02X}|")
        parts.append(content(label.decode())[1:-1])
    return ('"' + "".join(parts) + '|00|"').replace("||", " ")


@register_exporter
class SnortRules(_Rules):
    name: ClassVar[str] = "snort"
    media_type: ClassVar[str] = "text/plain; charset=utf-8"
    suffix: ClassVar[str] = ".rules"
    removals: ClassVar[bool] = False
    reads_times: ClassVar[bool] = False
    kind = "Snort 2.9 rules"

    def rules(self, entry: ExportEntry) -> list[str]:
        kind, value = entry.type, entry.value
        msg = f"Steppe IOC {kind} {value}"
        sid = sid_of(self.context, entry, 0)
        if kind in ("ipv4", "ipv6", "cidr"):
            return [rule_text(f"alert ip [{value}] any <> any any", msg, "", sid, entry)]
        if kind == "domain":
            body = f"content:{_dns_wire(value)}; nocase; "
            return [rule_text("alert udp any any -> any 53", msg, body, sid, entry)]
        if kind == "url":
            split = _split_url(value)
            if split is None:
                return []
            host, path = split
            body = f"flow:to_server,established; content:{content(host)}; http_header; nocase; "
            if path != "/":
                body += f"content:{content(path)}; http_uri; "
            return [rule_text("alert tcp any any -> any any", msg, body, sid, entry)]
        return []
