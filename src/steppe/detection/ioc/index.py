"""The IOC index: every active indicator's values, each with who may see it.

One dict per kind of value (IP, domain, URL, hash, email) maps the canonical value to
the union of its indicators' audience masks — the only thing the hot path touches; a
miss costs one dict look-up. On a hit the postings (indicators, each with its mask) say which
indicators the matching organisation may see. CIDRs live in a pytricia trie per address
family, walked from the longest prefix up to the first one the organisation may see.

Updates are incremental: :meth:`IocIndex.add` and :meth:`IocIndex.remove` touch only the
indicator's own values, so a revoked indicator stops matching at once; an indicator
whose ``valid_until`` has passed is skipped at match time, before any rebuild.

    >>> index = IocIndex()
    >>> index.add(IndicatorRef(7, "indicator--1", 2, 80, "amber", None),
    ...           [("domain", "evil.example")], audience=0b100)
    >>> [h.value for h in index.match_domain("a.b.evil.example", org_id=2, now="2026")]
    ['evil.example']
    >>> index.match_domain("a.b.evil.example", org_id=3, now="2026")
    []
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pytricia

__all__ = [
    "KINDS",
    "Hit",
    "IndicatorRef",
    "IocIndex",
    "cidr_screen_keys",
    "host_tail",
    "url_host",
]

#: Observable types the matcher uses, and the table each goes to.
KINDS = {
    "ipv4": "ip",
    "ipv6": "ip",
    "cidr": "cidr",
    "domain": "domain",
    "url": "url",
    "email": "email",
    "md5": "hash",
    "sha1": "hash",
    "sha256": "hash",
}


@dataclass(frozen=True, slots=True)
class IndicatorRef:
    """What an alert needs to know of a matched indicator."""

    pk: int
    stix_id: str
    owner_org_id: int
    confidence: int | None
    tlp: str
    valid_until: str | None  # stored timestamp; matching stops once it has passed
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One indicator value found in one event field, visible to the matching org."""

    indicator: IndicatorRef
    kind: str  # observable type of the indicator value
    value: str  # the indicator's value (a parent domain, a CIDR, …)
    observed: str  # what the event had


class IocIndex:
    """Canonical value → audience mask, with postings for the rare hit."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, int]] = {
            t: {} for t in ("ip", "domain", "url", "email", "hash")
        }
        # (table, value) → the pk of its one indicator, or a set when several share it;
        # audiences by pk. A dict per value would cost ~200 bytes for each of a million.
        self._postings: dict[tuple[str, str], int | set[int]] = {}
        self._audience: dict[int, int] = {}
        self._tries = {4: pytricia.PyTricia(32), 6: pytricia.PyTricia(128)}
        # pytricia's len() walks the whole tree (85 µs at 10,000 prefixes): count here.
        self._cidr_count = {4: 0, 6: 0}
        self.indicators: dict[int, IndicatorRef] = {}
        self._values: dict[int, list[tuple[str, str]]] = {}
        # stix id → pk; the rare second version of one stix id (another owner's) in
        # _more_by_stix. A set per id would cost 200 bytes for each of a million.
        self._by_stix: dict[str, int] = {}
        self._more_by_stix: dict[str, set[int]] = {}
        #: Last two labels of every domain (and URL host) value, counted: the matcher's
        #: prefilter. An event name whose last two labels are not here cannot hit.
        self.tails: dict[str, int] = {}
        #: How many of those values are a single label (``localhost``, a TLD): only then
        #: must the prefilter look up an event name's last label too.
        self.single_labels = 0
        #: How many exact IP values are IPv6: only then can an event's IPv6 address hit
        #: one (a screen's question; CIDRs have ``_cidr_count``).
        self.ipv6_values = 0
        #: The screen of the IPv4 CIDRs by text: every ``"a.b.c."`` /24 (CIDRs of /16 or
        #: longer), ``"a.b."`` /16 (/8 to /15) and ``"a."`` /8 (shorter) that a CIDR
        #: covers, counted; and how many keys each level (24, 16, 8) has. An address whose
        #: keys are not here is in no CIDR (:mod:`~steppe.detection.ioc.jsonevents`).
        self.cidr_keys: dict[str, int] = {}
        self.cidr_key_levels = {24: 0, 16: 0, 8: 0}
        #: Bumped by every :meth:`add` and :meth:`remove`: lets a columnar matcher know
        #: when the value sets it derived from the index are stale.
        self.generation = 0
        #: Screen keys new since :attr:`screen_log_start` — ``("I", address)``, ``("C",
        #: cidr key)``, ``("T", tail)``, ``("H", hash)`` — so that a compiled screen
        #: (:mod:`~steppe.detection.ioc.screen`) catches up without a rebuild. Removals
        #: are only counted (:attr:`removed_values`): a stale screen key merely sends an
        #: event to the exact matcher. Trimmed past :data:`SCREEN_LOG_LIMIT` entries, and
        #: kept only once a screen asked for it (``keep_screen_log``).
        self.keep_screen_log = False
        self.screen_log: list[tuple[str, str]] = []
        self.screen_log_start = 0
        self.removed_values = 0

    def __len__(self) -> int:
        return len(self.indicators)

    # -- updates -------------------------------------------------------------------------

    def add(self, ref: IndicatorRef, values: Iterable[tuple[str, str]], *, audience: int) -> None:
        """Index ``ref``'s (type, canonical value) pairs, visible to ``audience``.

        Adding an indicator again replaces its previous values and audience.
        """
        if ref.pk in self.indicators:
            self.remove(ref.pk)
        self.generation += 1
        kept: list[tuple[str, str]] = []
        for obs_type, value in values:
            table = KINDS.get(obs_type)
            if table is None:
                continue
            if table == "cidr":
                value = cidr_key(value)  # the trie prints networks its own way
            key = (table, value)
            current = self._postings.get(key)
            if current is None:
                self._postings[key] = ref.pk
            elif isinstance(current, int):
                if current != ref.pk:
                    self._postings[key] = {current, ref.pk}
            else:
                current.add(ref.pk)
            if current is None and table in ("domain", "url"):
                tail = host_tail(value if table == "domain" else url_host(value))
                self.tails[tail] = self.tails.get(tail, 0) + 1
                self.single_labels += "." not in tail
                self._log_screen_key("T", tail)
            elif current is None and table == "ip":
                self.ipv6_values += ":" in value
                self._log_screen_key("I", value)
            elif current is None and table == "hash":
                self._log_screen_key("H", value)
            self._audience[ref.pk] = audience
            self._refresh(key)
            kept.append(key)
        if kept:
            self.indicators[ref.pk] = ref
            self._values[ref.pk] = kept
            if self._by_stix.setdefault(ref.stix_id, ref.pk) != ref.pk:
                self._more_by_stix.setdefault(ref.stix_id, set()).add(ref.pk)

    def remove_stix(self, stix_id: str) -> int:
        """Forget every indexed version of ``stix_id`` (by any owner). Returns how many."""
        pks = self._more_by_stix.pop(stix_id, set())
        first = self._by_stix.pop(stix_id, None)
        if first is not None:
            pks.add(first)
        for pk in pks:
            self.remove(pk)
        return len(pks)

    def remove(self, pk: int) -> bool:
        """Forget indicator ``pk`` (revoked, expired, no longer visible). True if known."""
        keys = self._values.pop(pk, None)
        ref = self.indicators.pop(pk, None)
        if keys is None:
            return False
        self.generation += 1
        if ref is not None:
            self._forget_stix(ref.stix_id, pk)
        for key in keys:
            current = self._postings.get(key)
            if isinstance(current, set):
                current.discard(pk)
                if len(current) == 1:
                    self._postings[key] = next(iter(current))
            elif current == pk:
                del self._postings[key]
                self.removed_values += 1
                if key[0] in ("domain", "url"):
                    tail = host_tail(key[1] if key[0] == "domain" else url_host(key[1]))
                    left = self.tails.get(tail, 0) - 1
                    self.single_labels -= "." not in tail
                    if left > 0:
                        self.tails[tail] = left
                    else:
                        self.tails.pop(tail, None)
                elif key[0] == "ip" and ":" in key[1]:
                    self.ipv6_values -= 1
            self._refresh(key)
        self._audience.pop(pk, None)
        return True

    def _refresh(self, key: tuple[str, str]) -> None:
        table, value = key
        pks = self._pks(key)
        mask = 0
        for pk in pks:
            mask |= self._audience[pk]
        if table == "cidr":
            family = 6 if ":" in value else 4
            trie = self._tries[family]
            # has_key, not `in`: `in` is a longest-prefix search (a /8 "contains" a /16).
            if pks:
                if not trie.has_key(value):
                    self._cidr_count[family] += 1
                    trie[value] = True
                    if family == 4:
                        self._count_cidr_keys(value, 1)
            elif trie.has_key(value):
                del trie[value]
                self._cidr_count[family] -= 1
                if family == 4:
                    self._count_cidr_keys(value, -1)
        elif pks:
            self.tables[table][value] = mask
        else:
            self.tables[table].pop(value, None)

    def _count_cidr_keys(self, prefix: str, step: int) -> None:
        level, keys = cidr_screen_keys(prefix)
        counts = self.cidr_keys
        for k in keys:
            left = counts.get(k, 0) + step
            if left > 0:
                if left == 1 and step > 0:
                    self.cidr_key_levels[level] += 1
                    self._log_screen_key("C", k)
                counts[k] = left
            else:
                counts.pop(k, None)
                self.cidr_key_levels[level] -= 1

    def _log_screen_key(self, kind: str, value: str) -> None:
        if not self.keep_screen_log:
            return
        log = self.screen_log
        if len(log) >= SCREEN_LOG_LIMIT:  # screens that far behind rebuild instead
            self.screen_log_start += len(log)
            log.clear()
        log.append((kind, value))

    def _pks(self, key: tuple[str, str]) -> tuple[int, ...] | set[int]:
        current = self._postings.get(key)
        if current is None:
            return ()
        if isinstance(current, int):
            return (current,)
        return current

    def _forget_stix(self, stix_id: str, pk: int) -> None:
        more = self._more_by_stix.get(stix_id)
        if more is not None:
            more.discard(pk)
        if self._by_stix.get(stix_id) == pk:
            del self._by_stix[stix_id]
            if more:
                self._by_stix[stix_id] = more.pop()
        if more is not None and not more:
            del self._more_by_stix[stix_id]

    # -- look-ups (the callers normalise the observed value) ------------------------------

    def hits(self, table: str, value: str, observed: str, org_id: int, now: str) -> list[Hit]:
        """Indicators behind ``value`` in ``table`` that ``org_id`` may see and are valid."""
        mask = self.tables[table].get(value)
        if mask is None or not (mask >> org_id) & 1:
            return []
        return self._visible((table, value), observed, org_id, now)

    def _visible(self, key: tuple[str, str], observed: str, org_id: int, now: str) -> list[Hit]:
        found = []
        for pk in self._pks(key):
            if not (self._audience[pk] >> org_id) & 1:
                continue
            ref = self.indicators[pk]
            if ref.valid_until is not None and ref.valid_until <= now:
                continue
            found.append(Hit(ref, _observable_type(*key), key[1], observed))
        return found

    def match_domain(self, domain: str, org_id: int, now: str) -> list[Hit]:
        """``domain`` and each parent: an ``evil.example`` indicator hits ``a.evil.example``."""
        table = self.tables["domain"]
        name = domain
        found: list[Hit] = []
        while True:
            mask = table.get(name)
            if mask is not None and (mask >> org_id) & 1:
                found.extend(self.hits("domain", name, domain, org_id, now))
            dot = name.find(".")
            if dot < 0:
                return found
            name = name[dot + 1 :]

    def match_cidr(self, ip: str, org_id: int, now: str) -> list[Hit]:
        """The longest prefix containing ``ip`` among those ``org_id`` may see."""
        family = 6 if ":" in ip else 4
        if not self._cidr_count[family]:
            return []
        trie = self._tries[family]
        try:
            prefix = trie.get_key(ip)
        except ValueError:
            return []
        while prefix is not None:
            found = self._visible(("cidr", prefix), ip, org_id, now)
            if found:
                return found
            prefix = trie.parent(prefix)
        return []

    def has_cidrs(self) -> bool:
        return bool(self._cidr_count[4] or self._cidr_count[6])

    def cidr_audiences(self) -> Iterator[tuple[str, int]]:
        """Every indexed network (``"203.0.113.0/24"``) with the union of its audiences."""
        for family in (4, 6):
            if not self._cidr_count[family]:
                continue
            for prefix in self._tries[family]:
                mask = 0
                for pk in self._pks(("cidr", prefix)):
                    mask |= self._audience[pk]
                yield prefix, mask


#: Entries of :attr:`IocIndex.screen_log` kept before it is trimmed.
SCREEN_LOG_LIMIT = 200_000

_HASH_TYPES = {32: "md5", 40: "sha1", 64: "sha256"}


def _observable_type(table: str, value: str) -> str:
    """The observable type of an indexed value (told by its table and its form)."""
    if table == "ip":
        return "ipv6" if ":" in value else "ipv4"
    if table == "hash":
        return _HASH_TYPES[len(value)]
    return table


def host_tail(name: str) -> str:
    """The last two labels of a host name (all of it if it has fewer).

    >>> host_tail("a.b.evil.example"), host_tail("localhost")
    ('evil.example', 'localhost')
    """
    last = name.rfind(".")
    if last < 0:
        return name
    return name[name.rfind(".", 0, last) + 1 :]


def url_host(url: str) -> str:
    """The host of a canonical URL (lower-case, no port, no user info).

    >>> url_host("http://user@evil.example:8080/a?b")
    'evil.example'
    """
    rest = url.split("://", 1)[-1]
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    authority = authority.rsplit("@", 1)[-1]
    if authority.startswith("["):
        return authority[1 : authority.find("]")]
    return authority.split(":", 1)[0]


def cidr_screen_keys(prefix: str) -> tuple[int, list[str]]:
    """The text keys an IPv4 network is screened by: its level and each key it covers.

    >>> cidr_screen_keys("203.0.112.0/23")
    (24, ['203.0.112.', '203.0.113.'])
    >>> level, keys = cidr_screen_keys("10.0.0.0/8")
    >>> level, len(keys), keys[:2]
    (16, 256, ['10.0.', '10.1.'])
    """
    net, _, length = prefix.partition("/")
    bits = int(length)
    base = int(ipaddress.IPv4Address(net))
    level = 24 if bits >= 16 else 16 if bits >= 8 else 8
    keys = []
    for k in range(1 << max(0, level - bits)):
        address = base + (k << (32 - level))
        octets = [str((address >> shift) & 255) for shift in (24, 16, 8)][: level // 8]
        keys.append(".".join(octets) + ".")
    return level, keys


def cidr_key(value: str) -> str:
    """The trie key of a canonical CIDR (pytricia prints networks the same way)."""
    return str(ipaddress.ip_network(value, strict=False))
