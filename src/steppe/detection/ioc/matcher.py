"""Match telemetry events against the IOC index, for the organisation that sent them.

The same :class:`IocMatcher` serves streaming (events from the broker, in batches) and
batch (``steppe detect`` over the lake): it reads the normalised ECS fields of each
event, normalises the observed value only as far as the index's canonical spelling
needs, and asks the index — for the event's organisation only, so an organisation is
matched only against what it may see.

    >>> matcher = IocMatcher(index)                                   # doctest: +SKIP
    >>> matcher.match_event({"destination.ip": "203.0.113.9"}, org_id=2, now=now)  # doctest: +SKIP
    [EventHit(field='destination.ip', hit=Hit(...))]
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from steppe.detection.ioc.index import Hit, IocIndex, host_tail, url_host
from steppe.errors import InvalidObservable
from steppe.intel.observables import canonicalise

__all__ = [
    "DOMAIN_FIELDS",
    "EMAIL_FIELDS",
    "HASH_FIELDS",
    "IP_FIELDS",
    "MATCHED_FIELDS",
    "URL_FIELDS",
    "EventHit",
    "IocMatcher",
]

IP_FIELDS = ("source.ip", "destination.ip")
DOMAIN_FIELDS = ("dns.question.name", "destination.domain", "url.domain", "tls.server.sni")
URL_FIELDS = ("url.full",)
HASH_FIELDS = ("file.hash.md5", "file.hash.sha1", "file.hash.sha256")
EMAIL_FIELDS = ("email.from.address", "email.sender.address", "email.to.address")
#: Every field an event is matched on. The compiled screen (``_jsonscreen.c``) keeps its
#: own list of them; the equivalence tests build their events from this one.
MATCHED_FIELDS = IP_FIELDS + DOMAIN_FIELDS + URL_FIELDS + HASH_FIELDS + EMAIL_FIELDS


@dataclass(frozen=True, slots=True)
class EventHit:
    field: str
    hit: Hit


def _ip(value: str) -> str | None:
    """Canonical address text; IPv4 dotted quads are already canonical in the lake."""
    if ":" not in value:
        return value
    try:
        return str(ipaddress.ip_address(value.split("%", 1)[0]))
    except ValueError:
        return None


def _domain(value: str) -> str:
    # Cheap canonical form for the common case; IDN labels go through the full path.
    name = value.lower().rstrip(".")
    if name.isascii():
        return name
    try:
        return canonicalise("domain", value)
    except InvalidObservable:
        return name


# A name ending like this may be an address or need the full canonical form.
_ODD_ENDINGS = frozenset(".]0123456789")


class IocMatcher:
    """Events → hits against one :class:`IocIndex`."""

    def __init__(self, index: IocIndex) -> None:
        self.index = index

    def match_event(self, event: Mapping[str, Any], org_id: int, now: str) -> list[EventHit]:
        """Every indicator ``org_id`` may see that one of ``event``'s fields hits."""
        return list(self._match(event, org_id, now))

    def match_events(
        self, events: Iterable[Mapping[str, Any]], org_id: int, now: str
    ) -> Iterator[tuple[Mapping[str, Any], list[EventHit]]]:
        """``(event, hits)`` for each event of ``events`` that hits anything.

        Most events hit nothing: a cheap conservative test (:meth:`candidates`) turns
        them away before the exact matching runs.
        """
        for event in self.candidates(events):
            found = list(self._match(event, org_id, now))
            if found:
                yield event, found

    def could_hit(self, event: Mapping[str, Any]) -> bool:
        """False only if no field of ``event`` can hit any indicator (for anyone)."""
        return any(True for _ in self.candidates((event,)))

    def candidates(self, events: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        """The events that might hit an indicator; the others cannot.

        The hot path of detection (bench/ioc_match.py), so written for speed: names
        bound once per batch, one dict look-up per field where it can. Anything unusual
        (IPv6, a trailing dot, non-ASCII, an address in a name field, a value that is
        not a string) is passed on to the exact matcher.
        """
        index = self.index
        ips, hashes, emails = index.tables["ip"], index.tables["hash"], index.tables["email"]
        tails = index.tails
        single = index.single_labels > 0
        trie4 = index._tries[4]
        cidr_count = index._cidr_count
        ip_fields, domain_fields, url_fields = IP_FIELDS, DOMAIN_FIELDS, URL_FIELDS
        hash_fields, email_fields = HASH_FIELDS, EMAIL_FIELDS
        for event in events:
            get = event.get
            try:
                for field in ip_fields:
                    v = get(field)
                    if v and (v in ips or ":" in v or (cidr_count[4] and v in trie4)):
                        break
                else:
                    for field in domain_fields:
                        v = get(field)
                        if v and (
                            v[v.rfind(".", 0, v.rfind(".")) + 1 :].lower() in tails
                            or (single and v[v.rfind(".") + 1 :].lower() in tails)
                            or v[-1] in _ODD_ENDINGS
                            or ":" in v
                            or not v.isascii()
                        ):
                            break
                    else:
                        for field in url_fields:
                            v = get(field)
                            if v:
                                host = url_host(v)
                                if (
                                    not host
                                    or not host.isascii()
                                    or "%" in host
                                    or host[-1] in ".]"
                                    or host[-1].isdigit()
                                    or host_tail(host).lower() in tails
                                    or (single and host[host.rfind(".") + 1 :].lower() in tails)
                                ):
                                    break
                        else:
                            for field in hash_fields:
                                v = get(field)
                                if v and (v in hashes or v.lower() in hashes):
                                    break
                            else:
                                if not emails:
                                    continue
                                for field in email_fields:
                                    v = get(field)
                                    if v and v.strip().lower() in emails:
                                        break
                                else:
                                    continue
            except (TypeError, ValueError, AttributeError, IndexError, SystemError):
                # Not a string, not an address: the exact matcher decides. (pytricia's
                # `in` raises SystemError for a malformed IPv4 such as "10.0.0".)
                pass
            yield event

    def _match(self, event: Mapping[str, Any], org_id: int, now: str) -> Iterator[EventHit]:
        index = self.index
        tables = index.tables
        ips, cidrs = tables["ip"], index.has_cidrs()
        for field in IP_FIELDS:
            raw = event.get(field)
            if not raw or not isinstance(raw, str):
                continue
            ip = _ip(raw)
            if ip is None:
                continue
            if ip in ips:
                yield from (EventHit(field, h) for h in index.hits("ip", ip, raw, org_id, now))
            if cidrs:
                yield from (EventHit(field, h) for h in index.match_cidr(ip, org_id, now))
        seen_domains: set[str] = set()
        for field in DOMAIN_FIELDS:
            raw = event.get(field)
            if raw and isinstance(raw, str):
                name = _domain(raw)
                if name not in seen_domains:  # dns name and SNI are often the same
                    seen_domains.add(name)
                    yield from self._host(field, name, org_id, now)
        for field in URL_FIELDS:
            raw = event.get(field)
            if raw and isinstance(raw, str):
                yield from self._url(field, raw, org_id, now, seen_domains)
        hashes = tables["hash"]
        for field in HASH_FIELDS:
            raw = event.get(field)
            if raw and isinstance(raw, str):
                value = raw.lower()
                if value in hashes:
                    found = index.hits("hash", value, raw, org_id, now)
                    yield from (EventHit(field, h) for h in found)
        emails = tables["email"]
        if emails:
            for field in EMAIL_FIELDS:
                raw = event.get(field)
                if raw and isinstance(raw, str):
                    value = raw.strip().lower()
                    if value in emails:
                        found = index.hits("email", value, raw, org_id, now)
                        yield from (EventHit(field, h) for h in found)

    def _host(self, field: str, name: str, org_id: int, now: str) -> Iterator[EventHit]:
        index = self.index
        if name and (name[0].isdigit() or name[0] == "[" or ":" in name):
            ip = _ip(name.strip("[]"))
            if ip is not None and ip in index.tables["ip"]:
                yield from (EventHit(field, h) for h in index.hits("ip", ip, name, org_id, now))
                return
        yield from (EventHit(field, h) for h in index.match_domain(name, org_id, now))

    def _url(
        self, field: str, raw: str, org_id: int, now: str, seen_domains: set[str]
    ) -> Iterator[EventHit]:
        index = self.index
        try:
            url = canonicalise("url", raw)
        except InvalidObservable:
            return
        if url in index.tables["url"]:
            yield from (EventHit(field, h) for h in index.hits("url", url, raw, org_id, now))
        host = url_host(url)
        if host and host not in seen_domains:
            seen_domains.add(host)
            yield from self._host(field, host, org_id, now)
