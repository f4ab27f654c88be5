"""Observable canonicalisation: one spelling per value, so that matching and dedup work.

Every indicator is broken into observables (an address, a domain, a hash, …) that are
stored by their *canonical* value. Two spellings of the same thing give the same
canonical value; anything that is not a valid value of its type raises
:class:`~steppe.errors.InvalidObservable` with a message a user can act on::

    >>> canonicalise("domain", "Example.COM.")
    'example.com'
    >>> canonicalise(ObservableType.IPV6, "2001:DB8:0:0:0:0:0:1")
    '2001:db8::1'
    >>> canonicalise("md5", "abc")
    Traceback (most recent call last):
    ...
    steppe.errors.InvalidObservable: md5 must be 32 hex digits, got 3

When the type is unknown (an analyst typed a bare value into search),
:func:`steppe.intel.guess.canonical_observable` guesses it first.

This runs for every observable of every import (100,000 indicators at a time), so
each type has a cheap path for values that are already canonical: a precompiled
regex decides, and no exception is raised or caught on that path.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from enum import StrEnum
from urllib.parse import urlsplit

import idna

from steppe.errors import InvalidObservable

__all__ = [
    "ObservableType",
    "canonicalise",
]


class ObservableType(StrEnum):
    """The kinds of observable Steppe stores. The value is the name used in APIs."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    CIDR = "cidr"
    DOMAIN = "domain"
    URL = "url"
    EMAIL = "email"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    FILENAME = "filename"
    CVE = "cve"
    ASN = "asn"


_MAX_SHOWN = 80


def _show(value: str) -> str:
    """``repr`` of a value for an error message, cut short so a junk megabyte stays readable."""
    if len(value) > _MAX_SHOWN:
        value = value[: _MAX_SHOWN - 3] + "..."
    return repr(value)


def _strip(value: str, what: str) -> str:
    """Strip surrounding whitespace; an empty (or non-string) value is an error."""
    if not isinstance(value, str):
        raise InvalidObservable(f"{what} must be a string, got {type(value).__name__}")
    v = value.strip()
    if not v:
        raise InvalidObservable(f"{what} is empty")
    return v


def _address_reason(err: ValueError, value: str) -> str:
    """``ipaddress``'s own reason, without the repeated `` in '<value>'`` tail."""
    reason = str(err)
    tail = f" in {value!r}"
    if reason.endswith(tail):
        reason = reason[: -len(tail)]
    return reason[:1].lower() + reason[1:]


# --------------------------------------------------------------------------- addresses

_IPV4_SHAPE_RE = re.compile(r"[0-9]+(?:\.[0-9]+){3}")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_CANONICAL_RE = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _format_ipv6(addr: ipaddress.IPv6Address) -> str:
    """RFC 5952 text: compressed lowercase; IPv4-mapped addresses in mixed notation.

    Done by hand rather than ``str(addr)`` because Python 3.13 changed how ``str``
    prints IPv4-mapped addresses, and stored canonical values must not depend on the
    interpreter version.
    """
    mapped = addr.ipv4_mapped
    if mapped is not None:
        return f"::ffff:{mapped}"
    return addr.compressed


def _ipv4(value: str) -> str:
    """Canonical IPv4 address: dotted quad; ``/32`` dropped; other prefixes refused."""
    v = _strip(value, "IPv4 address")
    # Fast path: ipaddress parses and prints in ~2.3 µs, this check takes ~0.3 µs.
    if _IPV4_CANONICAL_RE.fullmatch(v):
        return v
    address = v
    if "/" in v:
        address, _, prefix = v.partition("/")
        if prefix != "32":
            raise InvalidObservable(
                f"{_show(v)} is a network, not a single IPv4 address; use type cidr"
            )
    try:
        return str(ipaddress.IPv4Address(address))
    except ValueError as err:
        if ":" in address:
            raise InvalidObservable(f"{_show(v)} is an IPv6 address; use type ipv6") from None
        raise InvalidObservable(
            f"{_show(v)} is not a valid IPv4 address: {_address_reason(err, address)}"
        ) from None


def _ipv6(value: str) -> str:
    """Canonical IPv6 address: compressed lowercase; ``/128`` dropped; no zone index."""
    v = _strip(value, "IPv6 address")
    address = v
    if "/" in v:
        address, _, prefix = v.partition("/")
        if prefix != "128":
            raise InvalidObservable(
                f"{_show(v)} is a network, not a single IPv6 address; use type cidr"
            )
    if "%" in address:
        raise InvalidObservable(
            f"{_show(v)} has a zone index ('%…'); it means nothing outside one host, drop it"
        )
    try:
        return _format_ipv6(ipaddress.IPv6Address(address))
    except ValueError as err:
        if _IPV4_SHAPE_RE.fullmatch(address):
            raise InvalidObservable(f"{_show(v)} is an IPv4 address; use type ipv4") from None
        raise InvalidObservable(
            f"{_show(v)} is not a valid IPv6 address: {_address_reason(err, address)}"
        ) from None


def _cidr(value: str) -> str:
    """Canonical network: host bits cleared; a bare address becomes ``/32`` or ``/128``."""
    v = _strip(value, "CIDR network")
    if "%" in v:
        raise InvalidObservable(f"{_show(v)} has a zone index ('%…'); drop it")
    try:
        net = ipaddress.ip_network(v, strict=False)
    except ValueError:
        address, _, prefix = v.partition("/")
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise InvalidObservable(
                f"{_show(v)} is not a valid CIDR network: {_show(address)} is not an IP address"
            ) from None
        raise InvalidObservable(
            f"{_show(v)} is not a valid CIDR network: prefix {_show(prefix)} is not a valid "
            "prefix length (0-32 for IPv4, 0-128 for IPv6)"
        ) from None
    if isinstance(net, ipaddress.IPv6Network):
        return f"{_format_ipv6(net.network_address)}/{net.prefixlen}"
    return str(net)


# --------------------------------------------------------------------------- domains

_MAX_DOMAIN = 253
_MAX_LABEL = 63

# Already-canonical ASCII domain: labels of [a-z0-9_-] (1-63 long), the last one with a
# letter in it (rules out IP addresses and all-digit TLDs). Length and "xn--" are checked
# separately, see _domain.
_DOMAIN_FAST_RE = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*(?=[0-9_-]*[a-z])[a-z0-9_-]{1,63}")
_LDH_LABEL_RE = re.compile(r"[a-z0-9_-]+")
_BAD_DOMAIN_CHAR_RE = re.compile(r"[^a-z0-9_-]")
_UNICODE_DOTS = ".\u3002\uff0e\uff61"


def _check_ascii_label(label: str, domain: str) -> None:
    """Raise unless ``label`` (lowercase ASCII) is a valid label of ``domain``."""
    if not label:
        raise InvalidObservable(
            f"{_show(domain)} has an empty label (a leading dot or two dots in a row)"
        )
    if len(label) > _MAX_LABEL:
        raise InvalidObservable(
            f"{_show(domain)} has a label of {len(label)} characters; the limit is {_MAX_LABEL}"
        )
    if not _LDH_LABEL_RE.fullmatch(label):
        bad = _BAD_DOMAIN_CHAR_RE.search(label)
        char = bad.group() if bad else label
        raise InvalidObservable(
            f"{_show(domain)} contains {char!r}, which is not allowed in a domain name "
            "(letters, digits, '-' and '_' only)"
        )
    if label.startswith("xn--"):
        try:
            idna.ulabel(label)
        except idna.IDNAError as err:
            raise InvalidObservable(
                f"{_show(domain)} has label {_show(label)}, which is not a valid "
                f"internationalised (punycode) label: {err}"
            ) from None


def _check_whole_domain(domain: str, shown: str) -> None:
    """Length of the whole name, and a last label that is not all digits."""
    if len(domain) > _MAX_DOMAIN:
        raise InvalidObservable(
            f"{_show(shown)} is {len(domain)} characters long as ASCII; "
            f"the limit for a domain name is {_MAX_DOMAIN}"
        )
    last = domain.rpartition(".")[2]
    if not any("a" <= c <= "z" for c in last):
        raise InvalidObservable(
            f"{_show(shown)} is not a domain name: its last label {_show(last)} has no letters"
        )


def _domain_wrong_type(v: str) -> None:
    """Raise with a pointer to the right type when ``v`` is plainly not a domain."""
    try:
        addr = ipaddress.ip_address(v)
    except ValueError:
        pass
    else:
        kind = "ipv4" if addr.version == 4 else "ipv6"
        raise InvalidObservable(f"{_show(v)} is an IP address, not a domain; use type {kind}")
    if "://" in v:
        raise InvalidObservable(f"{_show(v)} is a URL, not a domain; use type url")
    if "@" in v:
        raise InvalidObservable(f"{_show(v)} is an email address, not a domain; use type email")
    if "/" in v:
        try:
            ipaddress.ip_network(v, strict=False)
        except ValueError:
            pass
        else:
            raise InvalidObservable(f"{_show(v)} is a network, not a domain; use type cidr")


def _domain_slow(v: str) -> str:
    """Full validation, with IDNA for non-ASCII names; ``v`` is stripped and non-empty."""
    _domain_wrong_type(v)
    if v.isascii():
        name = v.lower()
        if name.endswith("."):
            name = name[:-1]
        for label in name.split("."):
            _check_ascii_label(label, v)
        _check_whole_domain(name, v)
        return name
    try:
        # UTS 46 mapping (case folding, full-width forms, ideographic dots) without the
        # STD3 rules, so that '_' survives; the ASCII labels are checked below.
        mapped = idna.uts46_remap(v, std3_rules=False)
    except idna.IDNAError as err:
        raise InvalidObservable(f"{_show(v)} is not a valid domain name: {err}") from None
    if mapped.endswith("."):
        mapped = mapped[:-1]
    labels: list[str] = []
    for label in mapped.split("."):
        if label.isascii():
            _check_ascii_label(label, v)
            labels.append(label)
            continue
        try:
            labels.append(idna.alabel(label).decode("ascii"))
        except idna.IDNAError as err:
            raise InvalidObservable(
                f"{_show(v)} has label {_show(label)}, which is not a valid "
                f"internationalised domain label: {err}"
            ) from None
    name = ".".join(labels)
    _check_whole_domain(name, v)
    return name


def _domain(value: str) -> str:
    """Canonical domain: lowercase ASCII, IDN labels as punycode A-labels, no trailing dot."""
    v = _strip(value, "domain")
    if v.isascii():
        name = v.lower()
        if name.endswith("."):
            name = name[:-1]
        # Fast path: idna.encode costs ~18 µs even for an ASCII name, this check ~0.5 µs.
        if len(name) <= _MAX_DOMAIN and "xn--" not in name and _DOMAIN_FAST_RE.fullmatch(name):
            return name
    return _domain_slow(v)


# --------------------------------------------------------------------------- URLs

# Spaces and controls: urlsplit silently deletes tabs and newlines, so refuse them all.
_URL_BAD_CHAR_RE = re.compile(r"[\x00-\x20\x7f]")
_PERCENT_RE = re.compile(r"%([0-9A-Fa-f]{2})?")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21"}
_HOST_REQUIRED = frozenset({"http", "https", "ftp"})
_PATH_REQUIRED = frozenset({"http", "https"})


def _percent_escape(match: re.Match[str]) -> str:
    hex_digits = match.group(1)
    if hex_digits is None:
        return "%25"  # a lone '%' can only be spelled %25; keeps canonicalise idempotent
    char = chr(int(hex_digits, 16))
    if char in _UNRESERVED:
        return char
    return "%" + hex_digits.upper()


def _normalise_percent(part: str) -> str:
    """Decode escapes of unreserved characters, uppercase the hex of the others."""
    if "%" not in part:
        return part
    return _PERCENT_RE.sub(_percent_escape, part)


def _defanged_hint(text: str) -> str:
    if "[.]" in text or "(.)" in text or "[dot]" in text.lower():
        return " (it looks defanged; refang it first)"
    return ""


def _url_host(host: str, url: str) -> str:
    """Canonical host of a URL: a domain, an IPv4 address or a bracketed IPv6 address."""
    try:
        if host.startswith("["):
            if not host.endswith("]"):
                raise InvalidObservable(f"IPv6 host {_show(host)} is missing its closing ']'")
            return f"[{_ipv6(host[1:-1])}]"
        if _IPV4_SHAPE_RE.fullmatch(host):
            return _ipv4(host)
        return _domain(host)
    except InvalidObservable as err:
        raise InvalidObservable(
            f"{_show(url)} has an invalid host: {err.message}{_defanged_hint(host)}"
        ) from None


# An http(s) or ftp URL already in canonical form, the shape of nearly every feed's URL:
# a lowercase host of domain characters, no userinfo or port, a path, maybe a query, all
# printable ASCII without '%' or '#'. The host is checked below (domain or IPv4 address).
_URL_CANONICAL_RE = re.compile(r"(?:https?|ftp)://([a-z0-9._-]+)/[\x21-\x7e]*", re.ASCII)
_URL_NOT_FAST = frozenset("%#")


def _url(value: str) -> str:
    """Canonical URL; see :func:`canonicalise` for the rules.

    Fast path for a URL that is canonical already: returned as it is. urlsplit and the
    checks after it cost ~14 µs a URL here, a sixth of a TAXII import's pattern work
    (docs/benchmarks.md); the fast check ~1.5 µs. tests/intel/test_observables.py checks
    (hypothesis) that both paths agree.
    """
    m = _URL_CANONICAL_RE.fullmatch(value)
    if (
        m is not None
        and _URL_NOT_FAST.isdisjoint(value)
        and not value.endswith("?")
        and _canonical_host(m[1])
    ):
        return value
    return _url_slow(value)


def _canonical_host(host: str) -> bool:
    """Whether a URL's host (of ``[a-z0-9._-]``) is a domain or IPv4 address in canonical
    form: what _url_host would return unchanged."""
    if _IPV4_SHAPE_RE.fullmatch(host):
        return _IPV4_CANONICAL_RE.fullmatch(host) is not None
    return (
        len(host) <= _MAX_DOMAIN
        and "xn--" not in host
        and _DOMAIN_FAST_RE.fullmatch(host) is not None
    )


def _url_slow(value: str) -> str:
    v = _strip(value, "URL")
    bad = _URL_BAD_CHAR_RE.search(v)
    if bad is not None:
        raise InvalidObservable(
            f"{_show(v)} contains {bad.group()!r}; percent-encode it (a space is %20)"
        )
    try:
        parts = urlsplit(v)
    except ValueError as err:
        raise InvalidObservable(
            f"{_show(v)} is not a valid URL: {err}{_defanged_hint(v)}"
        ) from None
    scheme = parts.scheme
    if not scheme:
        raise InvalidObservable(f"{_show(v)} has no scheme; a URL starts with one, e.g. 'http://'")
    has_authority = v.startswith("//", len(scheme) + 1)
    if "." in scheme and not has_authority:
        raise InvalidObservable(
            f"{_show(v)} has no scheme (it starts with a host); add one, e.g. 'http://'"
        )
    authority = ""
    if has_authority:
        userinfo, at, hostport = parts.netloc.rpartition("@")
        host, port = hostport, ""
        if hostport.startswith("["):
            end = hostport.find("]")
            if end != -1:
                host, after = hostport[: end + 1], hostport[end + 1 :]
                if after and not after.startswith(":"):
                    raise InvalidObservable(
                        f"{_show(v)} has text after the IPv6 host: {_show(after)}"
                    )
                port = after[1:]
        elif ":" in hostport:
            host, _, port = hostport.rpartition(":")
        if port:
            if not (port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536):
                raise InvalidObservable(
                    f"{_show(v)} has port {_show(port)}; a port is a number from 1 to 65535"
                )
            port = str(int(port))
            if _DEFAULT_PORTS.get(scheme) == port:
                port = ""
        if host:
            host = _url_host(host, v)
        elif scheme in _HOST_REQUIRED:
            raise InvalidObservable(f"{_show(v)} has no host")
        authority = _normalise_percent(userinfo) + at + host + (":" + port if port else "")
    elif scheme in _HOST_REQUIRED:
        raise InvalidObservable(f"{_show(v)} has no host; expected {scheme}://host/...")
    path = _normalise_percent(parts.path)
    if not path and scheme in _PATH_REQUIRED:
        path = "/"
    query = _normalise_percent(parts.query)
    return (
        scheme
        + ":"
        + ("//" + authority if has_authority else "")
        + path
        + ("?" + query if query else "")
    )


# --------------------------------------------------------------------------- email

# RFC 5322 dot-atom (atext and dots), plus any non-ASCII character (RFC 6532).
_EMAIL_LOCAL_RE = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+)*"
)
_MAX_EMAIL_LOCAL = 64


def _email(value: str) -> str:
    """Canonical email address: all lowercase, the domain part as a canonical domain."""
    v = _strip(value, "email address")
    address = v.lower()
    local, at, domain = address.partition("@")
    if not at or "@" in domain:
        count = address.count("@")
        raise InvalidObservable(
            f"{_show(v)} is not an email address: it must have exactly one '@', it has {count}"
        )
    if not local:
        raise InvalidObservable(f"{_show(v)} is not an email address: nothing before the '@'")
    if not domain:
        raise InvalidObservable(f"{_show(v)} is not an email address: nothing after the '@'")
    if len(local) > _MAX_EMAIL_LOCAL or not _EMAIL_LOCAL_RE.fullmatch(local):
        if local.startswith("mailto:"):
            reason = "drop the 'mailto:' prefix"
        elif len(local) > _MAX_EMAIL_LOCAL:
            reason = f"the part before '@' is {len(local)} characters; the limit is 64"
        elif local.startswith('"'):
            reason = "quoted local parts are not supported"
        elif local.startswith(".") or local.endswith(".") or ".." in local:
            reason = "the part before '@' must not start or end with a dot or have two in a row"
        else:
            char = next((c for c in local if c != "." and not _EMAIL_LOCAL_RE.fullmatch(c)), "")
            reason = f"{char!r} is not allowed before the '@'"
        raise InvalidObservable(f"{_show(v)} is not a valid email address: {reason}")
    try:
        domain = _domain(domain)
    except InvalidObservable as err:
        raise InvalidObservable(f"{_show(v)} has an invalid domain part: {err.message}") from None
    return f"{local}@{domain}"


# --------------------------------------------------------------------------- hashes


def _hash_canonicaliser(name: str, length: int) -> Callable[[str], str]:
    exact = re.compile(f"[0-9a-f]{{{length}}}")
    non_hex = re.compile(r"[^0-9a-f]")

    def canonical(value: str) -> str:
        v = _strip(value, name).lower()
        if exact.fullmatch(v):
            return v
        if len(v) != length:
            raise InvalidObservable(f"{name} must be {length} hex digits, got {len(v)}")
        bad = non_hex.search(v)
        char = bad.group() if bad else v
        raise InvalidObservable(
            f"{name} must be {length} hex digits (0-9, a-f), got {char!r} in {_show(v)}"
        )

    canonical.__name__ = f"_{name}"
    canonical.__doc__ = f"Canonical {name}: {length} lowercase hex digits."
    return canonical


# --------------------------------------------------------------------------- the rest


def _filename(value: str) -> str:
    """A file name as given (case kept), surrounding whitespace stripped."""
    v = _strip(value, "file name")
    if "/" in v or "\\" in v:
        base = re.split(r"[/\\]", v)[-1]
        hint = f"; the name here is {_show(base)}" if base else ""
        raise InvalidObservable(f"{_show(v)} is a path, not a file name (no '/' or '\\\\'){hint}")
    if "\x00" in v:
        raise InvalidObservable(f"{_show(v)} contains a NUL character, which no file name can")
    if v in {".", ".."}:
        raise InvalidObservable(f"{_show(v)} is a directory reference, not a file name")
    return v


_CVE_RE = re.compile(r"CVE-([0-9]{4})-([0-9]{4,})", re.IGNORECASE)
_CVE_MIN_YEAR = 1999
_CVE_MAX_YEAR = 2100


def _cve(value: str) -> str:
    """Canonical CVE id: ``CVE-YYYY-NNNN…`` in uppercase."""
    v = _strip(value, "CVE id")
    match = _CVE_RE.fullmatch(v)
    if match is None:
        raise InvalidObservable(
            f"{_show(v)} is not a CVE id; expected CVE-YYYY-NNNN (year, then 4 or more digits)"
        )
    year, number = match.groups()
    if not _CVE_MIN_YEAR <= int(year) <= _CVE_MAX_YEAR:
        raise InvalidObservable(
            f"{_show(v)} has year {year}; CVE years run from {_CVE_MIN_YEAR} to {_CVE_MAX_YEAR}"
        )
    if len(number) > 4 and number.startswith("0"):
        raise InvalidObservable(
            f"{_show(v)} has a leading zero; only 4-digit CVE numbers are zero-padded"
        )
    return f"CVE-{year}-{number}"


_ASN_RE = re.compile(r"(?:AS)?([0-9]+)", re.IGNORECASE)
_ASN_LIMIT = 2**32


def _asn(value: str) -> str:
    """Canonical autonomous system number: ``AS`` and the decimal number."""
    v = _strip(value, "ASN")
    match = _ASN_RE.fullmatch(v)
    if match is None:
        raise InvalidObservable(f"{_show(v)} is not an AS number; expected e.g. AS1234 or 1234")
    digits = match.group(1).lstrip("0")
    if not digits:
        raise InvalidObservable(f"{_show(v)}: AS0 is reserved and never a real AS")
    if len(digits) > 10 or int(digits) >= _ASN_LIMIT:
        raise InvalidObservable(
            f"{_show(v)} is too large; AS numbers are 32-bit (at most {_ASN_LIMIT - 1})"
        )
    return "AS" + digits


# --------------------------------------------------------------------------- public API

_CANONICALISERS: dict[str, Callable[[str], str]] = {
    ObservableType.IPV4: _ipv4,
    ObservableType.IPV6: _ipv6,
    ObservableType.CIDR: _cidr,
    ObservableType.DOMAIN: _domain,
    ObservableType.URL: _url,
    ObservableType.EMAIL: _email,
    ObservableType.MD5: _hash_canonicaliser("md5", 32),
    ObservableType.SHA1: _hash_canonicaliser("sha1", 40),
    ObservableType.SHA256: _hash_canonicaliser("sha256", 64),
    ObservableType.FILENAME: _filename,
    ObservableType.CVE: _cve,
    ObservableType.ASN: _asn,
}


def _canonicaliser(kind: object) -> Callable[[str], str]:
    """The function for ``kind``, tolerating case and whitespace; slow path of the lookup."""
    if isinstance(kind, str):
        found = _CANONICALISERS.get(kind.strip().lower())
        if found is not None:
            return found
    expected = ", ".join(_CANONICALISERS)
    shown = _show(kind) if isinstance(kind, str) else repr(kind)
    raise InvalidObservable(f"unknown observable type {shown}; expected one of {expected}")


def canonicalise(kind: ObservableType | str, value: str) -> str:
    """The canonical form of ``value`` as an observable of type ``kind``.

    Surrounding whitespace is stripped from every value; an empty value is an error.
    Anything that is not a valid ``kind`` raises :class:`InvalidObservable`, whose
    message says what is wrong.

    - ``ipv4``/``ipv6``: one address; ``/32`` (``/128``) is dropped, other prefixes are
      refused (use ``cidr``). IPv6 is compressed lowercase (RFC 5952), IPv4-mapped
      addresses in mixed notation. Leading zeros in IPv4 octets and IPv6 zone
      indexes are refused.
    - ``cidr``: a network with its host bits cleared; a bare address gets ``/32``
      (``/128``). Netmask notation (``/255.255.255.0``) is accepted.
    - ``domain``: lowercase; one trailing dot dropped; internationalised names as
      punycode A-labels (UTS 46 mapping). Labels are 1-63 of ``a-z 0-9 - _`` (the
      underscore and hyphens at label edges occur in real malicious names), at most
      253 characters in all; the last label must contain a letter, so IP addresses
      and all-digit names are refused. A single label is allowed.
    - ``url``: scheme required and lowercased, any scheme (defanged ``hxxp`` is kept
      as is: refang first); ``http``, ``https`` and ``ftp`` need a host. The host is
      canonicalised as a domain or IP address (IPv6 in brackets), the default port
      dropped, an empty ``http(s)`` path becomes ``/``, the fragment is dropped.
      Percent-escapes of unreserved characters are decoded, the hex of the others
      uppercased, and a lone ``%`` becomes ``%25``; nothing else is re-encoded.
      Spaces and control characters are refused.
    - ``email``: the *whole* address is lowercased (usual for CTI matching, though
      the local part is case-sensitive in theory); exactly one ``@``; the local part
      is an unquoted dot-atom of at most 64 characters; the domain part as ``domain``.
    - ``md5``/``sha1``/``sha256``: lowercase, exactly 32/40/64 hex digits.
    - ``filename``: kept as given (case too); no ``/``, ``\\`` or NUL.
    - ``cve``: ``CVE-YYYY-NNNN``, uppercase; year 1999-2100; 4 or more digits.
    - ``asn``: ``AS`` and the number (``as1234`` and ``1234`` are accepted), 1 to 2**32-1.

    >>> canonicalise("ipv4", "10.0.0.1/32")
    '10.0.0.1'
    >>> canonicalise("ipv6", "::FFFF:192.0.2.1")
    '::ffff:192.0.2.1'
    >>> canonicalise("cidr", "10.0.0.1/24")
    '10.0.0.0/24'
    >>> canonicalise("domain", "пример.рф")
    'xn--e1afmkfd.xn--p1ai'
    >>> canonicalise("url", "HTTP://User@Example.COM:80?q=%2f%41")
    'http://User@example.com/?q=%2FA'
    >>> canonicalise("email", "Alice@Example.ORG")
    'alice@example.org'
    >>> canonicalise("sha1", " DA39A3EE5E6B4B0D3255BFEF95601890AFD80709 ")
    'da39a3ee5e6b4b0d3255bfef95601890afd80709'
    >>> canonicalise("filename", " Invoice.PDF.exe ")
    'Invoice.PDF.exe'
    >>> canonicalise("cve", "cve-2021-44228")
    'CVE-2021-44228'
    >>> canonicalise("asn", "as13335")
    'AS13335'
    >>> try:
    ...     canonicalise("ipv4", "999.1.1.1")
    ... except InvalidObservable as err:
    ...     print(err)
    '999.1.1.1' is not a valid IPv4 address: octet 999 (> 255) not permitted
    """
    canonical = _CANONICALISERS.get(kind)
    if canonical is None:
        canonical = _canonicaliser(kind)
    return canonical(value)
