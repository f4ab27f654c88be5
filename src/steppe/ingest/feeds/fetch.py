"""Fetching a feed's bytes: HTTP(S) with conditional requests, or a local file.

HTTP sends ``If-None-Match`` (the stored ETag) and ``If-Modified-Since`` (the stored
``Last-Modified``); a ``304`` means nothing to do. A ``file://`` URL gets the same
treatment with the file's modification time and size standing in for the ETag, so a
re-pull of an unchanged file does no work either. Limits: a timeout per request, a
size limit (bytes read, checked while streaming), a redirect limit.

Every failure is a :class:`FetchError` with a one-line message naming the URL. Where a
feed may go is :mod:`~steppe.ingest.feeds.hosts`' policy (``FetchLimits.hosts``): the
HTTP client checks every request and redirect, a ``file://`` path is checked before it
is read; a refusal is a :class:`~steppe.ingest.feeds.hosts.HostRefused`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from steppe.errors import SteppeError
from steppe.ingest.feeds.hosts import HostPolicy, guarded_client
from steppe.settings import Settings

__all__ = [
    "FetchError",
    "FetchLimits",
    "Fetched",
    "fetch",
    "http_client",
    "limits_from",
    "local_path",
]


class FetchError(SteppeError):
    """A feed could not be fetched (network, HTTP status, size, missing file)."""

    status = 502


@dataclass(frozen=True, slots=True)
class FetchLimits:
    timeout: float = 30.0
    max_bytes: int = 256 * 1024 * 1024
    max_redirects: int = 5
    #: Where feeds may go; the default refuses every non-public address and file://.
    hosts: HostPolicy = field(default_factory=HostPolicy)


def limits_from(settings: Settings) -> FetchLimits:
    return FetchLimits(
        timeout=settings.feed_timeout_seconds,
        max_bytes=settings.feed_max_bytes,
        max_redirects=settings.feed_max_redirects,
        hosts=HostPolicy.from_settings(settings),
    )


@dataclass(frozen=True, slots=True)
class Fetched:
    """The body (None when not modified) and the validators to send next time."""

    data: bytes | None
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.data is None


def local_path(url: str) -> Path:
    """The local path of a ``file://`` URL."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(f"{url}: file URLs must be local (file:///path)")
    return Path(unquote(parts.path))


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    limits: FetchLimits | None = None,
    client: httpx.Client | None = None,
) -> Fetched:
    """Fetch ``url`` unless it did not change since ``etag`` / ``last_modified``."""
    limits = limits or FetchLimits()
    if url.startswith("file:"):
        return _fetch_file(url, etag, limits)
    if client is None:
        with _client(limits) as own:
            return _fetch_http(own, url, etag, last_modified, limits)
    return _fetch_http(client, url, etag, last_modified, limits)


def http_client(limits: FetchLimits) -> httpx.Client:
    """The client to pass to :func:`fetch` for several fetches (checked by the policy)."""
    return _client(limits)


def _client(limits: FetchLimits) -> httpx.Client:
    return guarded_client(limits.hosts, timeout=limits.timeout, max_redirects=limits.max_redirects)


def _fetch_http(
    client: httpx.Client,
    url: str,
    etag: str | None,
    last_modified: str | None,
    limits: FetchLimits,
) -> Fetched:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(None, etag, last_modified)
            if response.status_code != 200:
                raise FetchError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                raise FetchError(f"{url}: {declared} bytes is over the limit of {limits.max_bytes}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limits.max_bytes:
                    raise FetchError(f"{url}: more than the limit of {limits.max_bytes} bytes")
                chunks.append(chunk)
            return Fetched(
                b"".join(chunks),
                response.headers.get("etag"),
                response.headers.get("last-modified"),
            )
    except httpx.TooManyRedirects:
        raise FetchError(f"{url}: more than {limits.max_redirects} redirects") from None
    except httpx.TimeoutException:
        raise FetchError(f"{url}: timed out after {limits.timeout:g} s") from None
    except httpx.HTTPError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FetchError(f"{url}: {reason}") from None


def _fetch_file(url: str, etag: str | None, limits: FetchLimits) -> Fetched:
    path = limits.hosts.check_file(url)
    try:
        info = path.stat()
        if path.is_dir():
            raise FetchError(f"{url}: is a folder (only a misp-feed may be a folder)")
        tag = f'"{info.st_mtime_ns:x}-{info.st_size:x}"'
        if etag == tag:
            return Fetched(None, etag, None)
        if info.st_size > limits.max_bytes:
            raise FetchError(f"{url}: {info.st_size} bytes is over the limit of {limits.max_bytes}")
        return Fetched(path.read_bytes(), tag, None)
    except FileNotFoundError:
        raise FetchError(f"{url}: no such file") from None
    except PermissionError:
        raise FetchError(f"{url}: permission denied") from None
    except OSError as exc:
        raise FetchError(f"{url}: {exc.strerror or exc}") from None
