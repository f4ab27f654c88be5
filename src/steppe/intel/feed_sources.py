"""A feed's content, read by its format: list entries, or STIX bundles to import.

List formats (csv, plain, text) give :class:`~steppe.intel.feed_ingest.FeedEntry`
values for the fast path; stix, misp-event and misp-feed give STIX objects for
:func:`~steppe.intel.importer.import_objects`. A MISP feed is a folder (``file://``)
or a URL holding ``manifest.json`` and one ``<uuid>.json`` per event; only events whose
manifest ``timestamp`` changed since the last pull are fetched again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from steppe.errors import InputError, InvalidObservable, InvalidStix
from steppe.intel.feed_fetch import Fetched, FetchError, FetchLimits, fetch, http_client, local_path
from steppe.intel.feed_ingest import FeedEntry
from steppe.intel.feed_lists import read_list
from steppe.intel.feeds import Feed, FeedFormat
from steppe.intel.observables import ObservableType, canonical_observable
from steppe.intel.stix import read_bundle

__all__ = ["FeedSource", "http_client", "read_feed"]

Bundle = tuple[str, bytes, list[Any]]  # source name, raw bytes, STIX objects


@dataclass(slots=True)
class FeedSource:
    not_modified: bool = False
    entries: list[FeedEntry] = field(default_factory=list)
    problems: list[InputError] = field(default_factory=list)
    bundles: list[Bundle] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    state: dict[str, Any] | None = None


def read_feed(feed: Feed, *, limits: FetchLimits, client: httpx.Client | None = None) -> FeedSource:
    if feed.format is FeedFormat.MISP_FEED:
        return _misp_feed(feed, limits, client)
    got = fetch(
        feed.url,
        etag=feed.etag,
        last_modified=feed.last_modified,
        limits=limits,
        client=client,
    )
    out = FeedSource(got.not_modified, etag=got.etag, last_modified=got.last_modified)
    if got.data is None:
        return out
    source = _source_name(feed.url)
    if feed.format in (FeedFormat.CSV, FeedFormat.PLAIN):
        out.entries, out.problems = read_list(
            got.data, source, preset=feed.preset, mapping=feed.mapping
        )
    elif feed.format is FeedFormat.TEXT:
        out.entries = extract_text(got.data)
    elif feed.format is FeedFormat.STIX:
        out.bundles = [(source, got.data, read_bundle(got.data, source))]
    elif feed.format is FeedFormat.MISP_EVENT:
        out.bundles = [(source, got.data, misp_event_to_stix(got.data, source))]
    return out


def _source_name(url: str) -> str:
    """How bad rows name the file: the local path, or the URL."""
    return str(local_path(url)) if url.startswith("file:") else url


# --------------------------------------------------------------------------- MISP


def misp_event_to_stix(data: bytes, source: str) -> list[Any]:
    """STIX 2.1 objects of one MISP event JSON (``{"Event": …}``), by misp-stix."""
    from steppe.intel.feed_misp import misp_event_to_stix as convert

    return convert(data, source)


def _misp_feed(feed: Feed, limits: FetchLimits, client: httpx.Client | None) -> FeedSource:
    base = feed.url.rstrip("/")
    manifest_got = _get(f"{base}/manifest.json", feed.etag, feed.last_modified, limits, client)
    out = FeedSource(
        manifest_got.not_modified,
        etag=manifest_got.etag,
        last_modified=manifest_got.last_modified,
    )
    if manifest_got.data is None:
        return out
    try:
        manifest = orjson.loads(manifest_got.data)
    except orjson.JSONDecodeError as exc:
        raise InvalidStix(
            f"manifest.json is not JSON: {exc.msg}", source=f"{base}/manifest.json", line=exc.lineno
        ) from None
    if not isinstance(manifest, dict):
        raise InvalidStix(
            "manifest.json must be an object of events", source=f"{base}/manifest.json"
        )
    known: dict[str, Any] = dict(feed.state.get("events", {}))
    seen: dict[str, Any] = {}
    for event_uuid, meta in manifest.items():
        if not re.fullmatch(r"[0-9a-fA-F-]{36}", str(event_uuid)):
            out.problems.append(
                InputError(f"{event_uuid!r} is not an event uuid", source=f"{base}/manifest.json")
            )
            continue
        stamp = meta.get("timestamp") if isinstance(meta, dict) else None
        seen[event_uuid] = stamp
        if stamp is not None and known.get(event_uuid) == stamp:
            continue  # unchanged since the last pull: not fetched again
        url = f"{base}/{event_uuid}.json"
        name = _source_name(url)
        try:
            got = _get(url, None, None, limits, client)
            assert got.data is not None
            out.bundles.append((name, got.data, misp_event_to_stix(got.data, name)))
        except (InputError, FetchError) as exc:
            out.problems.append(exc if isinstance(exc, InputError) else InputError(str(exc)))
            seen.pop(event_uuid)  # try it again next time
    out.state = {"events": seen}
    return out


def _get(
    url: str,
    etag: str | None,
    last_modified: str | None,
    limits: FetchLimits,
    client: httpx.Client | None,
) -> Fetched:
    return fetch(url, etag=etag, last_modified=last_modified, limits=limits, client=client)


# --------------------------------------------------------------------------- free text

_DEFANG = (("[.]", "."), ("(.)", "."), ("{.}", "."), ("[:]", ":"), ("hxxp", "http"))
_TOKEN = re.compile(r"[^\s<>\"'(),;]+")


def extract_text(data: bytes) -> list[FeedEntry]:
    """Values found in free text (refanged); words that are no observable are skipped."""
    text = data.decode("utf-8", errors="replace")
    for fanged, plain in _DEFANG:
        text = text.replace(fanged, plain).replace(fanged.upper(), plain)
    entries = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for token in _TOKEN.findall(line):
            token = token.rstrip(".:!?]")
            if len(token) < 4 or ("." not in token and len(token) < 32):
                continue
            try:
                kind, value = canonical_observable(token)
            except InvalidObservable:
                continue
            if kind in (ObservableType.CVE, ObservableType.FILENAME):
                continue
            entries.append(FeedEntry(kind, value, None, None, lineno))
    return entries
