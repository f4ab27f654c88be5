"""A feed's content, read by its format: list entries, or STIX bundles to import.

List formats (csv, plain, text) give :class:`~steppe.ingest.intel.FeedEntry` values for
the fast path (:func:`steppe.intel.feed_ingest.ingest_entries`); stix, misp-event and
misp-feed give STIX objects for :func:`~steppe.intel.importer.import_objects`. The
readers are :mod:`steppe.ingest.intel`'s. A MISP feed is a folder (``file://``) or a
URL holding ``manifest.json`` and one ``<uuid>.json`` per event; only events whose
manifest ``timestamp`` changed since the last pull are fetched again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from steppe.errors import InputError
from steppe.heap import gc_paused
from steppe.ingest.feeds.fetch import FetchError, FetchLimits, fetch, local_path
from steppe.ingest.intel import (
    PRESETS,
    FeedEntry,
    ListMapping,
    MispImport,
    RowProblem,
    extract_text,
    mapping_from,
    read_list,
    read_misp_event,
)
from steppe.intel.feeds import Feed, FeedFormat, FeedSpec
from steppe.intel.stix import read_bundle

__all__ = ["Bundle", "FeedSource", "check_reader", "list_mapping", "read_feed"]

#: Source name, raw bytes, STIX objects, and the MISP event they came from (its own
#: distribution and TLP may only narrow the feed's: MispImport.within).
Bundle = tuple[str, bytes, list[Any], MispImport | None]
_EVENT_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


@dataclass(slots=True)
class FeedSource:
    """What one pull read. ``state`` is stored with the feed for the next pull."""

    not_modified: bool = False
    entries: list[FeedEntry] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    bundles: list[Bundle] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    state: dict[str, Any] | None = None


def list_mapping(preset: str | None, mapping: dict[str, Any] | None) -> ListMapping:
    """The column mapping of a csv/plain feed: a preset, overridden by ``mapping``."""
    options = dict(mapping or {})
    if preset is not None:
        options["preset"] = preset
    try:
        return mapping_from(options) if options else PRESETS["plain"]
    except InputError:
        raise
    except ValueError as exc:  # pydantic's ValidationError
        first = str(exc).splitlines()
        raise InputError(f"not a column mapping: {' '.join(first[1:3])}", field="mapping") from None


def check_reader(spec: FeedSpec) -> None:
    """Refuse a feed whose reader settings cannot work, before it is registered."""
    if spec.format in (FeedFormat.CSV, FeedFormat.PLAIN):
        list_mapping(spec.preset, spec.mapping)
    elif spec.preset is not None or spec.mapping is not None:
        raise InputError(
            f"--preset and --mapping are for csv and plain feeds, not {spec.format.value}"
        )


def read_feed(feed: Feed, *, limits: FetchLimits, client: httpx.Client | None = None) -> FeedSource:
    if feed.format is FeedFormat.MISP_FEED:
        return _misp_feed(feed, limits, client)
    got = fetch(
        feed.url, etag=feed.etag, last_modified=feed.last_modified, limits=limits, client=client
    )
    out = FeedSource(got.not_modified, etag=got.etag, last_modified=got.last_modified)
    if got.data is None:
        return out
    source = _source_name(feed.url)
    if feed.format in (FeedFormat.CSV, FeedFormat.PLAIN):
        with gc_paused():  # every entry stays alive until the pull is stored (steppe.heap)
            for item in read_list(got.data, list_mapping(feed.preset, feed.mapping), source):
                if isinstance(item, RowProblem):
                    out.problems.append(item)
                else:
                    out.entries.append(item)
    elif feed.format is FeedFormat.TEXT:
        out.entries = extract_text(got.data.decode("utf-8", errors="replace"), source)
    elif feed.format is FeedFormat.STIX:
        out.bundles = [(source, got.data, read_bundle(got.data, source), None)]
    elif feed.format is FeedFormat.MISP_EVENT:
        event = read_misp_event(got.data, source, default_tlp=feed.tlp, widest=feed.distribution)
        out.bundles = [(source, event.data, event.objects, event)]
        out.problems.extend(event.problems)
    return out


def _source_name(url: str) -> str:
    """How bad rows name the file: the local path, or the URL."""
    return str(local_path(url)) if url.startswith("file:") else url


def _misp_feed(feed: Feed, limits: FetchLimits, client: httpx.Client | None) -> FeedSource:
    base = feed.url.rstrip("/")
    manifest_url = f"{base}/manifest.json"
    got = fetch(
        manifest_url, etag=feed.etag, last_modified=feed.last_modified, limits=limits, client=client
    )
    out = FeedSource(got.not_modified, etag=got.etag, last_modified=got.last_modified)
    if got.data is None:
        return out
    where = _source_name(manifest_url)
    try:
        manifest = orjson.loads(got.data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", source=where, line=exc.lineno) from None
    if not isinstance(manifest, dict):
        raise InputError("expected an object of event UUIDs", source=where)
    known: dict[str, Any] = dict(feed.state.get("events", {}))
    seen: dict[str, Any] = {}
    for event_uuid, meta in manifest.items():
        if not _EVENT_UUID.fullmatch(event_uuid):
            out.problems.append(RowProblem(where, None, event_uuid, "is not an event UUID"))
            continue
        stamp = meta.get("timestamp") if isinstance(meta, dict) else None
        if stamp is not None and known.get(event_uuid) == stamp:
            seen[event_uuid] = stamp
            continue  # unchanged since the last pull: not fetched again
        url = f"{base}/{event_uuid}.json"
        name = _source_name(url)
        try:
            event_got = fetch(url, limits=limits, client=client)
            assert event_got.data is not None  # no validators sent: never "not modified"
            event = read_misp_event(
                event_got.data, name, default_tlp=feed.tlp, widest=feed.distribution
            )
        except InputError as exc:
            out.problems.append(RowProblem(exc.source or name, exc.line, exc.field, exc.message))
            continue  # not remembered: tried again next time
        except FetchError as exc:
            out.problems.append(RowProblem(name, None, None, exc.message))
            continue
        out.bundles.append((name, event.data, event.objects, event))
        out.problems.extend(event.problems)
        seen[event_uuid] = stamp
    out.state = {"events": seen}
    return out
