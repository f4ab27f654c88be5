"""MISP warninglists: known-benign values (public resolvers, top sites, cloud ranges…).

A value on a list is flagged with the list's name(s) and is not matched by default. The
lists come from the ``pymispwarninglists`` package's data; this module builds its own
index of them once per process, because the library's own check does not scale to
import sizes: its fast mode is exact string match only (no CIDR, no subdomains), and its
slow mode tests every entry of every list in Python for each value. Measured with
bench/intel_correlation.py (2 busy cores, docs/benchmarks.md): the library's slow mode
loads in 15-47 s and checks 1.6-2 values/s; its fast mode 10,000-41,000 values/s but
misses ranges and subdomains (3 hits where this index finds 7,357); this index builds
in 1.8-3.8 s (~140 MB) and checks 157,000-240,000 values/s.

    >>> index = WarninglistIndex.load()                    # doctest: +SKIP
    >>> index.flag([(ObservableType.IPV4, "8.8.8.8")])     # doctest: +SKIP
    {(<ObservableType.IPV4: 'ipv4'>, '8.8.8.8'): ['List of known IPv4 public DNS resolvers']}

How entries match (values are canonical observables, see :mod:`steppe.intel.observables`):

- IP lists (``cidr``, and IP entries of any list): longest-prefix tries (pytricia) per
  family, walking up to every enclosing range, so all lists holding a range are named.
  A CIDR value is flagged when a listed range contains it.
- Domains: ``hostname`` and ``substring`` lists cover the entry and its subdomains;
  ``string`` lists the exact entry; an entry written ``.example.com`` covers subdomains
  only. The walk up the parents stops at a public suffix (the ``tlds`` and Mozilla
  ``second-level-tlds`` lists): ``duckdns.org`` being a top site must not flag
  ``evil.duckdns.org``, which someone else registered.
- URLs: exact entries; a URL that is only a site root (``https://google.com/``) is as
  unspecific as its host, so its host is checked as a domain. A URL with a path on a
  benign host (a phishing form on a shared host) stays matchable.
- Hashes and e-mail addresses: exact; an e-mail's domain against lists of mail domains.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytricia

from steppe.errors import ConfigError
from steppe.intel.observables import ObservableType

__all__ = ["DEFAULT_DISABLED", "WarninglistIndex", "flag", "list_names"]

#: Lists left out unless configured otherwise. The two top-million rankings measure
#: traffic, not benignity (Tranco's authors warn against using them as allow-lists), and
#: flagging a million domains hides abused ones; they also take most of the index's
#: build time and memory. The top-10k/20k lists stay on.
DEFAULT_DISABLED = frozenset({"tranco", "google-chrome-crux-1million"})

Hits = dict[tuple[ObservableType | str, str], list[str]]

_IP_ATTRS = {"ip-src", "ip-dst", "domain|ip", "ip-src|port", "ip-dst|port"}
_DOMAIN_ATTRS = {"hostname", "domain", "domain|ip", "hostname|port"}
_URL_ATTRS = {"url", "uri"}
_EMAIL_ATTRS = {"email-src", "email-dst", "target-email", "whois-registrant-email", "dns-soa-email"}
_HASH_ATTRS = {
    ObservableType.MD5: {"md5", "filename|md5", "x509-fingerprint-md5"},
    ObservableType.SHA1: {"sha1", "filename|sha1", "x509-fingerprint-sha1"},
    ObservableType.SHA256: {"sha256", "filename|sha256", "x509-fingerprint-sha256"},
}
_HASH_LENGTH = {32: ObservableType.MD5, 40: ObservableType.SHA1, 64: ObservableType.SHA256}
_HEX = re.compile(r"[0-9a-f]+")
_IP_KINDS = (ObservableType.IPV4, ObservableType.IPV6, ObservableType.CIDR)
# Module constants: each access to an enum member is a descriptor call (check runs for
# every imported value).
_DOMAIN, _URL, _EMAIL = ObservableType.DOMAIN, ObservableType.URL, ObservableType.EMAIL
# An http(s)/ftp URL with a plain host (no userinfo, port or brackets), a path, and no
# whitespace, control character or fragment: the host, and the path with its query, as
# urlsplit would find them (tests/intel/test_warninglists.py checks it).
_PLAIN_URL = re.compile(r"(?:https?|ftp)://([a-z0-9._-]+)(/[\x21-\x22\x24-\x7e]*)", re.ASCII)


def _data_dir() -> Path:
    # The package's data, found without importing the package: its import pulls in
    # jsonschema and took 3 s here, longer than building the whole index.
    spec = importlib.util.find_spec("pymispwarninglists")
    if spec is None or spec.origin is None:
        raise ConfigError("pymispwarninglists is not installed")
    return Path(spec.origin).parent / "data" / "misp-warninglists" / "lists"


@dataclass
class WarninglistIndex:
    """Every list's entries, indexed for fast checks. Build once: :meth:`load`."""

    names: list[str] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # folder name (the setting's key) -> name
    domain_exact: dict[str, tuple[str, ...]] = field(default_factory=dict)
    domain_tree: dict[str, tuple[str, ...]] = field(default_factory=dict)  # entry + subdomains
    subdomains_only: dict[str, tuple[str, ...]] = field(default_factory=dict)
    public_suffixes: set[str] = field(default_factory=set)
    exact: dict[tuple[ObservableType | str, str], tuple[str, ...]] = field(default_factory=dict)
    mail_domains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    mail_regexes: list[tuple[re.Pattern[str], str]] = field(default_factory=list)
    ipv4: Any = field(default_factory=lambda: pytricia.PyTricia(32))
    ipv6: Any = field(default_factory=lambda: pytricia.PyTricia(128))

    @classmethod
    def load(cls, disabled: Iterable[str] = DEFAULT_DISABLED) -> WarninglistIndex:
        """The index of the installed lists but ``disabled`` ones (by key or name).

        Built on first use and kept for the process (one per distinct ``disabled``).
        """
        return _load(frozenset(disabled))

    def add_list(self, doc: dict[str, Any], key: str | None = None) -> None:
        """Index one list in MISP's warninglist JSON format."""
        name: str = doc["name"]
        self.keys[key or name] = name
        kind: str = doc["type"]
        attrs = set(doc.get("matching_attributes") or ())
        every = not attrs  # MISP: no matching_attributes means every type
        self.names.append(name)
        for_ip = every or bool(attrs & _IP_ATTRS)
        for_domain = every or bool(attrs & _DOMAIN_ATTRS)
        for_url = every or bool(attrs & _URL_ATTRS)
        for_email = every or bool(attrs & _EMAIL_ATTRS)
        hash_kinds = [k for k, a in _HASH_ATTRS.items() if every or attrs & a]
        if stem := doc.get("list"):
            entries: list[str] = [str(e).strip() for e in stem]
        else:
            return
        if _is_public_suffix_list(doc):
            self.public_suffixes.update(e.lower().strip(".") for e in entries)
        if kind == "regex":
            if for_email:
                for entry in entries:
                    if (pattern := _misp_regex(entry)) is not None:
                        self.mail_regexes.append((pattern, name))
            return
        tree = kind in ("hostname", "substring")
        cache: dict[tuple[str, ...], tuple[str, ...]] = {}
        for raw in entries:
            entry = raw.lower().rstrip(".")
            if not entry:
                continue
            if for_ip and (entry[0].isdigit() or ":" in entry) and self._add_ip(entry, name):
                continue
            if (length := len(entry)) in _HASH_LENGTH and _HEX.fullmatch(entry):
                kind_of = _HASH_LENGTH[length]
                if kind_of in hash_kinds:
                    _put(self.exact, (kind_of, entry), name, cache)
                    continue
            if "://" in entry:
                if for_url:
                    _put(self.exact, (ObservableType.URL, entry), name, cache)
                continue
            if "@" in entry:
                if for_email:
                    _put(self.exact, (ObservableType.EMAIL, entry), name, cache)
                continue
            if "/" in entry:
                continue  # a path without a scheme: nothing canonical matches it
            if for_email and tree:
                _put(self.mail_domains, entry.lstrip("."), name, cache)
            if for_domain or for_url:
                if entry.startswith("."):
                    _put(self.subdomains_only, entry[1:], name, cache)
                elif tree:
                    _put(self.domain_tree, entry, name, cache)
                else:
                    _put(self.domain_exact, entry, name, cache)

    def _add_ip(self, entry: str, name: str) -> bool:
        # pytricia parses the text itself (and masks host bits): ipaddress.ip_network per
        # entry was two thirds of the index's build time (135,000 IP entries).
        trie = self.ipv6 if ":" in entry else self.ipv4
        try:
            # get() answers the longest enclosing prefix; has_key() the exact one
            current = trie.get(entry) if trie.has_key(entry) else None
            if current is None:
                trie[entry] = (name,)
            elif name not in current:
                trie[entry] = (*current, name)
        except (ValueError, KeyError, SystemError):
            return False
        return True

    def check(self, kind: ObservableType | str, value: str) -> tuple[str, ...]:
        """Names of the lists ``value`` (canonical, of type ``kind``) is on.

        ``kind`` may be the type's name as stored (``"ipv4"``): ObservableType is a
        StrEnum, so both hash and compare alike.
        """
        if kind in _IP_KINDS:
            return self._ip(value)
        if kind == _DOMAIN:
            return self._domain(value)
        if kind == _URL:
            found = self.exact.get((kind, value), ())
            plain = _PLAIN_URL.fullmatch(value)
            if plain is not None:  # what urlsplit says of it, without urlsplit (~8 µs)
                path, _, query = plain[2].partition("?")
                if path == "/" and not query:
                    found = _merge(found, self._domain(plain[1]))
                return found
            parts = urlsplit(value)
            if parts.path in ("", "/") and not parts.query and parts.hostname:
                found = _merge(found, self._domain(parts.hostname))
            return found
        if kind == _EMAIL:
            found = self.exact.get((kind, value), ())
            domain = value.rpartition("@")[2]
            found = _merge(found, self._walk(domain, self.mail_domains, None))
            for pattern, name in self.mail_regexes:
                if pattern.search(value):
                    found = _merge(found, (name,))
            return found
        return self.exact.get((kind, value), ())

    def _ip(self, value: str) -> tuple[str, ...]:
        trie = self.ipv6 if ":" in value else self.ipv4
        try:
            key = trie.get_key(value)
        except (ValueError, KeyError):
            return ()
        found: tuple[str, ...] = ()
        while key is not None:
            found = _merge(found, trie[key])
            key = trie.parent(key)
        return found

    def _domain(self, value: str) -> tuple[str, ...]:
        found = self.domain_exact.get(value, ())
        return _merge(found, self._walk(value, self.domain_tree, self.subdomains_only))

    def _walk(
        self,
        value: str,
        tree: dict[str, tuple[str, ...]],
        parents_only: dict[str, tuple[str, ...]] | None,
    ) -> tuple[str, ...]:
        """Entries of ``tree`` covering ``value`` or a parent, up to a public suffix."""
        found = tree.get(value, ())
        name = value
        suffixes = self.public_suffixes
        while (dot := name.find(".")) >= 0:
            name = name[dot + 1 :]
            if name in suffixes:
                break  # subdomains of a public suffix belong to different registrants
            found = _merge(found, tree.get(name, ()))
            if parents_only is not None:
                found = _merge(found, parents_only.get(name, ()))
        return found

    def flag(self, values: Iterable[tuple[ObservableType | str, str]]) -> Hits:
        """The values that are on a list, each with the lists' names.

        Values must be canonical (as stored); values on no list are left out.
        """
        hits: Hits = {}
        check = self.check
        for kind, value in values:
            names = check(kind, value)
            if names:
                hits[(kind, value)] = list(names)
        return hits


@lru_cache(maxsize=4)
def _load(disabled: frozenset[str]) -> WarninglistIndex:
    index = WarninglistIndex()
    for path in sorted(_data_dir().glob("*/list.json")):
        key = path.parent.name
        if key in disabled and key not in _PUBLIC_SUFFIX_KEYS:
            continue  # not even read: the disabled top-million lists are 40 MB of JSON
        with path.open("rb") as f:
            doc = json.load(f)
        if key not in disabled and doc.get("name") not in disabled:
            index.add_list(doc, key)
        elif _is_public_suffix_list(doc):  # still needed to stop the walk up the parents
            index.public_suffixes.update(str(e).lower().strip(".") for e in doc["list"])
    # The index lives as long as the process: out of the garbage collector's reach, or
    # every full collection walks its ~230,000 objects (75 ms each, measured; one every
    # few TAXII envelopes in a server). Like steppe.api.app.settle_heap, which runs
    # before the index is first built.
    gc.freeze()
    return index


def _put(
    table: dict[Any, tuple[str, ...]],
    key: Any,
    name: str,
    cache: dict[tuple[str, ...], tuple[str, ...]],
) -> None:
    current = table.get(key)
    if current is None:
        new: tuple[str, ...] = (name,)
    elif name in current:
        return
    else:
        new = (*current, name)
    # Millions of entries share a few name tuples: keep one object per distinct tuple.
    table[key] = cache.setdefault(new, new)


def _merge(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    if not b:
        return a
    if not a:
        return b
    return a + tuple(n for n in b if n not in a)


_PUBLIC_SUFFIX_KEYS = frozenset({"tlds", "second-level-tlds"})


def _is_public_suffix_list(doc: dict[str, Any]) -> bool:
    name = str(doc.get("name", "")).lower()
    return name.startswith(("tlds as known", "second level tlds"))


def _misp_regex(entry: str) -> re.Pattern[str] | None:
    """``/pattern/flags`` as MISP writes it, compiled; None when Python cannot read it."""
    if not entry.startswith("/") or entry.rfind("/") == 0:
        return None
    end = entry.rfind("/")
    flags = re.IGNORECASE if "i" in entry[end + 1 :] else 0
    try:
        return re.compile(entry[1:end], flags)
    except re.error:
        return None


def flag(
    values: Iterable[tuple[ObservableType | str, str]],
    disabled: Iterable[str] = DEFAULT_DISABLED,
) -> Hits:
    """Warninglist hits for canonical ``values``, with the process-wide index.

    For the importers' fast paths: one call per batch, not per value.

    >>> flag([(ObservableType.DOMAIN, "google.com")])  # doctest: +SKIP
    {(<ObservableType.DOMAIN: 'domain'>, 'google.com'): ['List of known google domains', …]}
    """
    return WarninglistIndex.load(disabled).flag(values)


def list_names(disabled: Iterable[str] = DEFAULT_DISABLED) -> dict[str, str]:
    """Key (folder name, for the ``disabled`` setting) -> name of each enabled list."""
    return dict(sorted(WarninglistIndex.load(disabled).keys.items()))
