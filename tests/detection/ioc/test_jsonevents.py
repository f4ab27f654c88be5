"""The JSON event matcher finds exactly what the row matcher finds, for every organisation,
from JSON lines and from a JSON array, before and after it has learnt a stream's fields."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ioc_pools import (
    INDICATORS,
    POOLS,
    PRODUCER,
    comparable_hits,
    group_only_index,
    indicator_ref,
)
from steppe.detection.ioc.audience import bit
from steppe.detection.ioc.index import IocIndex, cidr_screen_keys
from steppe.detection.ioc.jsonevents import JsonEventMatcher
from steppe.detection.ioc.matcher import IocMatcher
from steppe.errors import InputError

NOW = "2026-06-01T00:00:00.000000Z"
PAST, FUTURE = "2026-05-01T00:00:00.000000Z", "2026-07-01T00:00:00.000000Z"
KZ, KG, UZ = PRODUCER, 3, 4  # the pools' indicators are KZ-CERT's
ORGS = (KZ, KG, UZ)

# Networks screened at /16 and /8 keys, and address spellings only the CIDR trie reads
# (a prefix length after the address, a NUL after it), next to the shared pools.
MORE_INDICATORS = [
    ("cidr", "172.16.0.0/12"),
    ("cidr", "64.0.0.0/4"),
    ("cidr", "203.0.112.0/23"),
    ("ipv4", "203.0.113.9"),
    ("domain", "io"),
]
MORE_IPS = [
    "172.31.255.255", "172.32.0.0", "79.1.2.3", "80.0.0.0", "203.0.113.9", "203.0.113.10",
    "203.0.114.1", "10.1.2.3/30", "192.0.2.200/25", "10.0.0.1\x00x", "172.16.0.1/8",
    "203.0.113.9 ", "2001:db8:1::ffff", "[2001:db8::1]",
]  # fmt: skip
MORE_NAMES = ["T.IO", "io", "a.io.", "203.0.113.9", "Evil.Example", "x.y.b.evil.example"]
OTHER = [None, 7, 1.5, True, ["10.0.0.1"], {"ip": "10.0.0.1"}, "10.0.0.1"]

pools = {field: [*values] for field, values in POOLS.items()}
for field in ("source.ip", "destination.ip"):
    pools[field] += MORE_IPS
for field in ("dns.question.name", "tls.server.sni", "destination.domain", "url.domain"):
    pools[field] += MORE_NAMES


def _same_hits(index: IocIndex, events: list[dict[str, Any]]) -> None:
    lines = b"".join(orjson.dumps(e) + b"\n" for e in events)
    array = orjson.dumps(events)
    rows = IocMatcher(index)
    for compiled in (False, True):  # the Python screen, and the C one over the bytes
        by_lines = JsonEventMatcher(index, compiled=compiled)
        by_array = JsonEventMatcher(index, compiled=compiled)
        for org in ORGS:
            expected = comparable_hits(rows.match_events(events, org, NOW))
            for _ in range(2):  # the first batch teaches the fields, the second is screened
                assert comparable_hits(by_lines.match_lines(lines, org, NOW)) == expected
                assert comparable_hits(by_array.match_array(array, org, NOW)) == expected


indicators = st.lists(
    st.tuples(
        st.sampled_from(INDICATORS + MORE_INDICATORS),
        st.sets(st.sampled_from(ORGS)),  # audience
        st.sampled_from([None, None, PAST, FUTURE]),  # valid_until
        st.booleans(),  # revoked after being added
    ),
    max_size=25,
)
events = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            **{field: st.sampled_from([*pool, None, ""]) for field, pool in pools.items()},
            "@timestamp": st.just("2026-05-31T10:00:00Z"),
            "raw": st.fixed_dictionaries({"source.ip": st.sampled_from(MORE_IPS)}),
        },
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(indicators, events)
def test_json_hits_equal_row_hits(
    entries: list[tuple[tuple[str, str], set[int], str | None, bool]],
    generated: list[dict[str, Any]],
) -> None:
    index = IocIndex()
    for pk, ((kind, value), audience, valid_until, revoked) in enumerate(entries, 1):
        index.add(indicator_ref(pk, valid_until), [(kind, value)], audience=sum(map(bit, audience)))
        if revoked:
            index.remove(pk)
    _same_hits(index, generated)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"destination.ip": st.sampled_from(MORE_IPS)},
            optional={"source.ip": st.sampled_from(OTHER), "url.full": st.sampled_from(OTHER)},
        ),
        max_size=10,
    )
)
def test_values_that_are_not_strings_are_ignored_as_the_row_matcher_does(
    generated: list[dict[str, Any]],
) -> None:
    index = IocIndex()
    for pk, (kind, value) in enumerate(INDICATORS + MORE_INDICATORS, 1):
        index.add(indicator_ref(pk), [(kind, value)], audience=bit(KZ))
    _same_hits(index, generated)


def test_every_pool_value_against_every_indicator() -> None:
    index = IocIndex()
    for pk, (kind, value) in enumerate(INDICATORS + MORE_INDICATORS, 1):
        index.add(indicator_ref(pk), [(kind, value)], audience=bit(KZ) | bit(KG))
    rows = [{field: value} for field, pool in pools.items() for value in pool]
    _same_hits(index, rows)
    # Without the values that send a whole column value by value (non-ASCII names).
    _same_hits(index, [row for row in rows if all(v.isascii() for v in row.values())])
    lines = b"\n".join(map(orjson.dumps, rows))
    assert len(list(JsonEventMatcher(index).match_lines(lines, KZ, NOW))) > 50  # they do hit


def test_a_stream_learns_its_fields_and_screens_with_them() -> None:
    index = IocIndex()
    index.add(
        indicator_ref(1), [("domain", "evil.example"), ("cidr", "10.0.0.0/8")], audience=bit(KZ)
    )
    matcher = JsonEventMatcher(index)
    first = b'{"destination.ip": "10.9.8.7", "bytes": 1}\n{"destination.ip": "11.0.0.1"}\n'
    assert [e["bytes"] for e, _ in matcher.match_lines(first, KZ, NOW)] == [1]
    # A new matched field: that batch is matched in full, and the field is kept.
    second = b'{"destination.ip": "11.0.0.1", "dns.question.name": "A.EVIL.example"}'
    hits = [h.hit.value for _, found in matcher.match_lines(second, KZ, NOW) for h in found]
    assert hits == ["evil.example"]
    assert list(matcher.match_lines(second, KZ, NOW)) == list(matcher.match_lines(second, KZ, NOW))
    assert [e["dns.question.name"] for e, _ in matcher.match_lines(second, KZ, NOW)] == [
        "A.EVIL.example"
    ]


def test_a_member_outside_the_group_gets_nothing_from_a_group_only_indicator() -> None:
    index = group_only_index(KZ, KG, UZ)
    data = b'[{"dns.question.name": "a.evil.example"}, {"destination.ip": "10.9.8.7"}]'
    matcher = JsonEventMatcher(index)
    for _ in range(2):
        assert len(list(matcher.match_array(data, KG, NOW))) == 2  # in the group
        assert list(matcher.match_array(data, UZ, NOW)) == []  # outside it: no hit


def test_revoked_and_expired_stop_matching_and_new_ones_start_without_a_new_matcher() -> None:
    index = IocIndex()
    index.add(indicator_ref(1), [("ipv4", "192.0.2.1")], audience=bit(KZ))
    index.add(indicator_ref(2, valid_until=NOW), [("domain", "evil.example")], audience=bit(KZ))
    matcher = JsonEventMatcher(index)
    data = (
        b'{"source.ip": "192.0.2.1"}\n{"dns.question.name": "evil.example"}\n'
        b'{"file.hash.md5": "D41D8CD98F00B204E9800998ECF8427E"}\n'
    )
    assert [e["source.ip"] for e, _ in matcher.match_lines(data, KZ, NOW)] == ["192.0.2.1"]
    index.remove(1)
    index.add(indicator_ref(3), [("md5", "d41d8cd98f00b204e9800998ecf8427e")], audience=bit(KZ))
    index.add(indicator_ref(4), [("cidr", "192.0.2.0/24")], audience=bit(KZ))
    found = matcher.match_lines(data, KZ, NOW)
    assert sorted(h.hit.indicator.pk for _, hits in found for h in hits) == [3, 4]
    index.remove(4)
    found = matcher.match_lines(data, KZ, NOW)
    assert [h.hit.indicator.pk for _, hits in found for h in hits] == [3]


def test_bad_input_names_the_line() -> None:
    matcher = JsonEventMatcher(IocIndex())
    with pytest.raises(InputError, match="line 2: not JSON") as caught:
        list(matcher.match_lines(b'{"source.ip": "1.2.3.4"}\n{"source.ip": \n', KZ, NOW))
    assert caught.value.line == 2
    with pytest.raises(InputError, match=r"^line 4: not a JSON object$"):
        list(matcher.match_lines(b"{}\n\n  \n[1, 2]\n", KZ, NOW))
    with pytest.raises(InputError, match=r"^\[1\]: not a JSON object$"):
        list(matcher.match_array(b'[{"source.ip": "1.2.3.4"}, "1.2.3.4"]', KZ, NOW))
    with pytest.raises(InputError, match="not a JSON array"):
        list(matcher.match_array(b'{"source.ip": "1.2.3.4"}', KZ, NOW))
    assert list(matcher.match_lines(b"", KZ, NOW)) == []
    assert list(matcher.match_array(b"[]", KZ, NOW)) == []


def test_the_index_keeps_the_cidr_screen_keys_as_networks_come_and_go() -> None:
    assert cidr_screen_keys("203.0.113.64/26") == (24, ["203.0.113."])
    assert cidr_screen_keys("203.0.112.0/23") == (24, ["203.0.112.", "203.0.113."])
    assert cidr_screen_keys("172.16.0.0/12")[1][::15] == ["172.16.", "172.31."]
    assert cidr_screen_keys("64.0.0.0/4") == (8, [f"{n}." for n in range(64, 80)])
    index = IocIndex()
    index.add(
        indicator_ref(1), [("cidr", "203.0.112.0/23"), ("cidr", "10.0.0.0/8")], audience=bit(KZ)
    )
    index.add(
        indicator_ref(2), [("cidr", "203.0.113.0/24"), ("ipv6", "2001:db8::1")], audience=bit(KG)
    )
    assert index.cidr_keys == {
        "203.0.112.": 1,
        "203.0.113.": 2,
        **{f"10.{n}.": 1 for n in range(256)},
    }
    assert (index.cidr_key_levels, index.ipv6_values) == ({24: 2, 16: 256, 8: 0}, 1)
    index.remove(1)
    assert index.cidr_keys == {"203.0.113.": 1}
    assert index.cidr_key_levels == {24: 1, 16: 0, 8: 0}
    index.remove(2)
    assert (index.cidr_keys, index.cidr_key_levels, index.ipv6_values) == (
        {},
        {24: 0, 16: 0, 8: 0},
        0,
    )
