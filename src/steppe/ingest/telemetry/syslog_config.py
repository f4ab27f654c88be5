"""Where the syslog listener listens, its limits, and whose telemetry a sender's is.

>>> config = ListenerConfig(udp=(parse_endpoint("0.0.0.0:514"),), queue_messages=10_000)
>>> network, name = parse_mapping("10.1.0.0/16=KZ-CERT")
>>> OrganisationRouter(default=1, routes=[(network, 2)]).organisation_for("10.1.4.4")
2
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from steppe.errors import InputError
from steppe.settings import Settings

__all__ = ["ListenerConfig", "Network", "OrganisationRouter", "parse_endpoint", "parse_mapping"]

Network = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """Where to listen and how much to hold. Endpoints are ``(host, port)``; port 0
    picks a free one (see :attr:`SyslogListener.udp_addresses`)."""

    udp: tuple[tuple[str, int], ...] = ()
    tcp: tuple[tuple[str, int], ...] = ()
    #: Longer messages are cut to this and flagged ``truncated`` (kept, not dropped).
    max_message_bytes: int = 64 * 1024
    batch_size: int = 1000
    batch_interval: float = 0.2
    queue_messages: int = 100_000
    queue_bytes: int = 64 * 1024 * 1024
    #: A TCP connection silent this long is closed.
    idle_timeout: float = 300.0
    max_connections: int = 1024
    #: How long a TCP connection stays paused on a full queue before its waiting
    #: messages are dropped.
    tcp_max_stall: float = 30.0
    stats_interval: float = 60.0
    #: At stop, how long to keep offering the last messages to an overloaded sink.
    shutdown_grace: float = 10.0
    #: Kernel receive buffer asked for each UDP socket: absorbs bursts while the loop is
    #: busy. Linux caps it at net.core.rmem_max (often 208 KiB; raise that for more).
    udp_receive_buffer: int = 8 * 1024 * 1024
    top_senders: int = 10

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ListenerConfig:
        """The limits ``STEPPE_SYSLOG_*`` configure; endpoints and the rest as given."""
        values: dict[str, Any] = {
            "max_message_bytes": settings.syslog_max_message_bytes,
            "queue_messages": settings.syslog_queue_messages,
            "queue_bytes": settings.syslog_queue_bytes,
            "max_connections": settings.syslog_max_connections,
            "idle_timeout": settings.syslog_idle_timeout_seconds,
            "tcp_max_stall": settings.syslog_tcp_max_stall_seconds,
        }
        values.update(overrides)
        return cls(**values)


def parse_endpoint(text: str, option: str = "endpoint") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``; ``:PORT`` for every IPv4 interface) to a pair.

    >>> parse_endpoint("0.0.0.0:514"), parse_endpoint("[::1]:6514"), parse_endpoint(":514")
    (('0.0.0.0', 514), ('::1', 6514), ('0.0.0.0', 514))
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"{text!r} is not HOST:PORT", field=option)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port)


def parse_mapping(text: str, option: str = "--map") -> tuple[Network, str]:
    """``CIDR=ORGANISATION`` to a network and an organisation name.

    >>> parse_mapping("10.1.0.0/16=KZ-CERT")
    (IPv4Network('10.1.0.0/16'), 'KZ-CERT')

    Host bits set (``10.1.0.1/16``) are refused rather than guessed: a wrong mapping
    files one member's logs under another.
    """
    cidr, sep, name = text.partition("=")
    if not sep or not name.strip():
        raise InputError(f"{text!r} is not CIDR=ORGANISATION", field=option)
    try:
        network = ipaddress.ip_network(cidr.strip())
    except ValueError as exc:
        raise InputError(f"{cidr.strip()!r}: {exc}", field=option) from None
    return network, name.strip()


class OrganisationRouter:
    """Sender address → organisation id: the longest matching CIDR, else the default.

    >>> router = OrganisationRouter(1, [(ipaddress.ip_network("10.1.0.0/16"), 2),
    ...                                 (ipaddress.ip_network("10.1.2.0/24"), 3)])
    >>> router.organisation_for("10.1.2.9"), router.organisation_for("10.1.9.9")
    (3, 2)
    >>> router.organisation_for("::ffff:10.1.9.9"), router.organisation_for("192.0.2.1")
    (2, 1)
    """

    _CACHE_LIMIT = 65536

    def __init__(self, default: int, routes: Sequence[tuple[Network, int]] = ()) -> None:
        self.default = default
        # Longest prefix first, so the first match is the most specific one.
        self.routes = sorted(routes, key=lambda route: -route[0].prefixlen)
        self._cache: dict[str, int] = {}

    def organisation_for(self, address: str) -> int:
        org = self._cache.get(address)
        if org is None:
            org = self._lookup(address)
            if len(self._cache) >= self._CACHE_LIMIT:  # spoofed senders must not grow it
                self._cache.clear()
            self._cache[address] = org
        return org

    def _lookup(self, address: str) -> int:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return self.default
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for network, org in self.routes:
            if ip.version == network.version and ip in network:
                return org
        return self.default
