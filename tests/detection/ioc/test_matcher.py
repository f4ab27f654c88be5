"""Matching edge cases: parent domains, CIDR longest prefix, URLs, hashes, visibility."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steppe.detection.ioc.audience import bit
from steppe.detection.ioc.index import IndicatorRef, IocIndex
from steppe.detection.ioc.matcher import IocMatcher

NOW = "2026-06-01T00:00:00.000000Z"
KZ, KG, UZ = 2, 3, 4


def _ref(pk: int, valid_until: str | None = None) -> IndicatorRef:
    return IndicatorRef(pk, f"indicator--{pk}", KZ, 80, "green", valid_until)


def _matcher(*entries: tuple[int, str, str, int]) -> IocMatcher:
    index = IocIndex()
    for pk, kind, value, audience in entries:
        index.add(_ref(pk), [(kind, value)], audience=audience)
    return IocMatcher(index)


def _hits(matcher: IocMatcher, event: dict[str, str], org: int = KZ) -> set[tuple[str, str]]:
    found = {(h.field, h.hit.value) for h in matcher.match_event(event, org, NOW)}
    # The batch path's prefilter must never turn away an event that hits.
    batch = {
        (h.field, h.hit.value) for _, hits in matcher.match_events([event], org, NOW) for h in hits
    }
    assert batch == found
    return found


ALL = bit(KZ) | bit(KG) | bit(UZ)


@pytest.mark.parametrize(
    ("name", "hit"),
    [
        ("evil.example", True),
        ("a.b.evil.example", True),
        ("EVIL.Example.", True),
        ("notevil.example", False),  # a suffix that is not a label boundary
        ("evil.example.com", False),
        ("example", False),  # a parent of the indicator is not the indicator
    ],
)
def test_parent_domain_matching(name: str, hit: bool) -> None:
    matcher = _matcher((1, "domain", "evil.example", ALL))
    assert bool(_hits(matcher, {"dns.question.name": name})) is hit


def test_every_level_of_domain_that_is_an_indicator_hits() -> None:
    matcher = _matcher((1, "domain", "evil.example", ALL), (2, "domain", "b.evil.example", ALL))
    assert _hits(matcher, {"tls.server.sni": "a.b.evil.example"}) == {
        ("tls.server.sni", "evil.example"),
        ("tls.server.sni", "b.evil.example"),
    }


def test_cidr_longest_prefix_among_the_visible_ones() -> None:
    matcher = _matcher(
        (1, "cidr", "10.0.0.0/8", ALL),
        (2, "cidr", "10.1.0.0/16", bit(KG)),  # longer, but KZ may not see it
        (3, "cidr", "2001:db8::/32", ALL),
    )
    assert _hits(matcher, {"destination.ip": "10.1.2.3"}, KG) == {("destination.ip", "10.1.0.0/16")}
    assert _hits(matcher, {"destination.ip": "10.1.2.3"}, KZ) == {("destination.ip", "10.0.0.0/8")}
    assert _hits(matcher, {"destination.ip": "11.0.0.1"}) == set()
    assert _hits(matcher, {"source.ip": "2001:DB8:0::1"}) == {("source.ip", "2001:db8::/32")}
    assert _hits(matcher, {"source.ip": "2001:db9::1"}) == set()
    assert _hits(matcher, {"source.ip": "not an ip"}) == set()


def test_cidr_edges_network_broadcast_and_host_routes() -> None:
    matcher = _matcher((1, "cidr", "192.0.2.0/24", ALL), (2, "cidr", "198.51.100.7/32", ALL))
    assert _hits(matcher, {"destination.ip": "192.0.2.0"})
    assert _hits(matcher, {"destination.ip": "192.0.2.255"})
    assert not _hits(matcher, {"destination.ip": "192.0.3.0"})
    assert _hits(matcher, {"destination.ip": "198.51.100.7"})
    assert not _hits(matcher, {"destination.ip": "198.51.100.8"})


def test_exact_ips_v4_and_v6_spellings() -> None:
    matcher = _matcher((1, "ipv4", "203.0.113.9", ALL), (2, "ipv6", "2001:db8::1", ALL))
    assert _hits(matcher, {"destination.ip": "203.0.113.9"})
    assert _hits(matcher, {"destination.ip": "2001:0DB8:0:0:0:0:0:1"})
    assert not _hits(matcher, {"destination.ip": "203.0.113.90"})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://evil.example/a/b", {"http://evil.example/a/b"}),
        ("HTTP://EVIL.example:80/a/b", {"http://evil.example/a/b"}),
        ("http://evil.example/a/b#frag", {"http://evil.example/a/b"}),
        ("http://evil.example/a/b?x=1", set()),  # another resource
        ("http://evil.example/a", set()),
        ("https://sub.bad.example/x", {"bad.example"}),  # the URL's host, by parent domain
        ("http://user@bad.example:8080/", {"bad.example"}),
        ("http://203.0.113.9/x", {"203.0.113.9"}),  # a host that is an address
        ("not a url", set()),
    ],
)
def test_url_matching_normalises_and_checks_the_host(url: str, expected: set[str]) -> None:
    matcher = _matcher(
        (1, "url", "http://evil.example/a/b", ALL),
        (2, "domain", "bad.example", ALL),
        (3, "ipv4", "203.0.113.9", ALL),
    )
    assert {v for _, v in _hits(matcher, {"url.full": url})} == expected


def test_hashes_and_emails() -> None:
    sha = "a" * 64
    matcher = _matcher((1, "sha256", sha, ALL), (2, "email", "boss@evil.example", ALL))
    assert _hits(matcher, {"file.hash.sha256": sha.upper()}) == {("file.hash.sha256", sha)}
    assert _hits(matcher, {"email.from.address": "Boss@Evil.Example"})
    assert not _hits(matcher, {"file.hash.md5": "a" * 32})


def test_an_organisation_outside_the_audience_gets_nothing() -> None:
    matcher = _matcher((1, "domain", "evil.example", bit(KZ) | bit(KG)))
    event = {"dns.question.name": "evil.example", "destination.ip": "10.0.0.1"}
    assert _hits(matcher, event, KG)
    assert matcher.match_event(event, UZ, NOW) == []


def test_two_indicators_on_one_value_are_shown_only_to_their_audience() -> None:
    matcher = _matcher((1, "ipv4", "203.0.113.9", bit(KZ)), (2, "ipv4", "203.0.113.9", bit(KG)))
    found = matcher.match_event({"destination.ip": "203.0.113.9"}, KG, NOW)
    assert [h.hit.indicator.pk for h in found] == [2]


def test_removed_and_expired_indicators_stop_matching_without_a_rebuild() -> None:
    index = IocIndex()
    index.add(_ref(1), [("domain", "evil.example")], audience=ALL)
    index.add(
        _ref(2, valid_until="2026-05-01T00:00:00.000000Z"), [("ipv4", "1.2.3.4")], audience=ALL
    )
    index.add(_ref(3), [("cidr", "10.0.0.0/8")], audience=ALL)
    matcher = IocMatcher(index)
    event = {
        "dns.question.name": "x.evil.example",
        "source.ip": "1.2.3.4",
        "destination.ip": "10.9.9.9",
    }
    assert {h.hit.indicator.pk for h in matcher.match_event(event, KZ, "2026-04-01")} == {1, 2, 3}
    assert {h.hit.indicator.pk for h in matcher.match_event(event, KZ, NOW)} == {1, 3}
    assert index.remove(1) and index.remove(3)
    assert matcher.match_event(event, KZ, NOW) == []
    assert not index.tables["domain"] and not index.has_cidrs()
    assert not index.remove(1)


def test_re_adding_replaces_values_and_audience() -> None:
    index = IocIndex()
    index.add(_ref(1), [("domain", "old.example")], audience=ALL)
    index.add(_ref(1), [("domain", "new.example")], audience=bit(KG))
    matcher = IocMatcher(index)
    assert not matcher.match_event({"dns.question.name": "old.example"}, KG, NOW)
    assert not matcher.match_event({"dns.question.name": "new.example"}, KZ, NOW)
    assert matcher.match_event({"dns.question.name": "new.example"}, KG, NOW)


_LABELS = st.sampled_from(
    ["evil", "example", "a", "b", "EVIL", "xn--mnchen-3ya", "münchen", "de", ""]
)
_NAMES = st.lists(_LABELS, min_size=1, max_size=4).map(".".join) | st.sampled_from(
    ["evil.example.", "203.0.113.9", "[2001:db8::1]", "10.1.2.3", "2001:DB8::1"]
)


@settings(max_examples=400, deadline=None)
@given(
    name=_NAMES,
    ip=st.sampled_from(["203.0.113.9", "10.1.2.3", "10.200.0.1", "2001:db8::5", "x", "1.1.1.1"]),
    scheme=st.sampled_from(["http://", "HTTPS://", "", "http://u@"]),
    port=st.sampled_from(["", ":8080"]),
    path=st.sampled_from(["", "/", "/a/b", "/a/b#f", "/a/b?x=1"]),
)
def test_the_prefilter_never_drops_a_hit(
    name: str, ip: str, scheme: str, port: str, path: str
) -> None:
    matcher = _matcher(
        (1, "domain", "evil.example", ALL),
        (2, "domain", "xn--mnchen-3ya.de", ALL),
        (3, "url", "http://evil.example/a/b", ALL),
        (4, "ipv4", "203.0.113.9", ALL),
        (5, "cidr", "10.1.0.0/16", ALL),
        (6, "ipv6", "2001:db8::1", ALL),
        (7, "cidr", "2001:db8::/120", ALL),
    )
    for event in (
        {"dns.question.name": name, "destination.ip": ip},
        {"url.full": f"{scheme}{name}{port}{path}", "source.ip": ip},
        {"tls.server.sni": name, "url.domain": ip},
    ):
        _hits(matcher, event)


def test_remove_stix_forgets_every_owner_s_version() -> None:
    index = IocIndex()
    index.add(
        IndicatorRef(1, "indicator--x", KZ, 80, "green", None),
        [("domain", "a.example")],
        audience=ALL,
    )
    index.add(
        IndicatorRef(2, "indicator--x", KG, 80, "green", None),
        [("domain", "b.example")],
        audience=ALL,
    )
    index.add(
        IndicatorRef(3, "indicator--y", KG, 80, "green", None),
        [("domain", "a.example")],
        audience=ALL,
    )
    assert index.remove(1)
    assert index.remove_stix("indicator--x") == 1
    assert set(index.indicators) == {3}
    assert index.remove_stix("indicator--x") == 0
    matcher = IocMatcher(index)
    assert [
        h.hit.indicator.pk for h in matcher.match_event({"url.domain": "a.example"}, KZ, NOW)
    ] == [3]
    assert not matcher.match_event({"url.domain": "b.example"}, KZ, NOW)


def test_nested_cidrs_come_and_go_independently() -> None:
    index = IocIndex()
    index.add(_ref(1), [("cidr", "10.0.0.0/8")], audience=ALL)
    index.add(_ref(2), [("cidr", "10.1.0.0/16")], audience=ALL)
    matcher = IocMatcher(index)
    event = {"destination.ip": "10.1.2.3"}
    assert [h.hit.value for h in matcher.match_event(event, KZ, NOW)] == ["10.1.0.0/16"]
    index.remove(2)
    assert [h.hit.value for h in matcher.match_event(event, KZ, NOW)] == ["10.0.0.0/8"]
    index.add(_ref(2), [("cidr", "10.1.0.0/16")], audience=ALL)
    index.remove(1)
    assert [h.hit.value for h in matcher.match_event(event, KZ, NOW)] == ["10.1.0.0/16"]
    assert not matcher.match_event({"destination.ip": "10.2.0.1"}, KZ, NOW)
    index.remove(2)
    assert not index.has_cidrs() and not matcher.match_event(event, KZ, NOW)


@pytest.mark.parametrize(
    "event",
    [
        {"dns.question.name": "a.example"},
        {"url.full": "http://evil.example/a"},
        {"tls.server.sni": "EXAMPLE"},
    ],
)
def test_a_single_label_indicator_hits_its_sub_domains_in_the_batch_path_too(
    event: dict[str, str],
) -> None:
    # The prefilter looked up only an event name's last two labels, so a one-label
    # indicator (a TLD, "localhost") never reached the exact matcher in batches.
    matcher = _matcher((1, "domain", "example", ALL))
    assert _hits(matcher, event) == {(next(iter(event)), "example")}


@pytest.mark.parametrize("ip", ["10.0.0", "010.0.0.1", "1.2.3.256", " 10.0.0.1", "+1.2.3.4"])
def test_a_malformed_ipv4_with_cidrs_indexed_is_no_hit_and_no_crash(ip: str) -> None:
    # pytricia's `in` raises SystemError for these; the prefilter must pass them on.
    matcher = _matcher((1, "cidr", "10.0.0.0/8", ALL), (2, "ipv4", "10.0.0.1", ALL))
    assert _hits(matcher, {"source.ip": ip}) == set()
