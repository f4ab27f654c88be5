"""The tables shared by the MISP reader and writer: attribute types, distribution, TLP.

MISP attribute types that Steppe can match map onto one STIX object path (and the
observable type it indexes as); the rest travel as ``x-misp-attribute`` objects so that
nothing is lost on the way back to MISP::

    >>> ATTRIBUTE_PATHS["ip-dst"]
    ('ipv4-addr', 'value')
    >>> misp_distribution("1")
    <Distribution.COMMUNITY: 'community'>
    >>> tlp_of_tags(["PAP:GREEN", "tlp:amber+strict", "tlp:green"])
    <TlpLevel.AMBER_STRICT: 'amber+strict'>
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from steppe.intel.observables import ObservableType
from steppe.sharing.model import Distribution, TlpLevel
from steppe.storage import timestamps

__all__ = [
    "ATTRIBUTE_PATHS",
    "DEFAULT_CATEGORY",
    "MISP_TYPE_OF",
    "TLP_TAGS",
    "misp_distribution",
    "misp_time",
    "stix_time",
    "tlp_of_tags",
]

#: MISP type -> (STIX object type, property) of the value it is matched on. For the
#: composite types (``a|b``) the part used is in :data:`COMPOSITE_PART`; the whole value
#: is kept in ``x_misp_attribute``. IPv6 values switch to ``ipv6-addr`` by their ':'.
ATTRIBUTE_PATHS: dict[str, tuple[str, str]] = {
    "ip-src": ("ipv4-addr", "value"),
    "ip-dst": ("ipv4-addr", "value"),
    "ip-src|port": ("ipv4-addr", "value"),
    "ip-dst|port": ("ipv4-addr", "value"),
    "domain": ("domain-name", "value"),
    "hostname": ("domain-name", "value"),
    "domain|ip": ("domain-name", "value"),
    "hostname|port": ("domain-name", "value"),
    "url": ("url", "value"),
    "email": ("email-addr", "value"),
    "email-src": ("email-addr", "value"),
    "email-dst": ("email-addr", "value"),
    "email-reply-to": ("email-addr", "value"),
    "md5": ("file", "hashes.MD5"),
    "sha1": ("file", "hashes.'SHA-1'"),
    "sha256": ("file", "hashes.'SHA-256'"),
    "filename": ("file", "name"),
    "filename|md5": ("file", "hashes.MD5"),
    "filename|sha1": ("file", "hashes.'SHA-1'"),
    "filename|sha256": ("file", "hashes.'SHA-256'"),
    "AS": ("autonomous-system", "number"),
}

#: Which part of a composite value is matched on (0 = before the '|').
COMPOSITE_PART: dict[str, int] = {
    "ip-src|port": 0,
    "ip-dst|port": 0,
    "domain|ip": 0,
    "hostname|port": 0,
    "filename|md5": 1,
    "filename|sha1": 1,
    "filename|sha256": 1,
}

#: The observable type each path is checked as (ipv6 and cidr decided by the value).
PATH_KIND: dict[tuple[str, str], ObservableType] = {
    ("ipv4-addr", "value"): ObservableType.IPV4,
    ("ipv6-addr", "value"): ObservableType.IPV6,
    ("domain-name", "value"): ObservableType.DOMAIN,
    ("url", "value"): ObservableType.URL,
    ("email-addr", "value"): ObservableType.EMAIL,
    ("file", "hashes.MD5"): ObservableType.MD5,
    ("file", "hashes.'SHA-1'"): ObservableType.SHA1,
    ("file", "hashes.'SHA-256'"): ObservableType.SHA256,
    ("file", "name"): ObservableType.FILENAME,
    ("autonomous-system", "number"): ObservableType.ASN,
}

#: Our observable type -> the MISP type written for STIX indicators that did not come
#: from MISP (their category is :data:`DEFAULT_CATEGORY`'s).
MISP_TYPE_OF: dict[ObservableType, str] = {
    ObservableType.IPV4: "ip-dst",
    ObservableType.IPV6: "ip-dst",
    ObservableType.CIDR: "ip-dst",
    ObservableType.DOMAIN: "domain",
    ObservableType.URL: "url",
    ObservableType.EMAIL: "email-src",
    ObservableType.MD5: "md5",
    ObservableType.SHA1: "sha1",
    ObservableType.SHA256: "sha256",
    ObservableType.FILENAME: "filename",
    ObservableType.CVE: "vulnerability",
    ObservableType.ASN: "AS",
}

DEFAULT_CATEGORY: dict[str, str] = {
    "ip-dst": "Network activity",
    "domain": "Network activity",
    "url": "Network activity",
    "AS": "Network activity",
    "email-src": "Payload delivery",
    "md5": "Payload delivery",
    "sha1": "Payload delivery",
    "sha256": "Payload delivery",
    "filename": "Payload delivery",
    "vulnerability": "External analysis",
}

#: MISP distribution -> Steppe distribution. 4 is a sharing group (the caller maps the
#: group); 5 ("inherit event") is resolved against the event before this table.
_DISTRIBUTION: dict[str, Distribution] = {
    "0": Distribution.ORGANISATION,  # your organisation only
    "1": Distribution.COMMUNITY,  # this community
    "2": Distribution.FEDERATION,  # connected communities
    "3": Distribution.FEDERATION,  # all communities
    "4": Distribution.GROUPS,  # a sharing group
}
#: Narrowest first: an import takes the narrowest distribution any part of it asks for.
NARROWNESS = [
    Distribution.ORGANISATION,
    Distribution.GROUPS,
    Distribution.COMMUNITY,
    Distribution.FEDERATION,
]


def misp_distribution(value: object) -> Distribution | None:
    """Steppe's distribution for a MISP one (``"0"``…``"4"``); None for 5, absent or junk."""
    return _DISTRIBUTION.get(str(value).strip()) if value is not None else None


#: MISP distribution written back for each of ours.
MISP_DISTRIBUTION: dict[Distribution, str] = {
    Distribution.ORGANISATION: "0",
    Distribution.GROUPS: "4",
    Distribution.COMMUNITY: "1",
    Distribution.FEDERATION: "3",
}

TLP_TAGS: dict[str, TlpLevel] = {
    "tlp:clear": TlpLevel.CLEAR,
    "tlp:white": TlpLevel.CLEAR,
    "tlp:green": TlpLevel.GREEN,
    "tlp:amber": TlpLevel.AMBER,
    "tlp:amber+strict": TlpLevel.AMBER_STRICT,
    "tlp:red": TlpLevel.RED,
}
_TLP_ORDER = list(TlpLevel)


def tlp_of_tags(tags: Iterable[str]) -> TlpLevel | None:
    """The most restrictive ``tlp:`` tag among ``tags`` (any case), if there is one."""
    found = [TLP_TAGS[t] for t in (tag.strip().lower() for tag in tags) if t in TLP_TAGS]
    return max(found, key=_TLP_ORDER.index) if found else None


def stix_time(value: object, fallback: str) -> str:
    """A MISP timestamp (epoch seconds, or ISO text) as a STIX timestamp."""
    if value is None or value == "":
        return fallback
    text = str(value).strip()
    try:
        if text.isdigit():
            moment = datetime.fromtimestamp(int(text), UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return fallback
    return timestamps.format_ts(moment)


def misp_time(stix: str) -> str:
    """A STIX timestamp as MISP's epoch-seconds string."""
    moment = datetime.fromisoformat(stix.replace("Z", "+00:00"))
    return str(int(moment.timestamp()))
