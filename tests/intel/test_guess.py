"""Guessing an observable's type from its value, then canonicalising it."""

from __future__ import annotations

import doctest
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import steppe.intel.guess as guess_module
from steppe.errors import InvalidObservable
from steppe.intel.guess import canonical_observable, guess_type
from steppe.intel.observables import ObservableType, canonicalise

T = ObservableType

SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA1_EMPTY = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
MD5_EMPTY = "d41d8cd98f00b204e9800998ecf8427e"
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


def test_docstring_examples() -> None:
    result = doctest.testmod(guess_module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# --------------------------------------------------------------------------- guess_type

GUESSES: list[tuple[str, ObservableType | None]] = [
    ("8.8.8.8", T.IPV4),
    (" 192.0.2.1 ", T.IPV4),
    ("999.1.1.1", T.IPV4),  # so that canonicalising says what is wrong with it
    ("2001:db8::1", T.IPV6),
    ("::1", T.IPV6),
    ("::ffff:192.0.2.1", T.IPV6),
    ("10.0.0.0/8", T.CIDR),
    ("192.0.2.1/32", T.CIDR),
    ("10.0.0.0/33", T.CIDR),
    ("2001:db8::/32", T.CIDR),
    ("10.0.0.0/255.0.0.0", T.CIDR),
    ("evil.example", T.DOMAIN),
    ("WWW.Evil-Domain.COM.", T.DOMAIN),
    ("_dmarc.example.com", T.DOMAIN),
    ("пример.рф", T.DOMAIN),
    ("evil.zip", T.DOMAIN),  # .zip is a TLD
    ("http://evil.example/payload", T.URL),
    ("HTTPS://evil.example", T.URL),
    ("hxxp://evil[.]example/x", T.URL),
    ("ftp://files.example/x", T.URL),
    ("bob@evil.example", T.EMAIL),
    ("Bob.Smith+x@Evil.Example", T.EMAIL),
    (MD5_EMPTY, T.MD5),
    (MD5_EMPTY.upper(), T.MD5),
    (SHA1_EMPTY, T.SHA1),
    (SHA256_EMPTY, T.SHA256),
    ("CVE-2021-44228", T.CVE),
    ("cve-2014-0160", T.CVE),
    ("AS13335", T.ASN),
    ("as15169", T.ASN),
    ("payload.exe", T.FILENAME),
    ("Invoice_2024.PDF", T.FILENAME),
    ("Setup 1.0.exe", T.FILENAME),
    ("report.docm", T.FILENAME),
    # nothing fits
    ("", None),
    ("   ", None),
    ("mimikatz", None),
    ("localhost", None),
    ("13335", None),
    ("AS 13335", None),
    (MD5_EMPTY[:-1], None),
    ("www.example.com/path", None),
    ("example.com:8080", None),
    ("C:\\Windows\\evil.exe", None),
    ("a@b@c", None),
    ("not a domain.com", None),
    ("cafe:babe", None),
]


@pytest.mark.parametrize(("value", "expected"), GUESSES)
def test_guess_type(value: str, expected: ObservableType | None) -> None:
    assert guess_type(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8.8.8.8", (T.IPV4, "8.8.8.8")),
        ("2001:DB8::1", (T.IPV6, "2001:db8::1")),
        ("10.0.0.1/24", (T.CIDR, "10.0.0.0/24")),
        ("Evil.Example.", (T.DOMAIN, "evil.example")),
        ("HTTP://Evil.Example:80", (T.URL, "http://evil.example/")),
        ("Bob@Evil.Example", (T.EMAIL, "bob@evil.example")),
        (SHA256_EMPTY.upper(), (T.SHA256, SHA256_EMPTY)),
        ("cve-2021-44228", (T.CVE, "CVE-2021-44228")),
        ("as13335", (T.ASN, "AS13335")),
        ("Payload.EXE", (T.FILENAME, "Payload.EXE")),
    ],
)
def test_canonical_observable_guesses_then_canonicalises(
    value: str, expected: tuple[ObservableType, str]
) -> None:
    kind, canonical = canonical_observable(value)
    assert (kind, canonical) == expected
    assert type(kind) is ObservableType


def test_kind_names_are_tolerant_of_case_and_whitespace() -> None:
    assert canonical_observable("Example.com", "DOMAIN") == (T.DOMAIN, "example.com")


def test_canonical_observable_with_a_kind_does_not_guess() -> None:
    assert canonical_observable("13335", "asn") == (T.ASN, "AS13335")
    assert canonical_observable("evil.exe", T.DOMAIN) == (T.DOMAIN, "evil.exe")
    assert canonical_observable("192.0.2.1", T.CIDR) == (T.CIDR, "192.0.2.1/32")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mimikatz", "cannot tell what kind of observable 'mimikatz' is; give its type"),
        ("", "cannot tell what kind of observable '' is"),
        ("www.example.com/x", "(if it is a URL, add its scheme, e.g. 'http://')"),
        ("999.1.1.1", "'999.1.1.1' is not a valid IPv4 address"),
        ("10.0.0.0/33", "prefix '33' is not a valid prefix length"),
        ("bob@evil..example", "has an invalid domain part"),
    ],
)
def test_canonical_observable_errors(value: str, message: str) -> None:
    with pytest.raises(InvalidObservable) as excinfo:
        canonical_observable(value)
    assert message in str(excinfo.value)


def test_canonical_observable_unknown_kind() -> None:
    with pytest.raises(InvalidObservable, match="unknown observable type 'ip'"):
        canonical_observable("8.8.8.8", "ip")


@PROPERTY_SETTINGS
@given(st.text(alphabet=string.printable + "é。пр", max_size=60))
def test_guessed_values_canonicalise_or_are_refused(value: str) -> None:
    kind = guess_type(value)
    if kind is None:
        with pytest.raises(InvalidObservable):
            canonical_observable(value)
        return
    try:
        got_kind, once = canonical_observable(value)
    except InvalidObservable:
        return
    assert got_kind == kind
    assert canonicalise(kind, once) == once


@given(
    st.one_of(
        st.ip_addresses(v=4).map(str),
        st.binary(min_size=16, max_size=32).map(lambda b: b.hex()),
        st.text(alphabet="0123456789abcdefABCDEF.", min_size=1, max_size=70),
        st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,4}){3}", fullmatch=True),
        st.from_regex(
            r"[a-z0-9_-]{1,8}(\.[a-z0-9_-]{1,8}){0,3}\.(exe|dll|com|zip|ps1|[a-z]{2,6})",
            fullmatch=True,
        ),
        st.from_regex(r"(xn--[a-z0-9]{1,10}\.)?[a-z0-9-]{1,70}\.[a-z0-9]{1,5}", fullmatch=True),
    )
)
def test_canonical_fast_path_agrees_with_guess_and_canonicalise(value: str) -> None:
    fast = guess_module._already_canonical(value)
    if fast is None:
        return
    guessed = guess_type(value)
    assert guessed is fast
    assert canonicalise(fast, value) == value
