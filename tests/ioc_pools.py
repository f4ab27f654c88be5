"""Indicators and event values for the IOC matchers' equivalence tests: chosen so that
events hit, nearly hit or miss, with the edge cases earlier tests found (single-label
domains, malformed IPv4, IPv6, CIDR edges, URLs with hosts, upper case)."""

from __future__ import annotations

from typing import Any

import orjson

from steppe.detection.ioc.audience import Coalition, audience_mask
from steppe.detection.ioc.index import IndicatorRef, IocIndex
from steppe.detection.ioc.matcher import (
    DOMAIN_FIELDS,
    EMAIL_FIELDS,
    HASH_FIELDS,
    IP_FIELDS,
    URL_FIELDS,
)
from steppe.sharing.model import Distribution, ObjectRights, OrgKind, TlpLevel

#: The organisation that produces every pool indicator.
PRODUCER = 2


def indicator_ref(pk: int, valid_until: str | None = None) -> IndicatorRef:
    """A pool indicator's reference: produced by :data:`PRODUCER`, confidence 80, GREEN."""
    return IndicatorRef(pk, f"indicator--{pk}", PRODUCER, 80, "green", valid_until)


def group_only_index(producer: int, member: int, outsider: int) -> IocIndex:
    """One AMBER indicator (``evil.example`` and ``10.0.0.0/8``) of ``producer``, shared
    with group 7 (``producer`` and ``member``); ``outsider`` is a member outside it."""
    coalition = Coalition(
        {1: OrgKind.COORDINATOR, **dict.fromkeys((producer, member, outsider), OrgKind.MEMBER)},
        {7: frozenset({producer, member})},
    )
    rights = ObjectRights(producer, Distribution.GROUPS, TlpLevel.AMBER, frozenset({7}))
    index = IocIndex()
    index.add(indicator_ref(1), [("domain", "evil.example"), ("cidr", "10.0.0.0/8")],
              audience=audience_mask(rights, coalition))  # fmt: skip
    return index


def comparable_hits(found: Any) -> list[tuple[str, list[tuple[str, str, str, int]]]]:
    """Hits in a comparable form: per event (its JSON), the hits in order."""
    return [
        (
            orjson.dumps(event, option=orjson.OPT_SORT_KEYS).decode(),
            [(h.field, h.hit.kind, h.hit.value, h.hit.indicator.pk) for h in hits],
        )
        for event, hits in found
    ]


# Canonical indicator values, chosen so that the events below hit, nearly hit or miss.
INDICATORS = [
    ("ipv4", "192.0.2.1"),
    ("ipv4", "10.0.0.1"),
    ("ipv6", "2001:db8::1"),
    ("cidr", "10.0.0.0/8"),
    ("cidr", "10.1.2.0/30"),
    ("cidr", "192.0.2.128/25"),
    ("cidr", "198.51.100.7/32"),
    ("cidr", "0.0.0.0/0"),
    ("cidr", "2001:db8:1::/48"),
    ("domain", "evil.example"),
    ("domain", "b.evil.example"),
    ("domain", "example"),
    ("domain", "xn--bcher-kva.example"),
    ("domain", "_dmarc.mail.test"),
    ("url", "http://evil.example/a"),
    ("url", "https://bad.test/x?y=1"),
    ("url", "http://[2001:db8::1]/p"),
    ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
    ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("email", "bad@evil.example"),
]

IPS = [
    "192.0.2.1", "192.0.2.2", "192.0.2.129", "192.0.2.255", "10.0.0.1", "10.1.2.3",
    "10.1.2.4", "11.0.0.0", "9.255.255.255", "198.51.100.7", "198.51.100.8", "0.0.0.0",
    "255.255.255.255", "2001:db8::1", "2001:DB8:0::1", "2001:db8:1::5", "fe80::1%eth0",
    "010.0.0.1", "10.0.0", "10.0.0.1.5", "1.2.3.256", "-0.1.2.3", "+1.2.3.4", " 10.0.0.1",
    "", "x", "::ffff:10.0.0.1",
]  # fmt: skip
NAMES = [
    "evil.example", "a.b.evil.example", "EVIL.Example.", "notevil.example", "example",
    "evil.example.com", "b.evil.example", "xn--bcher-kva.example", "bücher.example",
    "BÜCHER.example", "192.0.2.1", "[2001:db8::1]", "10.0.0.1", "a..evil.example",
    " evil.example", "_dmarc.mail.test", "x._dmarc.mail.test", "", "evil.example..",
    "host:evil.example", "localhost",
]  # fmt: skip
URLS = [
    "http://evil.example/a", "HTTP://Evil.Example:80/a", "http://evil.example/b",
    "https://x.evil.example/", "https://bad.test/x?y=1", "https://bad.test:443/x?y=1#f",
    "http://user@evil.example/", "http://evil.example@good.test/", " http://evil.example/a",
    "http://evil.example/a ", "http://evil.example.:8080/", "http://192.0.2.1/",
    "http://[2001:db8::1]/p", "mailto:bad@evil.example", "example", "evil.example/a",
    "http://ev%69l.example/a", "http://bücher.example/", "http://good.test/?u=http://evil.example/",
    "ftp://evil.example", "http://evil.example:99999/", "http:\\\\evil.example\\a", "",
]  # fmt: skip
HASHES = [
    "d41d8cd98f00b204e9800998ecf8427e", "D41D8CD98F00B204E9800998ECF8427E",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "00000000000000000000000000000000", "d41d8cd98f00b204e9800998ecf8427", "",
]  # fmt: skip
EMAILS = [
    "bad@evil.example", "Bad@Evil.Example", " bad@evil.example ", "bad@evil.example\x1c",
    "good@evil.example", "bad@evil.example.com", "",
]  # fmt: skip
# Built from the matcher's own field lists: a field added there enters every
# equivalence test, the compiled screen's (which lists its fields in C) included.
POOLS = {
    **dict.fromkeys(IP_FIELDS, IPS),
    **dict.fromkeys(DOMAIN_FIELDS, NAMES),
    **dict.fromkeys(URL_FIELDS, URLS),
    **dict.fromkeys(HASH_FIELDS, HASHES),
    **dict.fromkeys(EMAIL_FIELDS, EMAILS),
}
