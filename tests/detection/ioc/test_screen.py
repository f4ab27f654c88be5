"""The compiled screen of JSON bytes keeps every event that can hit, for any spelling of
the JSON: the matcher using it finds exactly what the row matcher finds over the parsed
events, for three organisations; and it never lets a line through unparsed that a JSON
parser would reject."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ioc_pools import INDICATORS, POOLS, comparable_hits, indicator_ref
from steppe.detection.ioc import index as index_module
from steppe.detection.ioc import screen as byte_screen
from steppe.detection.ioc.audience import bit
from steppe.detection.ioc.index import IocIndex
from steppe.detection.ioc.jsonevents import JsonEventMatcher
from steppe.detection.ioc.matcher import IocMatcher
from steppe.errors import InputError

pytestmark = pytest.mark.skipif(
    not byte_screen.available(), reason="the compiled screen was not built"
)

NOW = "2026-06-01T00:00:00.000000Z"
PAST, FUTURE = "2026-05-01T00:00:00.000000Z", "2026-07-01T00:00:00.000000Z"
KZ, KG, UZ = 2, 3, 4
ORGS = (KZ, KG, UZ)

MORE_INDICATORS = [
    ("cidr", "172.16.0.0/12"),
    ("cidr", "64.0.0.0/4"),  # a /4: screened by "a." keys
    ("cidr", "96.0.0.0/6"),
    ("cidr", "203.0.112.0/23"),
    ("ipv4", "203.0.113.9"),
    ("domain", "io"),  # a single label
    ("domain", "localhost"),
    ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
]
MORE_VALUES = {
    "ip": ["172.31.255.255", "79.1.2.3", "99.0.0.1", "203.0.113.9", "203.0.114.1",
           "2001:db8:1::ffff", "0x7f.0.0.1", "1.2.3.4\u00e9", "10.0.0.1/8", "172.16.1.1 "],
    "name": ["T.IO", "io", "a.io.", "LOCALHOST", "Evil.Example", "x.y.b.evil.example",
             "evil.example\u00a0", "203.0.113.9", "a\nevil.example"],
    "hash": ["DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"],
}  # fmt: skip

pools = {field: [*values] for field, values in POOLS.items()}
for field, pool in pools.items():
    kind = "ip" if field.endswith(".ip") else "hash" if ".hash." in field else "name"
    if field in ("url.full",) or field.startswith("email."):
        continue
    pool += MORE_VALUES[kind]
OTHER_VALUES = [None, 7, -1.5e3, True, [], {"source.ip": "192.0.2.1"}]


@st.composite
def spelt(draw: st.DrawFn, value: Any) -> str:
    """``value`` as JSON text, its characters escaped now and then."""
    if not isinstance(value, str):
        return orjson.dumps(value).decode()
    out = []
    for ch in value:
        if ch in '"\\' or ord(ch) < 0x20 or draw(st.integers(0, 9)) == 0:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@st.composite
def event_texts(draw: st.DrawFn) -> str:
    """One event as a JSON object: matched fields (a key twice now and then; the last
    one counts), other fields, nested objects, varied white space."""
    fields = draw(
        st.lists(
            st.one_of(
                st.sampled_from(sorted(pools)).flatmap(
                    lambda f: st.tuples(st.just(f), st.sampled_from(pools[f] + OTHER_VALUES))
                ),
                st.tuples(st.sampled_from(["raw", "@timestamp", "n", "source.ip.x"]),
                          st.sampled_from([*OTHER_VALUES, "192.0.2.1", "evil.example"])),
            ),
            max_size=6,
        )
    )  # fmt: skip
    ws = st.sampled_from(["", " ", "\t", "  "])
    parts = []
    for key, value in fields:
        k = draw(spelt(key))
        parts.append(f"{draw(ws)}{k}{draw(ws)}:{draw(ws)}{draw(spelt(value))}{draw(ws)}")
    return draw(ws) + "{" + ",".join(parts) + "}" + draw(ws)


indicators = st.lists(
    st.tuples(
        st.sampled_from(INDICATORS + MORE_INDICATORS),
        st.sets(st.sampled_from(ORGS)),
        st.sampled_from([None, None, PAST, FUTURE]),
        st.booleans(),  # revoked after being added
    ),
    max_size=30,
)


def _index(entries: list[tuple[tuple[str, str], set[int], str | None, bool]]) -> IocIndex:
    index = IocIndex()
    for pk, ((kind, value), audience, valid_until, revoked) in enumerate(entries, 1):
        index.add(indicator_ref(pk, valid_until), [(kind, value)], audience=sum(map(bit, audience)))
        if revoked:
            index.remove(pk)
    return index


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    indicators,
    st.lists(event_texts(), max_size=20),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),  # a blank line here and there
)
def test_compiled_screen_hits_equal_row_hits(
    entries: list[tuple[tuple[str, str], set[int], str | None, bool]],
    texts: list[str],
    newline: str,
    blanks: bool,
) -> None:
    index = _index(entries)
    events = [orjson.loads(text) for text in texts]
    lines = newline.join(t for text in texts for t in ([text, " "] if blanks else [text]))
    array = "[" + ",".join(texts) + "]"
    rows = IocMatcher(index)
    matcher = JsonEventMatcher(index)
    for org in ORGS:
        expected = comparable_hits(rows.match_events(events, org, NOW))
        assert comparable_hits(matcher.match_lines(lines.encode(), org, NOW)) == expected
        assert comparable_hits(matcher.match_array(array.encode(), org, NOW)) == expected


JSONISH = st.sampled_from([*'{}[]:,"\\ \t0123456789.eE+-tfnul', "\u00e9", "\x01"])


@settings(max_examples=500, deadline=None)
@given(event_texts(), st.lists(st.tuples(st.integers(0, 200), JSONISH), max_size=3), st.data())
def test_no_malformed_line_goes_unparsed(
    text: str, edits: list[tuple[int, str]], data: st.DataObject
) -> None:
    """A line the screen turns away must be a JSON object a parser accepts; the matcher
    names a malformed line as the Python screen does."""
    for at, ch in edits:
        at = at % (len(text) + 1)
        if data.draw(st.booleans()) and at < len(text):
            text = text[:at] + text[at + 1 :]  # deleted
        else:
            text = text[:at] + ch + text[at:]  # inserted
    line = text.replace("\n", "").replace("\r", "").encode()
    index = IocIndex()
    for pk, (kind, value) in enumerate(INDICATORS + MORE_INDICATORS, 1):
        index.add(indicator_ref(pk), [(kind, value)], audience=bit(KZ))
    kept = byte_screen.ByteScreen(index).lines(line)
    if not kept and line.strip():
        assert isinstance(orjson.loads(line), dict)
    outcomes = []
    for compiled in (True, False):
        try:
            found = comparable_hits(
                JsonEventMatcher(index, compiled=compiled).match_lines(line, KZ, NOW)
            )
            outcomes.append(("hits", found))
        except InputError as exc:
            outcomes.append(("error", exc.line))
    assert outcomes[0] == outcomes[1]


def test_a_screen_follows_its_index_and_keeps_what_it_cannot_judge() -> None:
    index = IocIndex()
    screen = byte_screen.ByteScreen(index)
    line = b'{"destination.ip": "192.0.2.1", "dns.question.name": "x.evil.example"}'
    assert screen.lines(line) == []
    index.add(indicator_ref(1), [("domain", "EVIL.example")], audience=bit(KZ))
    assert screen.lines(line) == [(0, len(line), 1)]
    index.remove(1)  # its key stays until a rebuild; a fresh screen has none
    assert byte_screen.ByteScreen(index).lines(line) == []
    kept = [
        b'{"source\\u002eip": "1.2.3.4"}',  # an escape in a key
        b'{"url.full": "http://a.test/"}',  # URLs always
        b'{"dns.question.name": "b\\u00fccher.example"}',
        b'{"a": "\xc3\xa9"}',  # non-ASCII: the parser checks its UTF-8
        b'{"n": 123456789012345678901234567890}',
        b'{"source.ip": "1.2.3.4"} x',
        b"[1]",
    ]
    for text in kept:
        assert screen.lines(text) == [(0, len(text), 1)], text
    assert screen.array(b'[{"a": 1}, 2]') is None
    assert screen.array(b'[{"a": 1} {"b": 2}]') is None
    assert screen.array(b"[]") == []


def test_every_pool_value_against_every_indicator() -> None:
    index = IocIndex()
    for pk, (kind, value) in enumerate(INDICATORS + MORE_INDICATORS, 1):
        audience = bit(KZ) | bit(KG) if pk % 2 else bit(KZ)
        index.add(indicator_ref(pk, FUTURE if pk % 3 else None), [(kind, value)], audience=audience)
    index.add(indicator_ref(999, PAST), [("domain", "expired.test")], audience=bit(KZ))
    events = [{field: value} for field, pool in pools.items() for value in pool]
    events.append({"dns.question.name": "a.expired.test"})
    lines = b"\n".join(map(orjson.dumps, events))
    rows = IocMatcher(index)
    matcher = JsonEventMatcher(index)
    for org in ORGS:
        expected = comparable_hits(rows.match_events(events, org, NOW))
        assert comparable_hits(matcher.match_lines(lines, org, NOW)) == expected
        assert comparable_hits(matcher.match_array(orjson.dumps(events), org, NOW)) == expected
    assert len(list(matcher.match_lines(lines, KZ, NOW))) > 50  # they do hit
    assert len(list(matcher.match_lines(lines, KG, NOW))) < len(
        list(matcher.match_lines(lines, KZ, NOW))
    )
    assert list(matcher.match_lines(lines, UZ, NOW)) == []  # sees none of them


@pytest.mark.parametrize("log_limit", [200_000, 3])
def test_the_screen_catches_up_with_an_index_that_changes(
    log_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New indicators of every kind are screened at the next scan, whether the screen
    adds the index's logged keys or (the log trimmed past it) rebuilds."""
    monkeypatch.setattr(index_module, "SCREEN_LOG_LIMIT", log_limit)
    index = IocIndex()
    index.add(indicator_ref(1), [("ipv4", "198.51.100.1")], audience=bit(KZ))
    matcher = JsonEventMatcher(index)
    events = [
        {"source.ip": "192.0.2.7"},
        {"destination.ip": "10.20.30.40"},
        {"dns.question.name": "WWW.Evil.Example"},
        {"tls.server.sni": "intranet"},
        {"file.hash.sha256": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"},
        {"destination.ip": "2001:db8::5"},
    ]
    lines = b"\n".join(map(orjson.dumps, events))
    assert list(matcher.match_lines(lines, KZ, NOW)) == []
    new = [
        ("ipv4", "192.0.2.7"),
        ("cidr", "10.0.0.0/9"),
        ("domain", "evil.example"),
        ("domain", "intranet"),
        ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("cidr", "2001:db8::/32"),
    ]
    for pk, value in enumerate(new, 2):
        index.add(indicator_ref(pk), [value], audience=bit(KG))
        found = list(matcher.match_lines(lines, KG, NOW))
        assert [h.hit.indicator.pk for _, hits in found for h in hits] == list(range(2, pk + 1))
        assert list(matcher.match_lines(lines, KZ, NOW)) == []  # not its indicators
    for pk in range(2, 2 + len(new)):
        index.remove(pk)
    assert list(matcher.match_lines(lines, KG, NOW)) == []
