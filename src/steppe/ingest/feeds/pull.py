"""Pulling feeds: fetch, read, store, record — one feed's failure never stops the others.

    >>> result = pull_feed(engine, trail, "ipsum")  # doctest: +SKIP
    >>> result.status, result.stats.new  # doctest: +SKIP
    ('ok', 120000)

The fetch and the parsing happen outside any transaction (a slow server never holds the
database's write lock); the rows, the feed's state and the audit entry land in one. A
failure — connection refused, HTTP 404/500, content that is not the feed's format, a
database error — is recorded as the feed's ``last_error`` and returned, never raised.
A bad row is not a failure: it is counted and reported with its file and line, and the
rest of the feed lands.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, select

from steppe.audit.trail import AuditTrail
from steppe.errors import InputError, SteppeError
from steppe.heap import gc_paused
from steppe.ingest.feeds.fetch import FetchLimits, http_client
from steppe.ingest.feeds.hosts import HostPolicy
from steppe.ingest.feeds.sources import FeedSource, check_reader, read_feed
from steppe.intel.config import IntelConfig
from steppe.intel.feed_ingest import IngestStats, ingest_entries, version_stamp
from steppe.intel.feeds import (
    LIST_FORMATS,
    Feed,
    FeedSpec,
    add_feed,
    due_feeds,
    find_feed,
    record_pull,
)
from steppe.intel.importer import Marking, import_objects
from steppe.sharing import directory
from steppe.storage import timestamps
from steppe.storage.engine import writing
from steppe.storage.schema import feeds

__all__ = ["PullResult", "pull_due", "pull_feed", "register_feed"]

log = logging.getLogger(__name__)

#: Bad rows quoted in a feed's ``last_error`` (all are counted).
_QUOTED_PROBLEMS = 5

Progress = Callable[[str], None]


@dataclass(slots=True)
class PullResult:
    feed: str
    status: str  # ok · not-modified · error
    stats: IngestStats | None = None
    error: str | None = None
    problems: list[str] = field(default_factory=list)  # "file:line: message", the first 100

    def as_dict(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "status": self.status,
            "stats": None if self.stats is None else self.stats.as_dict(),
            "error": self.error,
            "problems": self.problems,
        }


def pull_feed(
    engine: Engine,
    trail: AuditTrail,
    name: str,
    *,
    limits: FetchLimits | None = None,
    client: httpx.Client | None = None,
    progress: Progress | None = None,
    config: IntelConfig | None = None,
) -> PullResult:
    """Pull one feed now (whatever its schedule). Errors are recorded, not raised —
    except an unknown feed name (NotFound)."""
    limits = limits or FetchLimits()
    with engine.connect() as conn:
        feed = find_feed(conn, name)
    started = time.perf_counter()
    at = timestamps.now()
    try:
        if progress:
            progress("fetching")
        source = read_feed(feed, limits=limits, client=client)
    except (SteppeError, OSError, ValueError) as exc:
        return _failed(engine, trail, feed, at, exc)
    except Exception as exc:  # a reader's bug must not stop the scheduler
        log.exception("feed %s: unexpected error while reading", feed.name)
        return _failed(engine, trail, feed, at, exc)
    if source.not_modified:
        with writing(engine) as conn:
            record_pull(
                conn,
                find_feed(conn, name),
                at=at,
                status="not-modified",
                etag=source.etag,
                last_modified=source.last_modified,
                state=source.state,
            )
            trail.record(conn, "feed.pull", f"feed {feed.name}", {"status": "not-modified"})
        return PullResult(feed.name, "not-modified")
    if progress:
        progress("storing")
    try:
        # The pull's rows and versions all stay alive until the commit: the collector's
        # walks over them were ~0.5 s of CPU of ipsum's pull (steppe.heap).
        with gc_paused(), writing(engine, checkpoint_after=True) as conn:
            _lock(conn, feed)  # one pull of a feed stores at a time (SQLite: BEGIN IMMEDIATE)
            current = find_feed(conn, name)  # fresh state: another pull may have run
            stamp = version_stamp(current)
            if feed.format in LIST_FORMATS:
                stats = ingest_entries(conn, current, source.entries, stamp=stamp, config=config)
            else:
                stats = _import_stix(conn, trail, current, source, config)
            problems = [str(p) for p in source.problems]
            stats.bad_rows = len(problems)
            stats.seconds = round(time.perf_counter() - started, 3)
            error = _summary(problems) if problems else None
            record_pull(
                conn,
                current,
                at=at,
                status="ok",
                error=error,
                stats=stats.as_dict(),
                etag=source.etag,
                last_modified=source.last_modified,
                version_at=stamp,
                state=source.state,
            )
            trail.record(
                conn,
                "feed.pull",
                f"feed {feed.name}",
                {"status": "ok", **stats.as_dict(), "problems": problems[:_QUOTED_PROBLEMS]},
            )
    except (SteppeError, OSError, ValueError) as exc:
        return _failed(engine, trail, feed, at, exc)
    except Exception as exc:  # a database error: nothing of the pull stays; say so
        log.exception("feed %s: unexpected error while storing", feed.name)
        return _failed(engine, trail, feed, at, exc)
    return PullResult(feed.name, "ok", stats, error, problems[:100])


def register_feed(
    conn: Connection, trail: AuditTrail, spec: FeedSpec, *, hosts: HostPolicy | None = None
) -> Feed:
    """Check that the feed's reader settings work and that ``hosts`` lets its URL be
    fetched (default: public addresses only), then add it (audited ``feed.add``)."""
    check_reader(spec)
    if not spec.url.startswith(("http://", "https://", "file://")):
        raise InputError("must be an http://, https:// or file:// URL", field="url")
    (hosts or HostPolicy()).check_url(spec.url, unresolved_ok=True)
    return add_feed(conn, trail, spec)


def pull_due(
    engine: Engine,
    trail: AuditTrail,
    *,
    limits: FetchLimits | None = None,
    now: str | None = None,
    config: IntelConfig | None = None,
) -> list[PullResult]:
    """Pull every enabled feed whose interval has passed since its last pull."""
    limits = limits or FetchLimits()
    with engine.connect() as conn:
        due = due_feeds(conn, now)
    with http_client(limits) as client:
        return [
            pull_feed(engine, trail, f.name, limits=limits, client=client, config=config)
            for f in due
        ]


def _import_stix(
    conn: Connection,
    trail: AuditTrail,
    feed: Feed,
    source: FeedSource,
    config: IntelConfig | None,
) -> IngestStats:
    """Formats read into STIX objects go through the checked import path."""
    owner = directory.get_organisation(conn, feed.owner_org_id)
    groups = tuple(directory.find_group(conn, g) for g in feed.groups)
    stats = IngestStats()
    feed_marking = Marking(feed.distribution, feed.tlp, groups)
    for name, data, objects, event in source.bundles:
        report = import_objects(
            conn,
            trail,
            data,
            objects,
            owner=owner,
            marking=feed_marking if event is None else event.within(feed_marking),
            source=name,
            config=config,
        )
        stats.warninglisted += report.warninglisted
        stats.correlated += report.correlated
        stats.entries += report.objects
        stats.new += report.created
        stats.updated += report.new_versions
        stats.unchanged += report.unchanged
    return stats


def _lock(conn: Connection, feed: Feed) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(select(feeds.c.id).where(feeds.c.id == feed.id).with_for_update())


def _summary(problems: list[str]) -> str:
    quoted = "; ".join(problems[:_QUOTED_PROBLEMS])
    more = len(problems) - _QUOTED_PROBLEMS
    return f"{len(problems)} bad rows: {quoted}" + (f"; … {more} more" if more > 0 else "")


def _failed(
    engine: Engine, trail: AuditTrail, feed: Feed, at: str, exc: BaseException
) -> PullResult:
    message = str(exc) if isinstance(exc, SteppeError) else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, InputError) and exc.source is None:
        message = f"{feed.url}: {message}"
    message = message.splitlines()[0] if message else type(exc).__name__
    try:
        with writing(engine) as conn:
            record_pull(conn, find_feed(conn, feed.name), at=at, status="error", error=message)
            trail.record(
                conn, "feed.pull", f"feed {feed.name}", {"status": "error", "error": message}
            )
    except Exception:  # the database itself is gone: log it, keep the caller running
        log.exception("feed %s: could not record the failed pull", feed.name)
    return PullResult(feed.name, "error", error=message)
