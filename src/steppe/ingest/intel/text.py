"""Indicators in free text: a pasted report, a mail, a blog post's HTML.

Extraction is `ioc-finder`_'s (grammar-based, checks TLDs against the IANA list, so
``report.pdf`` and ``config.yaml`` are not domains); before it, :func:`refang` undoes
defanging it does not know (``fxp://``, ``[dot]``, ``{.}``), and after it every value
goes through :mod:`steppe.intel.observables` so it is stored in canonical form. Text is
read line by line, so each value keeps the line it came from (its first one)::

    >>> report = '''Phishing from bad-actor[at]evil-mail[.]com
    ... C2 hxxps://cdn-update[.]net/gate.php and 203.0.113[.]45 (tool v2.3.1.4)
    ... Dropper invoice.pdf.exe, SHA256 E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855'''
    >>> for e in extract_text(report, "report.txt"):
    ...     print(e.line, e.type.value, e.value)
    1 email bad-actor@evil-mail.com
    2 url https://cdn-update.net/gate.php
    2 ipv4 203.0.113.45
    3 sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

Choice of library (November 2026): ioc-finder 9.4.1 (maintained, pyparsing only) got
the most of a defanged sample report right; iocextract 1.16.1 (last release 2023)
turned digits inside hashes and version strings into IPs and glued words onto emails;
iocsearcher 3.1.0 pulls in ~25 packages (PDF, DOCX, crypto-currency) and missed
bracketed IPs, IPv6 and ``ftp`` URLs. Filters on top: URLs' and emails' domains are
not repeated as domains; a two-label name under a TLD that is mostly a file extension
(``setup.py``, ``readme.md``) counts only when it was defanged; an IPv4 address
written as a version (``v1.2.3.4``, ``version 1.2.3.4``) is dropped.

.. _ioc-finder: https://pypi.org/project/ioc-finder/
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from html.parser import HTMLParser
from typing import Any

from steppe.errors import InvalidObservable
from steppe.ingest.intel.entries import FeedEntry, refang
from steppe.intel.observables import ObservableType, canonicalise

__all__ = ["extract_html", "extract_text", "html_lines"]

# ioc-finder result key -> our type. CIDRs are kept as networks; ASNs and CVEs too.
_KINDS: dict[str, ObservableType] = {
    "urls": ObservableType.URL,
    "email_addresses": ObservableType.EMAIL,
    "ipv4_cidrs": ObservableType.CIDR,
    "ipv6_cidrs": ObservableType.CIDR,
    "ipv4s": ObservableType.IPV4,
    "ipv6s": ObservableType.IPV6,
    "domains": ObservableType.DOMAIN,
    "md5s": ObservableType.MD5,
    "sha1s": ObservableType.SHA1,
    "sha256s": ObservableType.SHA256,
    "cves": ObservableType.CVE,
    "asns": ObservableType.ASN,
}

# TLDs that are more often a file's extension in a report than a real domain's suffix.
_FILE_LIKE_TLDS = frozenset({"md", "py", "sh", "zip", "mov", "rs", "pl", "so", "ps", "one"})
_VERSION_RE = re.compile(r"(?:\bv|\bversion\s?|\bbuild\s?)$", re.IGNORECASE)
# A line that holds none of these holds no indicator ioc-finder would find.
_MAYBE_IOC_RE = re.compile(r"[0-9.:@\[(]")

Finder = Callable[..., Mapping[str, Any]]
_finder: Finder | None = None


def _find_iocs() -> Finder:
    """ioc-finder's entry point, imported on first use (its grammars take ~0.5 s to build).

    Its import warns (a pyparsing diagnostic about its own grammar); the test suite turns
    warnings into errors, so the import is done with that one category silenced.
    """
    global _finder
    if _finder is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from ioc_finder import find_iocs  # type: ignore[import-untyped]

        _finder = find_iocs
    return _finder


def _lines_of(text: str) -> Iterable[tuple[int, str]]:
    return enumerate(text.splitlines(), 1)


def extract_text(text: str, source: str) -> list[FeedEntry]:
    """The indicators in ``text``, canonical, each once, with its first line.

    A text that starts as an HTML document (``<!DOCTYPE html>``, ``<html>``) is read as
    one, with :func:`extract_html`.

    ``source`` names the text in the entries' tags-free output (kept for symmetry with
    the other readers and for callers' messages). Never raises on odd input: a value
    the canonicaliser refuses is extraction noise and is skipped.
    """
    if _HTML_START_RE.match(text):
        return extract_html(text, source)
    return _extract(_lines_of(text), source)


_HTML_START_RE = re.compile(r"\s*(?:<!doctype html|<html[\s>])", re.IGNORECASE)


def extract_html(html: str, source: str) -> list[FeedEntry]:
    """:func:`extract_text` over the visible text of an HTML page (scripts, styles dropped).

    >>> page = "<p>C2:\\n<b>evil-cdn[.]net</b></p><script>var x='1.2.3.4'</script>"
    >>> [(e.line, e.value) for e in extract_html(page, "post.html")]
    [(2, 'evil-cdn.net')]
    """
    return _extract(html_lines(html), source)


def _extract(lines: Iterable[tuple[int, str]], source: str) -> list[FeedEntry]:
    del source  # the entries carry the line; the caller knows the source
    find = _find_iocs()
    seen: set[tuple[ObservableType, str]] = set()
    out: list[FeedEntry] = []
    for lineno, raw in lines:
        if not _MAYBE_IOC_RE.search(raw):
            continue
        line = refang(raw)
        try:
            found = find(
                line,
                parse_domain_from_url=False,
                parse_from_url_path=False,
                parse_domain_from_email_address=False,
                parse_address_from_cidr=False,
                parse_domain_name_from_xmpp_address=False,
                parse_urls_without_scheme=False,
                included_ioc_types=list(_KINDS),
            )
        except Exception:
            continue
        for _, _, entry in sorted(_entries(found, line, raw, lineno)):
            key = (entry.type, entry.value)
            if key not in seen:
                seen.add(key)
                out.append(entry)
    return out


def _entries(
    found: Mapping[str, Any], line: str, raw: str, lineno: int
) -> Iterable[tuple[int, int, FeedEntry]]:
    """Entries of one line, with their place in it (to keep the report's order)."""
    lowered = line.lower()
    for order, (key, kind) in enumerate(_KINDS.items()):
        values = found.get(key)
        if not isinstance(values, list):
            continue
        for value in values:
            if not isinstance(value, str):
                continue
            if kind is ObservableType.DOMAIN and _file_like(value, raw):
                continue
            if kind is ObservableType.IPV4 and _version_like(value, line):
                continue
            if kind is ObservableType.ASN and value[:3].upper() == "ASN":
                value = value[3:]  # ioc-finder writes "ASN13335"; the number is enough
            try:
                canonical = canonicalise(kind, value)
            except InvalidObservable:
                continue
            yield lowered.find(value.lower()), order, FeedEntry(kind, canonical, None, None, lineno)


def _file_like(domain: str, raw: str) -> bool:
    """``setup.py``: a file, unless the report defanged it (then it meant a domain)."""
    labels = domain.lower().split(".")
    if len(labels) != 2 or labels[1] not in _FILE_LIKE_TLDS:
        return False
    return domain.lower() in raw.lower()  # found as written: not defanged


def _version_like(address: str, line: str) -> bool:
    at = line.find(address)
    return at > 0 and _VERSION_RE.search(line, 0, at) is not None


class _VisibleText(HTMLParser):
    """Visible text of an HTML page with the source line each piece starts on."""

    _HIDDEN = frozenset({"script", "style", "template", "noscript", "head"})
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: dict[int, list[str]] = {}
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BREAKS:
            self._add(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self.hidden:
            self.hidden -= 1
        elif tag in self._BREAKS:
            self._add(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self._add(data)

    def _add(self, data: str) -> None:
        first = self.getpos()[0]
        for offset, part in enumerate(data.split("\n")):
            self.lines.setdefault(first + offset, []).append(part)


def html_lines(html: str) -> list[tuple[int, str]]:
    """(source line, visible text) of an HTML document, in order; tags never join words."""
    parser = _VisibleText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        pass
    return [(n, "".join(parts)) for n, parts in sorted(parser.lines.items())]
