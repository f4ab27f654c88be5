"""A small TAXII 2.1 client: read a collection page by page, post envelopes.

    >>> client = TaxiiClient("https://peer.example/taxii2/steppe/", token="stp_…")  # doctest: +SKIP
    >>> cid = client.collection_id("federation")  # doctest: +SKIP
    >>> for page in client.pages(cid, added_after="2026-01-01T00:00:00Z"):  # doctest: +SKIP
    ...     print(len(page.objects), page.next)

Credentials: HTTP Basic when a user name is given (user + API token, as Steppe servers
take it), else ``Authorization: Bearer``. Every request goes through the feed host
policy (:class:`~steppe.ingest.feeds.hosts.HostPolicy`, ``STEPPE_FEED_ALLOWED_HOSTS``):
by default a peer on a loopback, private or link-local address is refused. Errors — the server's TAXII error resources,
timeouts, refused connections — become :class:`TaxiiClientError` with one line saying
which request failed and why.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from steppe.errors import SteppeError
from steppe.ingest.feeds.hosts import GuardedTransport, HostPolicy

__all__ = ["TAXII_MEDIA_TYPE", "TaxiiClient", "TaxiiClientError", "TaxiiPage"]

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"


class TaxiiClientError(SteppeError):
    """A TAXII server did not answer as asked (or not at all)."""

    status = 502


@dataclass(frozen=True, slots=True)
class TaxiiPage:
    objects: list[dict[str, Any]]
    more: bool
    next: str | None
    date_added_last: str | None


class TaxiiClient:
    """One TAXII 2.1 API root (a discovery URL is followed to its default root)."""

    def __init__(
        self,
        url: str,
        *,
        token: str,
        user: str | None = None,
        timeout: float = 60.0,
        hosts: HostPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        auth: httpx.Auth | None = httpx.BasicAuth(user, token) if user else None
        headers = {"Accept": TAXII_MEDIA_TYPE}
        if user is None:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            headers=headers,
            auth=auth,
            timeout=timeout,
            # An explicit transport (a test's in-process app) is trusted as given.
            transport=transport or GuardedTransport(hosts or HostPolicy()),
            trust_env=transport is not None,
        )
        try:
            self.api_root = self._resolve_root(url if url.endswith("/") else url + "/")
        except BaseException:
            self._http.close()  # the caller never gets the client to close
            raise

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TaxiiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, url: str, params: Sequence[tuple[str, str]] = ()) -> httpx.Response:
        return self._check(url, lambda: self._http.get(url, params=list(params)))

    def _check(self, url: str, call: Any) -> httpx.Response:
        try:
            response: httpx.Response = call()
        except httpx.HTTPError as exc:
            raise TaxiiClientError(f"{url}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            detail = response.text[:300]
            try:
                doc = orjson.loads(response.content)
                detail = str(doc.get("description") or doc.get("title") or detail)
            except (orjson.JSONDecodeError, AttributeError):
                pass
            raise TaxiiClientError(f"{url}: HTTP {response.status_code}: {detail}")
        return response

    def _resolve_root(self, url: str) -> str:
        doc = orjson.loads(self._get(url).content)
        if isinstance(doc, dict) and "api_roots" in doc:
            root = doc.get("default") or (doc.get("api_roots") or [None])[0]
            if not root:
                raise TaxiiClientError(f"{url}: the server lists no API root")
            resolved = str(httpx.URL(url).join(root))
            return resolved if resolved.endswith("/") else resolved + "/"
        return url

    def collections(self) -> list[dict[str, Any]]:
        doc = orjson.loads(self._get(self.api_root + "collections/").content)
        found: list[dict[str, Any]] = doc.get("collections", [])
        return found

    def collection_id(self, key: str) -> str:
        """The id of the collection with id or alias (or title) ``key``."""
        for collection in self.collections():
            if key in (collection.get("id"), collection.get("alias"), collection.get("title")):
                return str(collection["id"])
        raise TaxiiClientError(f"{self.api_root}: no collection {key!r} for these credentials")

    def pages(
        self,
        collection: str,
        *,
        added_after: str | None = None,
        next_token: str | None = None,
        limit: int = 1000,
        types: Sequence[str] = (),
    ) -> Iterator[TaxiiPage]:
        """Pages of the collection's objects, from ``next_token`` or ``added_after``."""
        url = f"{self.api_root}collections/{collection}/objects/"
        base: list[tuple[str, str]] = [("limit", str(limit))]
        if types:
            base.append(("match[type]", ",".join(types)))
        token = next_token
        while True:
            params = list(base)
            if token:
                params.append(("next", token))
            elif added_after:  # a cursor carries its filter; only a first request sends it
                params.append(("added_after", added_after))
            response = self._get(url, params)
            doc = orjson.loads(response.content)
            page = TaxiiPage(
                doc.get("objects", []),
                bool(doc.get("more")),
                doc.get("next"),
                response.headers.get("X-TAXII-Date-Added-Last"),
            )
            yield page
            if not page.more or not page.next:
                return
            token = page.next

    def add_objects(
        self, collection: str, envelope: bytes, *, wait: float = 300.0
    ) -> dict[str, Any]:
        """POST an envelope (its JSON bytes); its status resource once complete.

        A server may answer ``pending`` and import later (TAXII 2.1 section 5.5): the
        status is then polled until nothing is pending, for up to ``wait`` seconds
        (TaxiiClientError past it). ``wait=0`` returns the first answer as it is.
        """
        url = f"{self.api_root}collections/{collection}/objects/"
        response = self._check(
            url,
            lambda: self._http.post(
                url, content=envelope, headers={"Content-Type": TAXII_MEDIA_TYPE}
            ),
        )
        status: dict[str, Any] = orjson.loads(response.content)
        deadline = time.monotonic() + wait
        pause = 0.02
        while wait and status.get("status") == "pending":
            if time.monotonic() > deadline:
                raise TaxiiClientError(
                    f"{url}: status {status.get('id')} still pending after {wait:g} s"
                )
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
            status_url = f"{self.api_root}status/{status.get('id')}/"
            status = orjson.loads(self._get(status_url).content)
        return status
