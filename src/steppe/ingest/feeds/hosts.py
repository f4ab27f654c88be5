"""Which hosts and folders a feed may be fetched from (server-side request forgery guard).

A feed URL is typed by a user but fetched by the server, so without a policy anyone who
may add a feed could make Steppe read its own loopback services, the cloud metadata
endpoint (169.254.169.254) or hosts on the internal network. By default a feed may
only reach public addresses:

    >>> HostPolicy().address_refusal(ipaddress.ip_address("10.0.0.5"))
    'a private address'
    >>> HostPolicy.from_entries(["10.0.0.0/8"]).address_refusal(ipaddress.ip_address("10.0.0.5"))

``STEPPE_FEED_ALLOWED_HOSTS`` lists host names, addresses and CIDR blocks that are
allowed all the same (an internal mirror; ``127.0.0.1`` in tests). ``file://`` URLs
are read only under the folders of ``STEPPE_FEED_FILE_ROOTS`` (default: ``feeds/`` in
the data dir, where the demo writes its sample feeds).

The check runs when a feed is added and again on every request a pull makes: the
:class:`GuardedTransport` resolves the host itself, checks every address it resolves
to, and connects to the address it checked (the TLS name stays the host's), so a DNS
answer that changes between the check and the connection (DNS rebinding) cannot slip
through; redirects are requests too and are checked the same way.

Playbook webhooks go through the same guard with their own allow-list,
``STEPPE_PLAYBOOK_WEBHOOK_ALLOWED_HOSTS`` (:meth:`HostPolicy.for_webhooks`): a playbook
author must not be able to make the server post to its own loopback services either.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import httpx

from steppe.errors import InputError

if TYPE_CHECKING:
    from steppe.settings import Settings

__all__ = [
    "GuardedTransport",
    "HostPolicy",
    "HostRefused",
    "HostUnresolved",
    "Resolver",
    "guarded_client",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``(host, port) -> addresses``; :func:`socket.getaddrinfo` unless a test gives its own.
Resolver = Callable[[str, int], list[str]]

_HOSTS_SETTING = "STEPPE_FEED_ALLOWED_HOSTS"
_ROOTS_SETTING = "STEPPE_FEED_FILE_ROOTS"


class HostRefused(InputError):
    """A URL points where the host policy does not let Steppe go."""


class HostUnresolved(HostRefused):
    """The host name does not resolve (now): worth trying again later."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise HostUnresolved(f"URL host {host} cannot be resolved: {reason}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Allowed host names, networks and local folders; everything public is allowed.

    >>> policy = HostPolicy.from_entries(["127.0.0.1", "mirror.internal"], [Path("/srv/feeds")])
    >>> policy.check_file("file:///srv/feeds/c2.txt")
    PosixPath('/srv/feeds/c2.txt')
    """

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    file_roots: tuple[Path, ...] = ()
    resolver: Resolver = system_resolver
    #: What is being fetched, in refusals ("feed URL host 10.0.0.5 is a private address").
    label: str = "feed URL"
    #: The setting that allows more hosts, named in refusals.
    hosts_setting: str = _HOSTS_SETTING

    @classmethod
    def from_entries(
        cls,
        entries: Iterable[str] = (),
        file_roots: Iterable[Path] = (),
        *,
        resolver: Resolver = system_resolver,
        label: str = "feed URL",
        hosts_setting: str = _HOSTS_SETTING,
    ) -> HostPolicy:
        """A policy from host names, addresses and CIDRs (``STEPPE_FEED_ALLOWED_HOSTS``)."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().strip("[]").lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if "/" in entry or any(c.isspace() for c in entry):
                    raise HostRefused(
                        f"{raw!r} is neither a host name, an address nor a CIDR block",
                        field=hosts_setting,
                    ) from None
                names.add(entry.rstrip("."))
        roots = tuple(Path(root).expanduser().resolve() for root in file_roots)
        return cls(frozenset(names), tuple(networks), roots, resolver, label, hosts_setting)

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        return cls.from_entries(settings.feed_allowed_hosts, settings.resolved_feed_file_roots())

    @classmethod
    def for_webhooks(cls, settings: Settings) -> HostPolicy:
        """Where playbook webhooks may post: public addresses and
        ``STEPPE_PLAYBOOK_WEBHOOK_ALLOWED_HOSTS`` (no files)."""
        return cls.from_entries(
            settings.playbook_webhook_allowed_hosts,
            label="webhook URL",
            hosts_setting="STEPPE_PLAYBOOK_WEBHOOK_ALLOWED_HOSTS",
        )

    def address_refusal(self, address: IPAddress) -> str | None:
        """Why a feed may not connect to ``address`` (None: it may)."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if any(address in network for network in self.networks):
            return None
        if address.is_unspecified:
            return "an unspecified address"
        if address.is_loopback:
            return "a loopback address"
        if address.is_link_local:
            return "a link-local address (cloud metadata lives there)"
        if address.is_multicast:
            return "a multicast address"
        if address.is_private:
            return "a private address"
        if not address.is_global:
            return "a reserved address"
        return None

    def check_host(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` a feed may connect to; refuses if any is not allowed.

        Every address is checked, not just the first: a name that resolves to one public
        and one internal address is refused (the connection could use either).
        """
        name = host.strip("[]").lower().rstrip(".")
        literal = _address(name)
        if literal is not None:
            addresses = [str(literal)]
        elif name in self.names:
            return self.resolver(name, port)  # allowed by name, whatever it resolves to
        else:
            addresses = self.resolver(name, port)
        for text in addresses:
            address = _address(text.split("%", 1)[0])  # fe80::1%eth0: drop the zone
            if address is None:
                raise HostRefused(f"{self.label} host {host} resolved to {text!r}")
            why = self.address_refusal(address)
            if why is not None:
                shown = host if literal is not None else f"{host} (resolves to {address})"
                raise HostRefused(
                    f"{self.label} host {shown} is {why}; allow it with {self.hosts_setting}",
                )
        if not addresses:
            raise HostRefused(f"{self.label} host {host} resolves to no address")
        return addresses

    def check_file(self, url: str) -> Path:
        """The path of a ``file://`` URL, if it lies under an allowed folder."""
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise HostRefused(f"{url}: file URLs must be local (file:///path)")
        path = Path(unquote(parts.path))
        real = path.resolve()  # symlinks and .. are followed before the check
        if not any(real.is_relative_to(root) for root in self.file_roots):
            allowed = ", ".join(str(r) for r in self.file_roots) or "none"
            raise HostRefused(
                f"{url} is outside the folders file feeds may read ({allowed}); "
                f"allow its folder with {_ROOTS_SETTING}",
            )
        return path

    def check_url(self, url: str, *, unresolved_ok: bool = False) -> None:
        """Refuse ``url`` (http, https or file) unless the policy lets a feed fetch it.

        ``unresolved_ok``: a host name that does not resolve now passes (when a feed is
        added: every pull checks again, so a name that resolves later is still checked).
        """
        if url.startswith("file:"):
            self.check_file(url)
            return
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise HostRefused(f"not a URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise HostRefused(f"{url}: must be an http(s) URL with a host")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            self.check_host(parsed.host, port)
        except HostUnresolved:
            if not unresolved_ok:
                raise


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class GuardedTransport(httpx.BaseTransport):
    """An HTTP transport that only connects to addresses the policy allows.

    It resolves the request's host, checks the addresses, and sends the request to the
    first of them with the original ``Host`` header and TLS server name, so the address
    connected to is the address checked.

        >>> client = httpx.Client(transport=GuardedTransport(HostPolicy()))  # doctest: +SKIP
    """

    def __init__(self, policy: HostPolicy) -> None:
        self.policy = policy
        # One connection pool per host name: the pool is keyed by the address connected
        # to, and a TLS connection made for one name must not carry another name's
        # requests (two feeds behind one CDN address).
        self._pools: dict[str, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def _pool(self, host: str) -> httpx.HTTPTransport:
        with self._lock:
            pool = self._pools.get(host)
            if pool is None:
                pool = self._pools[host] = httpx.HTTPTransport()
            return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise HostRefused(f"{url}: feeds follow only http(s) URLs")
        host = url.host
        addresses = self.policy.check_host(host, url.port or (443 if url.scheme == "https" else 80))
        if _address(host.strip("[]")) is not None:
            return self._pool(host).handle_request(request)
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=addresses[0].split("%", 1)[0]),
            headers=request.headers,  # Host: still the name
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": host},
        )
        return self._pool(host).handle_request(pinned)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


def guarded_client(policy: HostPolicy, *, timeout: float, max_redirects: int) -> httpx.Client:
    """An :class:`httpx.Client` whose every request (and redirect) goes through the guard.

    Environment proxies (``HTTPS_PROXY``) are not used: a proxy resolves and connects on
    its own, past the check.
    """
    return httpx.Client(
        transport=GuardedTransport(policy),
        trust_env=False,
        timeout=timeout,
        follow_redirects=True,
        max_redirects=max_redirects,
        headers={"User-Agent": "steppe-feeds/1"},
    )
