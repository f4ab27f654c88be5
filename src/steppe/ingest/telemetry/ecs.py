"""Value normalisers shared by the telemetry parsers: one canonical form per ECS field.

Each normaliser takes what a sensor wrote and returns the stored form, or raises
:class:`FieldProblem` naming the field; the parser turns that into a
:class:`~steppe.ingest.telemetry.model.ParseProblem` for that one record.

    >>> ip("2001:DB8::0:1", "source.ip")
    '2001:db8::1'
    >>> port("443", "destination.port")
    443
    >>> domain("Evil.Example.", "dns.question.name")
    'evil.example'
    >>> epoch("1521911720.865716", "@timestamp")
    '2018-03-24T17:15:20.865716Z'
    >>> hashes("SHA1=AB,MD5=CD,IMPHASH=EF")
    {'file.hash.sha1': 'ab', 'file.hash.md5': 'cd'}

These run once per field per event on the ingest hot path, so the common cases avoid
regexes and repeat work (IP canonicalisation and whole-second timestamps are cached:
telemetry repeats the same few addresses and seconds endlessly).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from steppe.ingest.telemetry.model import ECS_COLUMNS, ColumnKind, NormalisedEvent
from steppe.storage.timestamps import format_ts, normalise

__all__ = [
    "IPS",
    "FieldProblem",
    "Normaliser",
    "connection",
    "domain",
    "epoch",
    "flatten",
    "hashes",
    "integer",
    "ip",
    "iso",
    "lower",
    "normaliser_for",
    "port",
    "text",
    "timestamp",
]

Normaliser = Callable[[Any, str], Any]


class FieldProblem(ValueError):
    """One field of one record has a value we cannot store; the record is skipped."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# Hot-path caches: plain dicts, read by parsers with ``CACHE[value]`` inside a try (the
# cheapest look-up Python has), emptied when they pass a bound so that a scan of random
# addresses or a year of distinct seconds cannot eat memory.
_CACHE_LIMIT = 200_000
#: Canonical text of every address seen (the key as the sensor wrote it).
IPS: dict[str, str] = {}


def _remember(cache: dict[str, str], key: str, value: str) -> str:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


# A dotted quad already in canonical form (no leading zeros, every octet ≤ 255): exactly
# the IPv4 texts ``ipaddress`` accepts and gives back unchanged. Hand-written because
# ``ipaddress.ip_address`` measured ~6 µs per new address, the largest cost of parsing
# EVE from a busy network (a scan or many clients: the cache misses); this match ~0.3 µs.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}").fullmatch


def ip(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise FieldProblem(field, f"expected an IP address, found {value!r}")
    known = IPS.get(value)
    if known is not None:
        return known
    if _PLAIN_IPV4(value) is not None:
        return _remember(IPS, value, value)
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise FieldProblem(field, f"not an IP address: {value!r}") from None
    # The same text as steppe.intel.observables, so indicators and events compare equal
    # (and str() of IPv4-mapped addresses changed in Python 3.13).
    if address.version == 6:
        mapped = address.ipv4_mapped
        text = f"::ffff:{mapped}" if mapped is not None else address.compressed
    else:
        text = str(address)
    return _remember(IPS, value, text)


def connection(
    event: NormalisedEvent,
    get: Callable[[str], Any],
    names: tuple[str, str, str, str, str],
) -> None:
    """Set the connection's 5-tuple (``source.ip/port``, ``destination.ip/port``,
    ``network.transport``) from the record's fields ``names``, in that order.

    Zeek (``id.orig_h`` …) and Suricata (``src_ip`` …) spell them differently but store
    them alike; the common cases (a cached address, an int port) skip the normalisers.

    >>> event = {}
    >>> connection(event, {"src_ip": "10.0.0.1", "dest_port": 53, "proto": "UDP"}.get,
    ...            ("src_ip", "dest_ip", "src_port", "dest_port", "proto"))
    >>> event
    {'source.ip': '10.0.0.1', 'destination.port': 53, 'network.transport': 'udp'}
    """
    source_ip, destination_ip, source_port, destination_port, transport = names
    value = get(source_ip)
    if value is not None and value != "":
        try:
            event["source.ip"] = IPS[value]
        except (KeyError, TypeError):
            event["source.ip"] = ip(value, source_ip)
    value = get(destination_ip)
    if value is not None and value != "":
        try:
            event["destination.ip"] = IPS[value]
        except (KeyError, TypeError):
            event["destination.ip"] = ip(value, destination_ip)
    value = get(source_port)
    if value is not None:
        ok = value.__class__ is int and 0 <= value <= 65535
        event["source.port"] = value if ok else port(value, source_port)
    value = get(destination_port)
    if value is not None:
        ok = value.__class__ is int and 0 <= value <= 65535
        event["destination.port"] = value if ok else port(value, destination_port)
    value = get(transport)
    if value is not None:
        ok = value.__class__ is str
        event["network.transport"] = value.lower() if ok else lower(value, transport)


def integer(value: Any, field: str) -> int:
    # bool is an int subclass; a JSON true in a port field is an error, not 1.
    if type(value) is int:
        return value
    if isinstance(value, str):
        try:
            # Windows writes ids as hex ("0x378") as often as decimal.
            return int(value, 16) if value[:2] in ("0x", "0X") else int(value)
        except ValueError:
            pass
    elif isinstance(value, float) and value.is_integer():
        return int(value)
    raise FieldProblem(field, f"expected an integer, found {value!r}")


def port(value: Any, field: str) -> int:
    number = integer(value, field)
    if not 0 <= number <= 65535:
        raise FieldProblem(field, f"port out of range: {number}")
    return number


def text(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise FieldProblem(field, f"expected text, found {type(value).__name__}")


def lower(value: Any, field: str) -> str:
    return text(value, field).lower()


def domain(value: Any, field: str) -> str:
    return text(value, field).lower().rstrip(".")


# "1521911720" → "2018-03-24T17:15:20." and "2026-01-02T03:04:05-0600" (a time less its
# fraction) → "2026-01-02T09:04:05."
_SECONDS: dict[str, str] = {}
_ISO_SECONDS: dict[str, str] = {}


def epoch(value: Any, field: str) -> str:
    """Seconds since 1970 (Zeek's ``ts``), as text or a number, to the stored form.

    Built from the digits rather than through a float: ``1521911720.865716`` keeps
    exactly the microseconds the sensor wrote (a float's ``repr`` gives them back too).
    """
    text = repr(value) if value.__class__ is float else value
    if text.__class__ is str:
        whole, _, frac = text.partition(".")
        prefix = _SECONDS.get(whole)
        if (
            prefix is not None
            and len(frac) <= 6
            and (not frac or (frac.isdigit() and frac.isascii()))
        ):
            return f"{prefix}{frac:0<6}Z"
    return _epoch(value, field)


def _epoch(value: Any, field: str) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            raise FieldProblem(field, f"not a time: {value!r}")
        value = repr(float(value)) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise FieldProblem(field, f"expected seconds since 1970, found {value!r}")
    whole, _, frac = value.partition(".")
    if whole.isdigit() and (not frac or frac.isdigit()) and len(whole) <= 11 and value.isascii():
        try:
            m = datetime.fromtimestamp(int(whole), UTC)
        except (OverflowError, OSError, ValueError):
            pass
        else:
            prefix = _remember(
                _SECONDS,
                whole,
                f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:"
                f"{m.second:02d}.",
            )
            return f"{prefix}{frac[:6]:0<6}Z"
    try:
        return format_ts(datetime.fromtimestamp(float(value), UTC))
    except (OverflowError, OSError, ValueError):
        raise FieldProblem(field, f"not a time: {value!r}") from None


def iso(value: Any, field: str) -> str:
    """An ISO 8601 time with a zone (``Z``, ``+02:00``, ``-0600``) to the stored form.

    A time without a zone is taken as UTC: Windows' ``UtcTime`` and Sysmon write them so.
    The common shape, six-digit fraction then a zone, is converted a second at a time:
    the time without its fraction is looked up in a cache (a zone moves hours and
    minutes, never the fraction), so most events cost a slice, a look-up and a check.
    """
    try:
        prefix = _ISO_SECONDS[value[:19] + value[26:]]
    except (KeyError, TypeError):
        return _iso_second(value, field)
    fraction = value[20:26]
    if value[19] == "." and fraction.isdigit() and fraction.isascii():
        return f"{prefix}{fraction}Z"
    return _iso(value, field)


def _iso_second(value: Any, field: str) -> str:
    """The slow path of :func:`iso`, which fills its cache for the common shape."""
    if (
        value.__class__ is str
        and len(value) > 26
        and value[19] == "."
        and value.isascii()  # isdigit alone lets "²" and other scripts' digits in
        and value[20:26].isdigit()
    ):
        try:
            moment = datetime.fromisoformat(value[:19] + value[26:])
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            try:
                m = moment.astimezone(UTC)
            except OverflowError:  # year 1 less an hour, 9999 plus one: no UTC time
                raise FieldProblem(field, f"not a time Steppe can store: {value!r}") from None
            prefix = _remember(
                _ISO_SECONDS,
                value[:19] + value[26:],
                f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:"
                f"{m.second:02d}.",
            )
            return f"{prefix}{value[20:26]}Z"
    return _iso(value, field)


def _iso(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise FieldProblem(field, f"expected an ISO 8601 time, found {value!r}")
    if not value.isascii():
        # storage.timestamps.normalise's \d also matches other scripts' digits, and
        # would keep them in the fraction.
        raise FieldProblem(field, f"not an ISO 8601 time: {value!r}")
    try:
        return normalise(value)
    except (ValueError, OverflowError):
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FieldProblem(field, f"not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return format_ts(moment)
    except OverflowError:
        raise FieldProblem(field, f"not a time Steppe can store: {value!r}") from None


def timestamp(value: Any, field: str) -> str:
    """Either form: numbers and digit strings are epoch seconds, the rest ISO 8601."""
    if value.__class__ is str and ("-" in value or "T" in value):
        return iso(value, field)
    return epoch(value, field)


_HASH_FIELDS = {"md5": "file.hash.md5", "sha1": "file.hash.sha1", "sha256": "file.hash.sha256"}


def hashes(value: str) -> dict[str, str]:
    """Sysmon's ``Hashes`` (``SHA256=..,MD5=..``) to ECS hash fields (others dropped)."""
    found: dict[str, str] = {}
    for part in value.split(","):
        name, sep, digest = part.partition("=")
        target = _HASH_FIELDS.get(name.strip().lower()) if sep else None
        if target is not None and digest:
            found[target] = digest.strip().lower()
    return found


_INT_COLUMNS = frozenset(name for name, kind in ECS_COLUMNS if kind is ColumnKind.INT)
_TS_COLUMNS = frozenset(name for name, kind in ECS_COLUMNS if kind is ColumnKind.TIMESTAMP)
_BY_NAME: dict[str, Normaliser] = {
    "source.ip": ip,
    "destination.ip": ip,
    "host.ip": ip,
    "source.port": port,
    "destination.port": port,
    "dns.question.name": domain,
    "url.domain": domain,
    "destination.domain": domain,
    "tls.server.sni": domain,
    "file.hash.md5": lower,
    "file.hash.sha1": lower,
    "file.hash.sha256": lower,
    "network.transport": lower,
}


def normaliser_for(field: str) -> Normaliser:
    """The normaliser an ECS field's values go through (by name, then by column kind)."""
    found = _BY_NAME.get(field)
    if found is not None:
        return found
    if field in _INT_COLUMNS:
        return integer
    if field in _TS_COLUMNS:
        return timestamp
    return text


def flatten(record: dict[str, Any], prefix: str = "") -> NormalisedEvent:
    """Nested objects to dotted keys: ``{"source": {"ip": x}}`` → ``{"source.ip": x}``.

    >>> flatten({"source": {"ip": "10.0.0.1", "port": 80}, "event.dataset": "x"})
    {'source.ip': '10.0.0.1', 'source.port': 80, 'event.dataset': 'x'}
    """
    out: NormalisedEvent = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
