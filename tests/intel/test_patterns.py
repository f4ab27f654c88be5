"""Tests of steppe.intel.patterns: mappings, reasons, errors, and fast path == full parser."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator

from steppe.errors import InvalidObservable, InvalidPattern
from steppe.intel import patterns
from steppe.intel.observables import ObservableType, canonicalise
from steppe.intel.patterns import ParsedPattern, PatternObservable, parse_pattern

T = ObservableType

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def observables(pattern: str) -> list[tuple[ObservableType, str]]:
    parsed = parse_pattern(pattern)
    assert parsed.matchable, parsed.reason
    assert parsed.reason is None
    return [(o.type, o.value) for o in parsed.observables]


# --------------------------------------------------------------------------- mappings


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ipv4-addr:value = '198.51.100.7']", [(T.IPV4, "198.51.100.7")]),
        ("[ipv4-addr:value = '198.51.100.7/32']", [(T.IPV4, "198.51.100.7")]),
        ("[ipv4-addr:value = '198.51.100.7/24']", [(T.CIDR, "198.51.100.0/24")]),
        ("[ipv6-addr:value = '2001:DB8:0::1']", [(T.IPV6, "2001:db8::1")]),
        ("[ipv6-addr:value = '2001:db8::1/128']", [(T.IPV6, "2001:db8::1")]),
        ("[ipv6-addr:value = '2001:db8::1/32']", [(T.CIDR, "2001:db8::/32")]),
        ("[domain-name:value = 'Evil.EXAMPLE.']", [(T.DOMAIN, "evil.example")]),
        ("[url:value = 'HTTP://Evil.example:80/a']", [(T.URL, "http://evil.example/a")]),
        ("[email-addr:value = 'Bob@Example.org']", [(T.EMAIL, "bob@example.org")]),
        ("[email-message:from_ref.value = 'a@example.org']", [(T.EMAIL, "a@example.org")]),
        ("[email-message:sender_ref.value = 'b@example.org']", [(T.EMAIL, "b@example.org")]),
        ("[file:name = 'Invoice.PDF.exe']", [(T.FILENAME, "Invoice.PDF.exe")]),
        ("[file:'name' = 'x.exe']", [(T.FILENAME, "x.exe")]),
        ("[autonomous-system:number = 15169]", [(T.ASN, "AS15169")]),
        ("[autonomous-system:number = +15169]", [(T.ASN, "AS15169")]),
        ("[autonomous-system:number IN (15169, 3356)]", [(T.ASN, "AS15169"), (T.ASN, "AS3356")]),
    ],
)
def test_mapping(pattern: str, expected: list[tuple[ObservableType, str]]) -> None:
    assert observables(pattern) == expected


@pytest.mark.parametrize(
    ("path", "kind", "value"),
    [
        ("hashes.MD5", T.MD5, MD5),
        ("hashes.'MD5'", T.MD5, MD5),
        ("hashes.md5", T.MD5, MD5),
        ("hashes.'SHA-1'", T.SHA1, SHA1),
        ("hashes.SHA1", T.SHA1, SHA1),
        ("hashes.sha1", T.SHA1, SHA1),
        ("hashes.'sha-1'", T.SHA1, SHA1),
        ("hashes.'SHA-256'", T.SHA256, SHA256),
        ("hashes.SHA256", T.SHA256, SHA256),
        ("hashes.sha256", T.SHA256, SHA256),
        ("hashes.'Sha-256'", T.SHA256, SHA256),
    ],
)
def test_hash_spellings(path: str, kind: ObservableType, value: str) -> None:
    assert observables(f"[file:{path} = '{value.upper()}']") == [(kind, value)]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # OR inside one observation, OR of observations, parentheses, IN, '=='
        (
            "[ipv4-addr:value = '10.0.0.1' OR domain-name:value = 'x.example']",
            [(T.IPV4, "10.0.0.1"), (T.DOMAIN, "x.example")],
        ),
        (
            f"[file:hashes.MD5 = '{MD5}'] OR [file:hashes.'SHA-1' = '{SHA1}']",
            [(T.MD5, MD5), (T.SHA1, SHA1)],
        ),
        (
            "([ipv4-addr:value = '10.0.0.1'] OR ([url:value = 'http://a.example/']))",
            [(T.IPV4, "10.0.0.1"), (T.URL, "http://a.example/")],
        ),
        (
            "[(ipv4-addr:value = '10.0.0.1' OR ipv4-addr:value = '10.0.0.2')]",
            [(T.IPV4, "10.0.0.1"), (T.IPV4, "10.0.0.2")],
        ),
        (
            "[ipv4-addr:value IN ('10.0.0.1', '10.0.0.0/8')]",
            [(T.IPV4, "10.0.0.1"), (T.CIDR, "10.0.0.0/8")],
        ),
        ("[domain-name:value == 'x.example']", [(T.DOMAIN, "x.example")]),
        # duplicates (after canonicalisation) kept once, first position
        (
            "[domain-name:value = 'X.example' OR domain-name:value = 'y.example'"
            " OR domain-name:value = 'x.EXAMPLE']",
            [(T.DOMAIN, "x.example"), (T.DOMAIN, "y.example")],
        ),
        # whitespace, newlines and comments between tokens
        ("  [\n\tipv4-addr:value\t=\r\n'10.0.0.1' ]\n", [(T.IPV4, "10.0.0.1")]),
        ("/* c */ [ipv4-addr:value = '10.0.0.1'] // x", [(T.IPV4, "10.0.0.1")]),
        ("[ipv4-addr:value\u00a0=\u2003'10.0.0.1']", [(T.IPV4, "10.0.0.1")]),
    ],
)
def test_structures(pattern: str, expected: list[tuple[ObservableType, str]]) -> None:
    assert observables(pattern) == expected


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r"'it\'s.exe'", "it's.exe"),
        (r"'a\\\'b'", "a\\'b"),  # escaped backslash, then escaped quote
        (r"'\'\''", "''"),
        ("'ünïcødé.exe'", "ünïcødé.exe"),
    ],
)
def test_string_escapes(literal: str, value: str) -> None:
    # A backslash is not allowed in a file name, so the reason shows the decoded value.
    pattern = f"[file:name = {literal}]"
    parsed = parse_pattern(pattern)
    if "\\" in value:
        assert not parsed.matchable
        assert repr(value) in (parsed.reason or "")
    else:
        assert observables(pattern) == [(T.FILENAME, value)]
    assert parsed == patterns._parse_with_stix2patterns(pattern)


def test_result_types() -> None:
    parsed = parse_pattern("[ipv4-addr:value = '10.0.0.1']")
    assert parsed == ParsedPattern((PatternObservable(T.IPV4, "10.0.0.1"),), True, None)
    assert type(parsed.observables[0].type) is ObservableType
    with pytest.raises(AttributeError):
        parsed.matchable = False  # type: ignore[misc]
    assert set(patterns.__all__) == {"ParsedPattern", "PatternObservable", "parse_pattern"}


# --------------------------------------------------------------------------- not matchable

TS1 = "t'2016-01-01T00:00:00Z'"
TS2 = "t'2017-01-01T00:00:00Z'"


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[file:name = 'a.exe' AND file:size = 4096]", "AND of two comparisons"),
        ("[file:name = 'a.exe'] AND [file:name = 'b.exe']", "AND of two observations"),
        ("[file:name = 'a.exe'] FOLLOWEDBY [file:name = 'b']", "FOLLOWEDBY of two observations"),
        ("[file:name = 'a.exe'] WITHIN 300 SECONDS", "WITHIN qualifier"),
        ("[file:name = 'a.exe'] REPEATS 3 TIMES", "REPEATS qualifier"),
        (f"[file:name = 'a.exe'] START {TS1} STOP {TS2}", "START/STOP qualifier"),
        ("[file:name MATCHES '^a']", "operator MATCHES"),
        ("[file:name LIKE 'a%']", "operator LIKE"),
        ("[file:name != 'a.exe']", "operator !="),
        ("[file:name <> 'a.exe']", "operator <>"),
        ("[file:name NOT = 'a.exe']", "operator NOT ="),
        ("[file:name NOT IN ('a.exe')]", "operator NOT IN"),
        ("[file:size > 5]", "operator >"),
        ("[file:size NOT <= 5]", "operator NOT <="),
        ("[EXISTS file:name]", "operator EXISTS"),
        ("[ipv4-addr:value ISSUBSET '10.0.0.0/8']", "operator ISSUBSET"),
        ("[ipv4-addr:value ISSUPERSET '10.0.0.0/8']", "operator ISSUPERSET"),
        ("[domain-name:value IN ()]", "operator IN with an empty set"),
        (
            "[network-traffic:dst_port = 443]",
            "object path network-traffic:dst_port has no observable type",
        ),
        ("[mutex:name = 'Global\\\\x']", "object path mutex:name has no observable type"),
        (
            f"[x509-certificate:hashes.'SHA-1' = '{SHA1}']",
            "object path x509-certificate:hashes.'SHA-1' has no observable type",
        ),
        (
            "[file:hashes.'SHA-512' = 'ab']",
            "object path file:hashes.'SHA-512' has no observable type",
        ),
        (
            "[email-message:to_refs[*].value = 'a@example.org']",
            "object path email-message:to_refs[*].value has no observable type",
        ),
        ("[x:'a b'[0].'IN' = 'c']", "object path x:'a b'[0].'IN' has no observable type"),
        ("[x:y[+5].z[-1][*] = 'c']", "object path x:y[+5].z[-1][*] has no observable type"),
        (
            "[x:y[" + "9" * 5000 + "] = 'c']",  # too long for int(); and cut short
            "object path x:y[" + "9" * 113 + "... has no observable type",
        ),
        (
            "[ipv4-addr:value = 167772161]",
            "object path ipv4-addr:value compared with an integer literal",
        ),
        (
            "[ipv4-addr:value = h'0a000001']",
            "object path ipv4-addr:value compared with a hex literal",
        ),
        ("[file:name = b'AAEC']", "object path file:name compared with a binary literal"),
        ("[file:name = true]", "object path file:name compared with a boolean literal"),
        (f"[file:name = {TS1}]", "object path file:name compared with a timestamp literal"),
        ("[file:name = 1.5]", "object path file:name compared with a float literal"),
        (
            "[autonomous-system:number = '15169']",
            "object path autonomous-system:number compared with a string literal",
        ),
        (
            "[domain-name:value IN ('a.example', 5)]",
            "object path domain-name:value compared with an integer literal",
        ),
        (
            "[ipv4-addr:value = '2001:db8::/48']",
            "object path ipv4-addr:value: '2001:db8::/48' is an IPv6 network",
        ),
        (
            "[ipv6-addr:value = '10.0.0.0/8']",
            "object path ipv6-addr:value: '10.0.0.0/8' is an IPv4 network",
        ),
        # The first obstacle, outside-in then left to right.
        ("[x:y = 'a' AND file:name = 'b'] WITHIN 5 SECONDS", "WITHIN qualifier"),
        (
            "[x:y = 'a' OR file:name = 'b' AND file:size > 1]",
            "object path x:y has no observable type",
        ),
        ("[file:name = 'a' OR x:y = 'b' AND file:size > 1]", "AND of two comparisons"),
        (
            "[file:name = 'a' OR x:y = 'b'] OR [file:size > 1]",
            "object path x:y has no observable type",
        ),
        ("[file:name = 'a'] OR [file:size > 1] OR [x:y = 'b']", "operator >"),
        ("[file:name = 'a'] OR [x:y = 'b'] AND [file:name = 'c']", "AND of two observations"),
        (
            "[file:name = 'a'] OR [x:y = 'b'] FOLLOWEDBY [z:w = 'c']",
            "FOLLOWEDBY of two observations",
        ),
    ],
)
def test_not_matchable(pattern: str, reason: str) -> None:
    assert parse_pattern(pattern) == ParsedPattern((), False, reason)


@pytest.mark.parametrize(
    ("pattern", "kind", "value"),
    [
        ("[ipv4-addr:value = '999.0.0.1']", T.IPV4, "999.0.0.1"),
        ("[ipv4-addr:value = '2001:db8::1']", T.IPV4, "2001:db8::1"),
        ("[ipv6-addr:value = '10.0.0.1']", T.IPV6, "10.0.0.1"),
        ("[ipv4-addr:value = '10.0.0.1/33']", T.CIDR, "10.0.0.1/33"),
        ("[domain-name:value = 'bad..example']", T.DOMAIN, "bad..example"),
        ("[domain-name:value = '']", T.DOMAIN, ""),
        ("[url:value = 'evil.example/a']", T.URL, "evil.example/a"),
        ("[email-addr:value = 'no-at-sign']", T.EMAIL, "no-at-sign"),
        ("[file:hashes.MD5 = 'abc']", T.MD5, "abc"),
        (f"[file:hashes.'SHA-256' = '{SHA1}']", T.SHA256, SHA1),
        (f"[file:hashes.'SHA-1' = ' {SHA1}x']", T.SHA1, f" {SHA1}x"),
        ("[file:name = 'dir/a.exe']", T.FILENAME, "dir/a.exe"),
        ("[autonomous-system:number = 99999999999]", T.ASN, "99999999999"),
        ("[autonomous-system:number = -5]", T.ASN, "-5"),
        ("[autonomous-system:number = " + "9" * 5000 + "]", T.ASN, "9" * 5000),
        ("[ipv4-addr:value = '10.0.0.1' OR ipv4-addr:value = '10.0.0.300']", T.IPV4, "10.0.0.300"),
    ],
)
def test_bad_literal(pattern: str, kind: ObservableType, value: str) -> None:
    with pytest.raises(InvalidObservable) as caught:
        canonicalise(kind, value)
    parsed = parse_pattern(pattern)
    assert not parsed.matchable
    assert parsed.observables == ()
    assert parsed.reason is not None
    assert parsed.reason.startswith("object path ")
    assert caught.value.message in parsed.reason


# --------------------------------------------------------------------------- invalid syntax


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("", "1:0: no viable alternative at input '<EOF>'"),
        ("ipv4-addr:value = '10.0.0.1'", "1:0:"),
        ("[ipv4-addr:value = '10.0.0.1'", "1:29: mismatched input '<EOF>' expecting ']'"),
        ("[ipv4-addr:value = 10.0.0.1]", "1:"),
        ("[ipv4-addr:value = '10.0.0.1'] extra", "mismatched input 'extra' expecting <EOF>"),
        ("[file:hashes.SHA-256 = 'aa']", "file:hashes.SHA-256"),
        ("[file:name = 'a\\b']", "1:13:"),  # only \\ and \' are escapes
        ("[file:name = 'a'b']", "1:"),
        ("[file:IN = 'a']", "file:IN"),
        ("[true:value = 'a']", "true"),
        ("[ipv4-addr:value = '10.0.0.1' ORfile:name = 'a']", "1:"),
        ("[ipv4-addr:value = '10.0.0.1'] WITHIN 5", "1:"),
        ("[file:name = 'a'] WITHIN 5 SECONDS WITHIN 6 SECONDS", "Duplicate qualifier type"),
        ("[file:name = 'a'] REPEATS 2 TIMES WITHIN 5 SECONDS REPEATS 3 TIMES", "REPEATS"),
        ("[file:name = 'line1\nline2' AND ]", "2:11: no viable alternative at input ']'"),
        # stix2-patterns quotes the input, line separators and all
        (
            "[file:name 'a\u2028b\x0bc\x85d']",
            "1:11: no viable alternative at input 'file:name'a b c d''",
        ),
        ("[file:name = 'a'] 'x\u2028y\x0c'", "1:18: mismatched input ''x y '' expecting <EOF>"),
    ],
)
def test_invalid_syntax(pattern: str, fragment: str) -> None:
    with pytest.raises(InvalidPattern) as caught:
        parse_pattern(pattern)
    message = caught.value.message
    assert message.startswith("invalid STIX pattern: ")
    assert fragment in message
    assert message == " ".join(message.split())  # one line, no stray whitespace
    assert str(caught.value) == message


def test_invalid_syntax_message_is_bounded() -> None:
    pattern = "[file:name = 'a' " + "x" * 10_000 + "]"
    with pytest.raises(InvalidPattern) as caught:
        parse_pattern(pattern)
    assert len(caught.value.message) <= 330
    assert caught.value.message.endswith("...")


def test_deep_nesting_is_an_invalid_pattern_not_a_crash() -> None:
    with pytest.raises(InvalidPattern, match="nested too deeply"):
        parse_pattern("(" * 3000 + "[file:name = 'a']" + ")" * 3000)
    # the parser still works afterwards
    assert observables("(((([file:name = 'a']))))") == [(T.FILENAME, "a")]


def test_full_parser_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    # ANTLR's default error listeners print to the console; stix2-patterns removes them.
    for pattern in ("[file:name = 'a' AND ]", "[file:name = 'a'] WITHIN 5", "\x00", "[a:b = 'c']"):
        with contextlib.suppress(InvalidPattern):
            parse_pattern(pattern)
    assert capfd.readouterr() == ("", "")


def test_duplicate_qualifiers_on_a_group_are_allowed() -> None:
    # as stix2-patterns' validator: the rule is about one [...] only
    pattern = "([file:name = 'a']) WITHIN 5 SECONDS WITHIN 6 SECONDS"
    assert run_validator(pattern, stix_version="2.1") == []
    assert parse_pattern(pattern).reason == "WITHIN qualifier"


def test_long_or_chain() -> None:
    # A long OR chain is a deep parse tree; neither path may recurse on it.
    values = [f"10.0.{i // 256}.{i % 256}" for i in range(3000)]
    inside = "[" + " OR ".join(f"ipv4-addr:value = '{v}'" for v in values) + "]"
    outside = " OR ".join(f"[ipv4-addr:value = '{v}']" for v in values)
    expected = [(T.IPV4, v) for v in values]
    for pattern in (inside, outside):
        assert observables(pattern) == expected
        assert patterns._parse_with_stix2patterns(pattern) == parse_pattern(pattern)
    mixed = outside + " OR [file:size > 1]"
    assert parse_pattern(mixed).reason == "operator >"
    with pytest.raises(InvalidPattern, match="Duplicate qualifier"):
        parse_pattern(outside + " OR [file:size > 1] WITHIN 1 SECONDS WITHIN 2 SECONDS")


# --------------------------------------------------------------------------- fast path

FAST = [
    "[ipv4-addr:value = '198.51.100.7']",
    "[ipv6-addr:value = '2001:db8::1']",
    "[ipv4-addr:value = '198.51.100.0/24']",
    "[domain-name:value = 'evil.example']",
    "[url:value = 'http://evil.example/a?b=c']",
    "[email-addr:value = 'a@example.org']",
    "[email-message:from_ref.value = 'a@example.org']",
    f"[file:hashes.MD5 = '{MD5}']",
    f"[file:hashes.'SHA-1' = '{SHA1}']",
    f"[file:hashes.'SHA-256' = '{SHA256.upper()}']",
    f"[file:hashes.sha256 = '{SHA256}']",
    "[file:name = 'it\\'s.exe']",
    "[domain-name:value = 'a.example' OR domain-name:value = 'b.example']",
    f"[file:hashes.MD5 = '{MD5}'] OR [file:hashes.SHA1 = '{SHA1}']",
    "[network-traffic:dst_ref.value = '10.0.0.1']",  # valid, not matchable
    "[ipv4-addr:value == '10.0.0.1']",
    "[file:name = '\U0001f600.exe']",
    "[file:name = '\ud800']",  # a lone surrogate: any character but ' and \\ is allowed
]

SLOW = [
    "[autonomous-system:number = 15169]",  # not a string literal
    "[ipv4-addr:value = '999.0.0.1']",  # canonicalise refuses it
    f"[x509-certificate:hashes.'SHA-1' = '{SHA1}']",  # hashes, not a file's
    "[file:hashes.MD5 = 'abc']",  # the validator would refuse the hash
    "[file:name = 'a' AND file:size = 1]",
    "[file:name = 'a'] WITHIN 5 SECONDS",
    "[file:name = 'a' /* c */]",
    "[file:name\u00a0= 'a']",
    "[file:name = 'a' OR(file:name = 'b')]",
    "[file:'name' = 'a']",
    "[file:IN = 'a']",
    "[true:value = 'a']",
    "[file:name = 'a'ORfile:name = 'b']",
    "[File:name = 'a']",
]


@pytest.mark.parametrize("pattern", FAST)
def test_fast_path_takes(pattern: str) -> None:
    fast = patterns._parse_fast(pattern)
    assert fast is not None
    assert fast == patterns._parse_with_stix2patterns(pattern)
    assert run_validator(pattern, stix_version="2.1") == []


@pytest.mark.parametrize("pattern", SLOW)
def test_fast_path_declines(pattern: str) -> None:
    assert patterns._parse_fast(pattern) is None


def test_common_feed_patterns_all_take_the_fast_path() -> None:
    """The speed of bulk import rests on this (measured in bench/stix_import.py)."""
    pats = [
        f"[ipv4-addr:value = '10.{i >> 8 & 255}.{i & 255}.1']"
        if i % 3 == 0
        else f"[domain-name:value = 'host{i}.example.com']"
        if i % 3 == 1
        else f"[file:hashes.'SHA-256' = '{i:064x}']"
        for i in range(300)
    ]
    assert all(patterns._parse_fast(p) is not None for p in pats)


# --------------------------------------------------------------------------- differential

_WS = st.sampled_from(["", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\x0b", "\u2003", "/**/"])


def _ws() -> st.SearchStrategy[str]:
    return st.one_of(st.just(" "), st.just(""), _WS)


_PATHS = st.sampled_from(
    [
        "ipv4-addr:value",
        "ipv6-addr:value",
        "domain-name:value",
        "url:value",
        "email-addr:value",
        "email-message:from_ref.value",
        "email-message:sender_ref.value",
        "file:name",
        "file:'name'",
        "file:hashes.MD5",
        "file:hashes.'MD5'",
        "file:hashes.md5",
        "file:hashes.'SHA-1'",
        "file:hashes.SHA1",
        "file:hashes.'sha-1'",
        "file:hashes.'SHA-256'",
        "file:hashes.SHA256",
        "file:hashes.sha256",
        "file:hashes.SHA-256",
        "file:hashes.'SHA-512'",
        "file:hashes.'SHA\\'1'",
        "autonomous-system:number",
        "network-traffic:dst_port",
        "x509-certificate:hashes.'SHA-1'",
        "artifact:hashes.MD5",
        "email-message:to_refs[*].value",
        "email-message:to_refs[0].value",
        "x-custom_obj:prop",
        "mutex:name",
        "true:value",
        "file:IN",
        "file:OR",
        "Ipv4-Addr:value",
        "file:na-me",
        "file:name.x",
    ]
)


def _hex(length: int) -> st.SearchStrategy[str]:
    return st.integers(0, 16**length - 1).map(lambda i: f"{i:0{length}x}") | st.integers(
        0, 16**length - 1
    ).map(lambda i: f"{i:0{length}X}")


_VALUES = st.one_of(
    st.ip_addresses().map(str),
    st.tuples(st.ip_addresses(v=4), st.integers(0, 33)).map(lambda t: f"{t[0]}/{t[1]}"),
    st.tuples(st.ip_addresses(v=6), st.integers(0, 128)).map(lambda t: f"{t[0]}/{t[1]}"),
    st.from_regex(r"[a-z0-9-]{1,8}(\.[a-z]{2,4}){1,2}", fullmatch=True),
    st.from_regex(r"https?://[a-z]{1,6}\.example(/[a-z%0-9]{0,5}){0,2}", fullmatch=True),
    st.from_regex(r"[a-z.]{1,6}@[a-z]{1,6}\.example", fullmatch=True),
    _hex(32),
    _hex(40),
    _hex(64),
    _hex(31),
    st.sampled_from(["999.0.0.1", " 10.0.0.1 ", f" {MD5}", "a.exe", "it's", "back\\slash", ""]),
    st.text(max_size=12),
)


def _string_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_LITERALS = st.one_of(
    _VALUES.map(_string_literal),
    _VALUES.map(_string_literal),
    _VALUES.map(_string_literal),
    st.text(alphabet="ab\\'", max_size=5).map(lambda s: f"'{s}'"),  # raw, maybe ill-escaped
    st.integers(-(2**33), 2**33).map(str),
    st.integers(0, 2**33).map(lambda i: f"+{i}"),
    st.sampled_from(
        ["1.5", "-0.5", "h'0a0b'", "h'0'", "b'AAEC'", "b'AA=='", "true", "false", TS1, "t'2016'"]
    ),
)


# Patterns of the shape the fast path takes, with values that suit their paths.
_DOMAINS = st.from_regex(r"[a-z0-9-]{1,8}(\.[a-z]{2,4}){1,2}", fullmatch=True)
_TYPED: list[tuple[list[str], st.SearchStrategy[str]]] = [
    (["ipv4-addr:value"], st.ip_addresses(v=4).map(str)),
    (
        ["ipv4-addr:value"],
        st.tuples(st.ip_addresses(v=4), st.integers(0, 32)).map(lambda t: f"{t[0]}/{t[1]}"),
    ),
    (["ipv6-addr:value"], st.ip_addresses(v=6).map(str)),
    (
        ["ipv6-addr:value"],
        st.tuples(st.ip_addresses(v=6), st.integers(0, 128)).map(lambda t: f"{t[0]}/{t[1]}"),
    ),
    (["domain-name:value"], _DOMAINS),
    (["url:value"], _DOMAINS.map(lambda d: f"http://{d}/")),
    (
        ["email-addr:value", "email-message:from_ref.value", "email-message:sender_ref.value"],
        _DOMAINS.map(lambda d: f"x.y@{d}"),
    ),
    (["file:name"], st.from_regex(r"[A-Za-z0-9 _.'\\-]{1,12}", fullmatch=True)),
    (["file:hashes.MD5", "file:hashes.'MD5'", "file:hashes.md5"], _hex(32)),
    (["file:hashes.'SHA-1'", "file:hashes.SHA1", "file:hashes.sha1"], _hex(40)),
    (["file:hashes.'SHA-256'", "file:hashes.SHA256", "file:hashes.'sha-256'"], _hex(64)),
    (["network-traffic:dst_ref.value", "mutex:name", "x-custom_obj:prop"], _VALUES),
]
_SIMPLE_WS = st.sampled_from([" ", " ", " ", "", "  ", "\n", "\t"])
_SIMPLE_WS1 = st.sampled_from([" ", " ", " ", "  ", "\n", "\t"])  # "OR" needs one after it


@st.composite
def _comparisons(draw: st.DrawFn) -> str:
    typed = draw(st.booleans())
    if typed:  # a path and values that suit it
        paths, values = draw(st.sampled_from(_TYPED))
        path = draw(st.sampled_from(paths))
        literals = values.map(_string_literal)
    else:
        path = draw(_PATHS)
        literals = _LITERALS
    op = draw(
        st.sampled_from(["=", "=", "=", "=", "=", "==", "!=", "<>", "NOT =", ">", "<=", "NOT >"])
        | st.sampled_from(["IN", "NOT IN", "LIKE", "MATCHES", "ISSUBSET", "EXISTS"])
    )
    if op == "EXISTS":
        return f"EXISTS {path}"
    if op.endswith("IN"):
        items = draw(st.lists(literals, max_size=3))
        literal = "(" + ",".join(f"{draw(_ws())}{item}" for item in items) + ")"
    else:
        literal = draw(literals)
    return f"{path}{draw(_ws())}{op}{draw(_ws())}{literal}"


_AFTER_OR = st.sampled_from([" ", " ", "", "  ", "\n"])


@st.composite
def _observation(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_comparisons(), min_size=1, max_size=3))
    text = parts[0]
    for part in parts[1:]:
        joiner = draw(st.sampled_from(["OR", "OR", "OR", "AND"]))
        if draw(st.integers(0, 9)) == 0:
            part = f"({part})"
        text += f"{draw(_ws())}{joiner}{draw(_AFTER_OR)}{part}"
    text = f"[{draw(_ws())}{text}{draw(_ws())}]"
    qualifier = draw(
        st.sampled_from(["", "", "", "", "", " WITHIN 5 SECONDS", " REPEATS 2 TIMES"])
        | st.just(f" START {TS1} STOP {TS2}")
    )
    return text + qualifier


@st.composite
def _pattern(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_observation(), min_size=1, max_size=3))
    text = parts[0]
    for part in parts[1:]:
        joiner = draw(st.sampled_from(["OR", "OR", "OR", "AND", "FOLLOWEDBY"]))
        text += f"{draw(_ws())}{joiner}{draw(_ws())}{part}"
    if draw(st.integers(0, 9)) == 0:
        text = f"({text})"
    return f"{draw(_ws())}{text}{draw(_ws())}"


@st.composite
def _simple_comparison(draw: st.DrawFn) -> str:
    paths, values = draw(st.sampled_from(_TYPED))
    path = draw(st.sampled_from(paths))
    literal = _string_literal(draw(values))
    return f"{path}{draw(_SIMPLE_WS)}={draw(_SIMPLE_WS)}{literal}"


@st.composite
def _simple_pattern(draw: st.DrawFn) -> str:
    observations = []
    for _ in range(draw(st.integers(1, 2))):
        inside = f"{draw(_SIMPLE_WS)}OR{draw(_SIMPLE_WS1)}".join(
            draw(st.lists(_simple_comparison(), min_size=1, max_size=3))
        )
        observations.append(f"[{inside}]")
    return f"{draw(_SIMPLE_WS)}OR{draw(_SIMPLE_WS)}".join(observations)


_MUTATIONS = ["'", "\\", " ", "\u00a0", "]", "[", "(", ")", "OR ", "AND ", "-", ".", ":"]
_MUTATIONS += ["/*", "*/", "h", "=", "!", "\n", "x", "A", "0", "WITHIN 1 SECONDS", ""]


@st.composite
def _mutated_pattern(draw: st.DrawFn) -> str:
    """A simple pattern with a small edit: mostly one the fast path must notice."""
    pattern = draw(_simple_pattern())
    start = draw(st.integers(0, len(pattern)))
    end = draw(st.integers(start, min(len(pattern), start + 2)))
    return pattern[:start] + draw(st.sampled_from(_MUTATIONS)) + pattern[end:]


def _outcome(parse: object, pattern: str) -> object:
    try:
        return parse(pattern)  # type: ignore[operator]
    except InvalidPattern as err:
        return ("InvalidPattern", err.message)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_simple_pattern(), _mutated_pattern(), _pattern()))
def test_fast_path_agrees_with_full_parser(pattern: str) -> None:
    expected = _outcome(patterns._parse_with_stix2patterns, pattern)
    assert _outcome(parse_pattern, pattern) == expected
    fast = patterns._parse_fast(pattern)
    if fast is not None:
        assert fast == expected
        assert run_validator(pattern, stix_version="2.1") == []
    # (see them with --hypothesis-show-statistics)
    kind = "invalid" if isinstance(expected, tuple) else "valid"
    if isinstance(expected, ParsedPattern):
        kind += ", matchable" if expected.matchable else ", not matchable"
    event(f"{'fast' if fast is not None else 'full parser'}: {kind}")


_COMMON_VALUES = st.one_of(
    st.ip_addresses(v=4).map(str),
    _DOMAINS,
    _DOMAINS.map(lambda d: f"http://{d}/p?q=1"),
    _hex(32),
    _hex(40),
    _hex(64),
    _VALUES,
)


_SUITED = {
    "ipv4-addr:value": st.ip_addresses(v=4).map(str),
    "domain-name:value": _DOMAINS,
    "url:value": _DOMAINS.map(lambda d: f"http://{d}/p?q=1"),
    "file:hashes.'SHA-256'": _hex(64),
    "file:hashes.MD5": _hex(32),
    "file:hashes.'SHA-1'": _hex(40),
}


@st.composite
def _common_shape(draw: st.DrawFn) -> str:
    """The shape the common-shape tier takes, "[path = 'value']", often with a value it
    must leave to the fast path (not canonical, the wrong type, escaped) or a small edit."""
    path = draw(st.sampled_from([*patterns._COMMON_PATHS, "file:hashes.SHA256", "file:name"]))
    suited = _SUITED.get(path)
    value = draw(suited if suited is not None and draw(st.booleans()) else _COMMON_VALUES)
    if draw(st.booleans()):
        with contextlib.suppress(InvalidObservable):
            value = canonicalise(patterns._COMMON_PATHS.get(path, T.FILENAME), value)
    pattern = f"[{path} = '{value}']"
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(pattern)))
        pattern = pattern[:at] + draw(st.sampled_from(_MUTATIONS)) + pattern[at:]
    return pattern


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_common_shape())
def test_common_shape_agrees_with_fast_path_and_full_parser(pattern: str) -> None:
    common = patterns._parse_common(pattern)
    if common is not None:
        assert common == patterns._parse_fast(pattern)
        assert common == patterns._parse_with_stix2patterns(pattern)
        assert run_validator(pattern, stix_version="2.1") == []
    event("common shape" if common is not None else "left to the fast path")


def test_bench_patterns_take_the_common_shape() -> None:
    """bench/taxii.py's indicators all take it (the TAXII import's speed rests on it)."""
    pats = [
        "[ipv4-addr:value = '198.51.100.7']",
        "[domain-name:value = 'h100-4.example']",
        "[url:value = 'http://site100-4.example/p?q=1']",
        f"[file:hashes.'SHA-256' = '{SHA256}']",
    ]
    assert all(patterns._parse_common(p) is not None for p in pats)
