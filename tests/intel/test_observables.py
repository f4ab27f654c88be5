"""Observable canonicalisation: tables of valid and invalid values, and properties."""

from __future__ import annotations

import contextlib
import doctest
import ipaddress
import string

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import steppe.intel.observables as observables_module
from steppe.errors import InputError, InvalidObservable
from steppe.intel.observables import ObservableType, canonicalise

T = ObservableType

SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA1_EMPTY = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
MD5_EMPTY = "d41d8cd98f00b204e9800998ecf8427e"

VALID: list[tuple[ObservableType, str, str]] = [
    # ipv4
    (T.IPV4, "192.0.2.1", "192.0.2.1"),
    (T.IPV4, "  192.0.2.1\n", "192.0.2.1"),
    (T.IPV4, "0.0.0.0", "0.0.0.0"),
    (T.IPV4, "255.255.255.255", "255.255.255.255"),
    (T.IPV4, "10.1.2.3/32", "10.1.2.3"),
    # ipv6
    (T.IPV6, "2001:DB8::1", "2001:db8::1"),
    (T.IPV6, "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    (T.IPV6, "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
    (T.IPV6, "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
    (T.IPV6, "::", "::"),
    (T.IPV6, "::1/128", "::1"),
    (T.IPV6, "::ffff:192.0.2.1", "::ffff:192.0.2.1"),
    (T.IPV6, "::FFFF:c000:0201", "::ffff:192.0.2.1"),
    (T.IPV6, "0:0:0:0:0:ffff:c000:201", "::ffff:192.0.2.1"),
    # cidr
    (T.CIDR, "10.0.0.1/24", "10.0.0.0/24"),
    (T.CIDR, "10.0.0.0/8", "10.0.0.0/8"),
    (T.CIDR, "0.0.0.0/0", "0.0.0.0/0"),
    (T.CIDR, "192.0.2.7", "192.0.2.7/32"),
    (T.CIDR, "10.0.0.0/255.255.0.0", "10.0.0.0/16"),
    (T.CIDR, "2001:DB8::1/64", "2001:db8::/64"),
    (T.CIDR, "2001:db8::1", "2001:db8::1/128"),
    (T.CIDR, "::ffff:0:0/96", "::ffff:0.0.0.0/96"),
    # domain
    (T.DOMAIN, "example.com", "example.com"),
    (T.DOMAIN, " Example.COM. ", "example.com"),
    (T.DOMAIN, "WWW.EVIL-DOMAIN.EXAMPLE", "www.evil-domain.example"),
    (T.DOMAIN, "_dmarc.example.com", "_dmarc.example.com"),
    (T.DOMAIN, "_sip._tcp.example.com", "_sip._tcp.example.com"),
    (T.DOMAIN, "r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com"),
    (T.DOMAIN, "abc-.blogspot.com", "abc-.blogspot.com"),
    (T.DOMAIN, "localhost", "localhost"),
    (T.DOMAIN, "local", "local"),
    (T.DOMAIN, "1.2.3.com", "1.2.3.com"),
    (T.DOMAIN, "123.example", "123.example"),
    (T.DOMAIN, "пример.рф", "xn--e1afmkfd.xn--p1ai"),
    (T.DOMAIN, "ПРИМЕР.РФ.", "xn--e1afmkfd.xn--p1ai"),
    (T.DOMAIN, "xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"),
    (T.DOMAIN, "XN--E1AFMKFD.XN--P1AI", "xn--e1afmkfd.xn--p1ai"),
    (T.DOMAIN, "faß.de", "xn--fa-hia.de"),
    (T.DOMAIN, "bücher.example", "xn--bcher-kva.example"),
    (T.DOMAIN, "\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25\u3002com", "example.com"),  # full-width
    (T.DOMAIN, "_dmarc.пример.рф", "_dmarc.xn--e1afmkfd.xn--p1ai"),
    (T.DOMAIN, "a" * 63 + ".com", "a" * 63 + ".com"),
    (T.DOMAIN, ("a" * 62 + ".") * 4 + "x", ("a" * 62 + ".") * 4 + "x"),  # 253 characters
    # url
    (T.URL, "http://example.com", "http://example.com/"),
    (T.URL, "HTTP://Example.COM:80/", "http://example.com/"),
    (T.URL, "https://example.com:443/a", "https://example.com/a"),
    (T.URL, "https://example.com:8443/a", "https://example.com:8443/a"),
    (T.URL, "https://example.com:0443/a", "https://example.com/a"),
    (T.URL, "http://example.com:/a", "http://example.com/a"),
    (T.URL, "ftp://files.example.com:21/x.bin", "ftp://files.example.com/x.bin"),
    (T.URL, "ftp://files.example.com", "ftp://files.example.com"),
    (T.URL, "http://example.com/a#fragment", "http://example.com/a"),
    (T.URL, "http://example.com?q=1", "http://example.com/?q=1"),
    (T.URL, "http://example.com/?", "http://example.com/"),
    (T.URL, "http://example.com/a?b=C&d=%2f", "http://example.com/a?b=C&d=%2F"),
    (T.URL, "http://example.com/%7euser/%41%2D%5f%2e", "http://example.com/~user/A-_."),
    (T.URL, "http://example.com/a%2fb%3F%e2%82%ac", "http://example.com/a%2Fb%3F%E2%82%AC"),
    (T.URL, "http://example.com/100%", "http://example.com/100%25"),
    (T.URL, "http://example.com/%%34%31", "http://example.com/%2541"),
    (T.URL, "http://User:Pa%73s@Example.com/", "http://User:Pass@example.com/"),
    (T.URL, "http://192.0.2.1:8080/x", "http://192.0.2.1:8080/x"),
    (T.URL, "http://[2001:DB8::1]/x", "http://[2001:db8::1]/x"),
    (T.URL, "http://[2001:db8:0::1]:80/", "http://[2001:db8::1]/"),
    (T.URL, "http://Example.com./x", "http://example.com/x"),
    (T.URL, "http://пример.рф/путь?q=ü", "http://xn--e1afmkfd.xn--p1ai/путь?q=ü"),
    (T.URL, "http://example.com/A/B/../c", "http://example.com/A/B/../c"),
    (T.URL, "hxxp://Evil.example/x", "hxxp://evil.example/x"),
    (T.URL, "file:///etc/passwd", "file:///etc/passwd"),
    (T.URL, "mailto:Bob@Example.com", "mailto:Bob@Example.com"),
    (T.URL, "  https://example.com/\t", "https://example.com/"),
    # email
    (T.EMAIL, "alice@example.com", "alice@example.com"),
    (T.EMAIL, " Alice.Smith+tag@Example.COM ", "alice.smith+tag@example.com"),
    (T.EMAIL, "o'brien@example.com", "o'brien@example.com"),
    (T.EMAIL, "bob@пример.рф", "bob@xn--e1afmkfd.xn--p1ai"),
    (T.EMAIL, "Ünï@example.com", "ünï@example.com"),
    (T.EMAIL, "x@example.com.", "x@example.com"),
    # hashes
    (T.MD5, MD5_EMPTY.upper(), MD5_EMPTY),
    (T.MD5, f"  {MD5_EMPTY}\n", MD5_EMPTY),
    (T.SHA1, SHA1_EMPTY.upper(), SHA1_EMPTY),
    (T.SHA256, SHA256_EMPTY, SHA256_EMPTY),
    (T.SHA256, SHA256_EMPTY.upper(), SHA256_EMPTY),
    # filename
    (T.FILENAME, "invoice.pdf.exe", "invoice.pdf.exe"),
    (T.FILENAME, "  Invoice.PDF.EXE  ", "Invoice.PDF.EXE"),
    (T.FILENAME, "my file (1).docm", "my file (1).docm"),
    (T.FILENAME, "rundll32.exe", "rundll32.exe"),
    (T.FILENAME, ".bashrc", ".bashrc"),
    (T.FILENAME, "счёт.zip", "счёт.zip"),
    # cve
    (T.CVE, "CVE-2021-44228", "CVE-2021-44228"),
    (T.CVE, "cve-2014-0160", "CVE-2014-0160"),
    (T.CVE, " Cve-1999-0001 ", "CVE-1999-0001"),
    (T.CVE, "CVE-2100-1234567", "CVE-2100-1234567"),
    # asn
    (T.ASN, "AS13335", "AS13335"),
    (T.ASN, "as13335", "AS13335"),
    (T.ASN, "13335", "AS13335"),
    (T.ASN, "AS01", "AS1"),
    (T.ASN, "AS4294967295", "AS4294967295"),
]

INVALID: list[tuple[ObservableType | str, str, str]] = [
    # any type
    (T.IPV4, "", "IPv4 address is empty"),
    (T.DOMAIN, "   ", "domain is empty"),
    ("nonsense", "x", "unknown observable type 'nonsense'; expected one of ipv4, ipv6"),
    ("", "x", "unknown observable type ''"),
    # ipv4
    (T.IPV4, "999.1.1.1", "'999.1.1.1' is not a valid IPv4 address"),
    (T.IPV4, "010.1.1.1", "leading zeros are not permitted in '010'"),
    (T.IPV4, "1.2.3", "is not a valid IPv4 address: expected 4 octets"),
    (T.IPV4, "1.2.3.4.5", "is not a valid IPv4 address"),
    (T.IPV4, "10.0.0.0/8", "is a network, not a single IPv4 address; use type cidr"),
    (T.IPV4, "10.0.0.1/24", "use type cidr"),
    (T.IPV4, "2001:db8::1", "is an IPv6 address; use type ipv6"),
    (T.IPV4, "example.com", "is not a valid IPv4 address"),
    # ipv6
    (T.IPV6, "1::2::3", "is not a valid IPv6 address: at most one '::' permitted"),
    (T.IPV6, "2001:db8::g", "is not a valid IPv6 address"),
    (T.IPV6, "2001:db8::/64", "is a network, not a single IPv6 address; use type cidr"),
    (T.IPV6, "fe80::1%eth0", "has a zone index"),
    (T.IPV6, "192.0.2.1", "is an IPv4 address; use type ipv4"),
    # cidr
    (T.CIDR, "10.0.0.0/33", "prefix '33' is not a valid prefix length"),
    (T.CIDR, "2001:db8::/129", "prefix '129' is not a valid prefix length"),
    (T.CIDR, "10.0.0.0/x", "prefix 'x' is not a valid prefix length"),
    (T.CIDR, "example.com/8", "'example.com' is not an IP address"),
    (T.CIDR, "300.0.0.0/8", "'300.0.0.0' is not an IP address"),
    (T.CIDR, "fe80::%eth0/64", "has a zone index"),
    # domain
    (T.DOMAIN, "a..example", "has an empty label"),
    (T.DOMAIN, ".example.com", "has an empty label"),
    (T.DOMAIN, "example.com..", "has an empty label"),
    (T.DOMAIN, "a" * 64 + ".com", "has a label of 64 characters; the limit is 63"),
    (T.DOMAIN, ("a" * 62 + ".") * 4 + "xy", "is 254 characters long as ASCII; the limit"),
    (T.DOMAIN, "ex ample.com", "contains ' ', which is not allowed in a domain name"),
    (T.DOMAIN, "*.example.com", "contains '*', which is not allowed"),
    (T.DOMAIN, "example.com:8080", "contains ':'"),
    (T.DOMAIN, "192.0.2.1", "is an IP address, not a domain; use type ipv4"),
    (T.DOMAIN, "2001:db8::1", "is an IP address, not a domain; use type ipv6"),
    (T.DOMAIN, "10.0.0.0/8", "is a network, not a domain; use type cidr"),
    (T.DOMAIN, "http://example.com", "is a URL, not a domain; use type url"),
    (T.DOMAIN, "bob@example.com", "is an email address, not a domain; use type email"),
    (T.DOMAIN, "example.123", "its last label '123' has no letters"),
    (T.DOMAIN, "1234", "its last label '1234' has no letters"),
    (T.DOMAIN, "1.2.3.4.5", "has no letters"),
    (T.DOMAIN, "xn--zz.com", "'xn--zz', which is not a valid internationalised (punycode)"),
    (T.DOMAIN, "xn--.com", "not a valid internationalised (punycode) label"),
    (T.DOMAIN, "пример-.рф", "not a valid internationalised domain label"),
    (T.DOMAIN, "a\u200db.example", "not a valid internationalised domain label"),
    (T.DOMAIN, "exa\u0378mple.com", "is not a valid domain name: Codepoint U+0378"),
    (T.DOMAIN, "exa\x00mple.com", "contains '\\x00'"),
    # url
    (T.URL, "example.com/path", "has no scheme; a URL starts with one, e.g. 'http://'"),
    (T.URL, "example.com:8080/path", "has no scheme (it starts with a host)"),
    (T.URL, "//example.com/path", "has no scheme"),
    (T.URL, "http://", "has no host"),
    (T.URL, "http:///path", "has no host"),
    (T.URL, "http:example.com", "has no host; expected http://host/"),
    (T.URL, "https://user@/x", "has no host"),
    (T.URL, "http://example.com:99999/", "has port '99999'; a port is a number from 1 to 65535"),
    (T.URL, "http://example.com:0/", "has port '0'"),
    (T.URL, "http://example.com:http/", "has port 'http'"),
    (T.URL, "http://example.com:8080:90/", "has an invalid host"),
    (T.URL, "http://exa mple.com/", "contains ' '; percent-encode it (a space is %20)"),
    (T.URL, "http://example.com/a b", "contains ' '"),
    (T.URL, "http://example.com/a\tb", "contains '\\t'"),
    (T.URL, "http://example.com/\x00", "contains '\\x00'"),
    (T.URL, "http://[::1/", "is not a valid URL"),
    (T.URL, "http://[2001:db8::1]x/", "has text after the IPv6 host"),
    (T.URL, "http://[fe80::1%25eth0]/", "has a zone index"),
    (T.URL, "http://999.1.1.1/", "has an invalid host: '999.1.1.1' is not a valid IPv4 address"),
    (T.URL, "http://exa_mple..com/", "has an invalid host: 'exa_mple..com' has an empty label"),
    (T.URL, "http://evil(.)com/", "(it looks defanged; refang it first)"),
    (T.URL, "hxxp://evil[.]com/", "(it looks defanged; refang it first)"),
    # email
    (T.EMAIL, "alice.example.com", "it must have exactly one '@', it has 0"),
    (T.EMAIL, "a@b@example.com", "it must have exactly one '@', it has 2"),
    (T.EMAIL, "@example.com", "nothing before the '@'"),
    (T.EMAIL, "alice@", "nothing after the '@'"),
    (T.EMAIL, "a..b@example.com", "must not start or end with a dot or have two in a row"),
    (T.EMAIL, ".a@example.com", "must not start or end with a dot"),
    (T.EMAIL, '"a b"@example.com', "quoted local parts are not supported"),
    (T.EMAIL, "a b@example.com", "' ' is not allowed before the '@'"),
    (T.EMAIL, "a(b)@example.com", "'(' is not allowed before the '@'"),
    (T.EMAIL, "mailto:a@example.com", "drop the 'mailto:' prefix"),
    (T.EMAIL, "a" * 65 + "@example.com", "the part before '@' is 65 characters; the limit is 64"),
    (T.EMAIL, "a@exa mple.com", "has an invalid domain part: 'exa mple.com' contains ' '"),
    (T.EMAIL, "a@192.0.2.1", "has an invalid domain part: '192.0.2.1' is an IP address"),
    # hashes
    (T.MD5, MD5_EMPTY[:-1], "md5 must be 32 hex digits, got 31"),
    (T.MD5, MD5_EMPTY + "0", "md5 must be 32 hex digits, got 33"),
    (T.MD5, "g" + MD5_EMPTY[1:], "md5 must be 32 hex digits (0-9, a-f), got 'g'"),
    (T.MD5, SHA1_EMPTY, "md5 must be 32 hex digits, got 40"),
    (T.SHA1, MD5_EMPTY, "sha1 must be 40 hex digits, got 32"),
    (T.SHA1, SHA1_EMPTY[:-1] + "-", "sha1 must be 40 hex digits (0-9, a-f), got '-'"),
    (T.SHA256, SHA256_EMPTY[:-2], "sha256 must be 64 hex digits, got 62"),
    (T.SHA256, "", "sha256 is empty"),
    # filename
    (T.FILENAME, "C:\\Users\\bob\\evil.exe", "is a path, not a file name"),
    (T.FILENAME, "/tmp/evil.sh", "the name here is 'evil.sh'"),
    (T.FILENAME, "dir/", "is a path, not a file name"),
    (T.FILENAME, "ev\x00il.exe", "contains a NUL character"),
    (T.FILENAME, "..", "is a directory reference, not a file name"),
    (T.FILENAME, " \t", "file name is empty"),
    # cve
    (T.CVE, "CVE-2021-123", "is not a CVE id; expected CVE-YYYY-NNNN"),
    (T.CVE, "CVE-21-1234", "is not a CVE id"),
    (T.CVE, "CVE 2021 44228", "is not a CVE id"),
    (T.CVE, "2021-44228", "is not a CVE id"),
    (T.CVE, "CVE-1998-1234", "has year 1998; CVE years run from 1999 to 2100"),
    (T.CVE, "CVE-2101-1234", "has year 2101"),
    (T.CVE, "CVE-2021-04228", "has a leading zero; only 4-digit CVE numbers are zero-padded"),
    (T.CVE, "CVE-2021-٤٤٢٢٨", "is not a CVE id"),  # Arabic-Indic digits
    # asn
    (T.ASN, "AS0", "AS0 is reserved"),
    (T.ASN, "0", "AS0 is reserved"),
    (T.ASN, "AS4294967296", "is too large; AS numbers are 32-bit (at most 4294967295)"),
    (T.ASN, "AS" + "9" * 5000, "is too large"),
    (T.ASN, "AS 1234", "is not an AS number; expected e.g. AS1234 or 1234"),
    (T.ASN, "ASN1234", "is not an AS number"),
    (T.ASN, "AS-1234", "is not an AS number"),
    (T.ASN, "AS1.10", "is not an AS number"),
]


@pytest.mark.parametrize(("kind", "value", "expected"), VALID)
def test_valid_values_canonicalise(kind: ObservableType, value: str, expected: str) -> None:
    assert canonicalise(kind, value) == expected
    assert canonicalise(kind, expected) == expected  # the canonical form is a fixed point
    assert canonicalise(str(kind), value) == expected  # a plain string works as the type


@pytest.mark.parametrize(("kind", "value", "message"), INVALID)
def test_invalid_values_are_refused_with_a_reason(
    kind: ObservableType | str, value: str, message: str
) -> None:
    with pytest.raises(InvalidObservable) as excinfo:
        canonicalise(kind, value)
    assert message in str(excinfo.value)
    assert isinstance(excinfo.value, InputError)
    assert excinfo.value.field is None
    assert excinfo.value.status == 422


def test_every_type_has_valid_and_invalid_cases() -> None:
    assert {kind for kind, _, _ in VALID} == set(ObservableType)
    assert {kind for kind, _, _ in INVALID} >= set(ObservableType)


def test_kind_names_are_tolerant_of_case_and_whitespace() -> None:
    assert canonicalise("IPv4", "192.0.2.1") == "192.0.2.1"
    assert canonicalise(" Domain ", "Example.com") == "example.com"


def test_values_that_are_not_strings_are_refused() -> None:
    with pytest.raises(InvalidObservable, match="domain must be a string, got int"):
        canonicalise("domain", 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidObservable, match="unknown observable type None"):
        canonicalise(None, "x")  # type: ignore[arg-type]


def test_long_junk_is_cut_short_in_messages() -> None:
    with pytest.raises(InvalidObservable) as excinfo:
        canonicalise("domain", "x " * 100_000)
    assert len(str(excinfo.value)) < 300


def test_the_error_can_be_located_by_callers() -> None:
    with pytest.raises(InvalidObservable) as excinfo:
        canonicalise("md5", "abc")
    err = excinfo.value.located(source="feed.csv", line=7, field="value")
    assert str(err) == "feed.csv:7: value: md5 must be 32 hex digits, got 3"


def test_docstring_examples() -> None:
    result = doctest.testmod(observables_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# --------------------------------------------------------------------------- properties

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)

LDH = string.ascii_letters + string.digits + "-_"


def ldh_labels(max_size: int, min_size: int = 1) -> st.SearchStrategy[str]:
    return st.text(LDH, min_size=min_size, max_size=max_size).filter(
        lambda label: not label.lower().startswith("xn--")
    )


@st.composite
def domains(draw: st.DrawFn) -> str:
    """Valid ASCII domain names in random case, sometimes with the trailing dot."""
    # An "xn--" label must be valid punycode, which random text is not.
    labels = draw(st.lists(ldh_labels(63), min_size=0, max_size=3))
    last = draw(ldh_labels(20, min_size=0))
    letter = draw(st.sampled_from(string.ascii_letters))
    name = ".".join([*labels, last + letter])  # at most 3 * 64 + 21 = 213 characters
    return name + draw(st.sampled_from(["", "."]))


def _exercise(kind: ObservableType, value: str) -> str:
    once = canonicalise(kind, value)
    assert canonicalise(kind, once) == once
    return once


@PROPERTY_SETTINGS
@given(st.ip_addresses(v=4))
def test_ipv4_is_idempotent_and_matches_ipaddress(addr: ipaddress.IPv4Address) -> None:
    assert _exercise(T.IPV4, str(addr)) == str(addr)
    assert canonicalise(T.IPV4, f" {addr}/32 ") == str(addr)


@PROPERTY_SETTINGS
@given(st.ip_addresses(v=6))
def test_ipv6_spellings_of_one_address_are_equal(addr: ipaddress.IPv6Address) -> None:
    canonical = _exercise(T.IPV6, str(addr))
    assert ipaddress.IPv6Address(canonical) == addr
    spellings = {addr.exploded, addr.compressed, addr.exploded.upper(), f"{addr}/128"}
    if addr.ipv4_mapped is not None:
        spellings.add(f"::ffff:{addr.ipv4_mapped}")
        assert canonical == f"::ffff:{addr.ipv4_mapped}"
    else:
        assert canonical == addr.compressed
    assert {canonicalise(T.IPV6, s) for s in spellings} == {canonical}


@PROPERTY_SETTINGS
@given(st.ip_addresses(v=4).map(lambda a: ipaddress.IPv6Address(f"::ffff:{a}")))
def test_ipv4_mapped_ipv6_stays_ipv6(addr: ipaddress.IPv6Address) -> None:
    assert _exercise(T.IPV6, addr.exploded) == f"::ffff:{addr.ipv4_mapped}"


@PROPERTY_SETTINGS
@given(st.ip_addresses(), st.data())
def test_cidr_clears_host_bits_and_is_idempotent(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, data: st.DataObject
) -> None:
    prefix = data.draw(st.integers(0, addr.max_prefixlen), label="prefix")
    network = ipaddress.ip_network((addr, prefix), strict=False)
    canonical = _exercise(T.CIDR, f"{addr}/{prefix}")
    assert ipaddress.ip_network(canonical) == network
    assert canonical.endswith(f"/{prefix}")
    assert canonicalise(T.CIDR, str(network)) == canonical
    if isinstance(addr, ipaddress.IPv4Address):
        assert canonical == str(network)
    assert (
        _exercise(T.CIDR, str(addr))
        == f"{canonicalise(f'ipv{addr.version}', str(addr))}/{addr.max_prefixlen}"
    )


@PROPERTY_SETTINGS
@given(domains())
def test_domain_is_idempotent(name: str) -> None:
    canonical = _exercise(T.DOMAIN, name)
    assert canonical == name.lower().removesuffix(".")


@PROPERTY_SETTINGS
@given(st.sampled_from([(T.MD5, 16), (T.SHA1, 20), (T.SHA256, 32)]), st.data())
def test_hash_is_idempotent(kind_size: tuple[ObservableType, int], data: st.DataObject) -> None:
    kind, size = kind_size
    digest = data.draw(st.binary(min_size=size, max_size=size)).hex()
    spelled = data.draw(st.sampled_from([digest, digest.upper(), f" {digest}\n"]))
    assert _exercise(kind, spelled) == digest


PATH_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%"


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "HTTPS", "ftp", "hxxp", "ws"]))
    host = draw(
        st.one_of(
            domains().map(lambda d: d.removesuffix(".")),
            st.ip_addresses(v=4).map(str),
            st.ip_addresses(v=6).map(lambda a: f"[{a.exploded}]"),
        )
    )
    userinfo = draw(st.sampled_from(["", "user@", "User:Pa%73s@"]))
    port = draw(st.sampled_from(["", ":", ":80", ":443", ":21", ":8080", ":0080"]))
    escapes = st.integers(0, 255).map(lambda b: f"%{b:02x}")
    segment = st.lists(st.one_of(st.sampled_from(PATH_CHARS), escapes), max_size=12).map("".join)
    path = draw(st.lists(segment, max_size=4).map(lambda s: "/" + "/".join(s) if s else ""))
    query = draw(st.one_of(st.just(""), segment.map(lambda q: "?" + q.replace("/", "="))))
    fragment = draw(st.sampled_from(["", "#", "#top"]))
    return f"{scheme}://{userinfo}{host}{port}{path}{query}{fragment}"


@PROPERTY_SETTINGS
@given(urls())
def test_url_is_idempotent(url: str) -> None:
    canonical = _exercise(T.URL, url)
    assert "#" not in canonical
    assert canonical == canonical.strip()


def _url_outcome(canonicalise_url: object, value: str) -> object:
    try:
        return canonicalise_url(value)  # type: ignore[operator]
    except InvalidObservable as err:
        return ("InvalidObservable", err.message)


@st.composite
def url_edits(draw: st.DrawFn) -> str:
    """A URL, often canonical already (the fast path's case), sometimes with an edit the
    fast path must notice."""
    url = draw(urls())
    if draw(st.booleans()):
        with contextlib.suppress(InvalidObservable):
            url = canonicalise(T.URL, url)
    if draw(st.integers(0, 2)) == 0:
        at = draw(st.integers(0, len(url)))
        edit = draw(
            st.sampled_from(
                [" ", "%", "%4", "#", "?", "@", ":", ":80", ".", "..", "/", "\\", "A", "\t", "\x7f"]
            )
            | st.text(max_size=2)
        )
        url = url[:at] + edit + url[at + draw(st.integers(0, 2)) :]
    return url


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(
        url_edits(),
        st.from_regex(r"(https?|ftp)://[a-z0-9._-]{1,12}/[!-~]{0,12}", fullmatch=True),
    )
)
def test_url_fast_path_agrees_with_the_full_rules(url: str) -> None:
    fast = observables_module._URL_CANONICAL_RE.fullmatch(url)
    assert _url_outcome(observables_module._url, url) == _url_outcome(
        observables_module._url_slow, url
    )
    event("fast path shape" if fast is not None else "other")


@PROPERTY_SETTINGS
@given(st.sampled_from(list(ObservableType)), st.text(max_size=80))
def test_any_text_either_canonicalises_idempotently_or_is_refused(
    kind: ObservableType, value: str
) -> None:
    try:
        once = canonicalise(kind, value)
    except InvalidObservable:
        return
    assert canonicalise(kind, once) == once
