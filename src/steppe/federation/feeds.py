"""TAXII feeds: collections of other TAXII 2.1 servers pulled on a schedule.

    >>> feed = add_feed(conn, trail, "cert-eu", "https://taxii.example/taxii2/", "indicators",
    ...                 org, token="…", every_minutes=60)  # doctest: +SKIP
    >>> pull_feed(engine, trail, feed)  # doctest: +SKIP
    FeedReport(name='cert-eu', received=1200, refused=3, …)

What a feed pulls belongs to one organisation of this center with the feed's
distribution and default TLP (objects' own TLP markings are honoured). Each page is
imported in its own transaction together with the position reached — the server's
``next`` cursor mid-run, the last ``date_added`` once a run ends — so a run that stops
resumes there, and objects seen twice change nothing. ``steppe taxii feed run --due``
from cron (or any scheduler) pulls every feed whose interval has passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert, select, update

from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, InputError, NotFound
from steppe.federation.client import TaxiiClient
from steppe.federation.writing import import_each
from steppe.ingest.feeds.hosts import HostPolicy
from steppe.intel.importer import Marking
from steppe.sharing import directory
from steppe.sharing.directory import Organisation
from steppe.sharing.model import Distribution, OrgKind, TlpLevel
from steppe.sharing.policy import check_marking
from steppe.storage import timestamps
from steppe.storage.engine import writing
from steppe.storage.schema import taxii_feeds

__all__ = ["FeedReport", "TaxiiFeed", "add_feed", "find_feed", "is_due", "list_feeds", "pull_feed"]


@dataclass(frozen=True, slots=True)
class TaxiiFeed:
    id: int
    name: str
    url: str
    collection: str
    org_id: int
    distribution: Distribution
    tlp: TlpLevel
    username: str | None
    token: str
    every_minutes: int
    next_token: str | None
    added_after: str | None
    last_run: str | None


@dataclass
class FeedReport:
    name: str
    received: int = 0
    refused: int = 0
    pages: int = 0
    messages: list[str] = field(default_factory=list)


def add_feed(
    conn: Connection,
    trail: AuditTrail,
    name: str,
    url: str,
    collection: str,
    org: Organisation,
    *,
    token: str,
    username: str | None = None,
    distribution: Distribution = Distribution.ORGANISATION,
    tlp: TlpLevel = TlpLevel.AMBER,
    every_minutes: int = 60,
    hosts: HostPolicy | None = None,
) -> TaxiiFeed:
    """Record a feed; nothing is pulled until it runs. ``hosts`` must let its URL be
    reached (default: public addresses only)."""
    if org.kind is OrgKind.PEER:
        raise InputError("a peer center's intel arrives by `steppe sync`, not a feed", field="org")
    if distribution is Distribution.GROUPS:
        raise InputError("feeds use organisation, community or federation", field="distribution")
    check_marking(distribution, tlp)
    if every_minutes < 1:
        raise InputError("must be at least 1 minute", field="every")
    if not url.startswith(("http://", "https://")):
        raise InputError("must be an http(s) URL", field="url")
    (hosts or HostPolicy()).check_url(url, unresolved_ok=True)
    if conn.execute(select(taxii_feeds.c.id).where(taxii_feeds.c.name == name)).first():
        raise Conflict(f"a feed named {name!r} exists")
    conn.execute(
        insert(taxii_feeds).values(
            name=name,
            url=url,
            collection=collection,
            org_id=org.id,
            distribution=distribution.value,
            tlp=tlp.value,
            username=username,
            token=token,
            every_minutes=every_minutes,
            created_at=timestamps.now(),
        )
    )
    trail.record(
        conn,
        "taxii.feed.add",
        f"feed {name}",
        {
            "url": url,
            "collection": collection,
            "organisation": org.name,
            "distribution": distribution.value,
            "tlp": tlp.value,
            "every_minutes": every_minutes,
        },
    )
    return find_feed(conn, name)


def find_feed(conn: Connection, name: str) -> TaxiiFeed:
    row = conn.execute(select(taxii_feeds).where(taxii_feeds.c.name == name)).first()
    if row is None:
        raise NotFound(f"no feed named {name!r}")
    return _feed(row)


def list_feeds(conn: Connection) -> list[TaxiiFeed]:
    return [_feed(r) for r in conn.execute(select(taxii_feeds).order_by(taxii_feeds.c.name))]


def is_due(feed: TaxiiFeed, now: datetime) -> bool:
    """Whether ``every_minutes`` have passed since the feed last ran (or it never did)."""
    if feed.last_run is None:
        return True
    return timestamps.parse(feed.last_run) + timedelta(minutes=feed.every_minutes) <= now


def _feed(row: Any) -> TaxiiFeed:
    return TaxiiFeed(
        row.id,
        row.name,
        row.url,
        row.collection,
        row.org_id,
        Distribution(row.distribution),
        TlpLevel(row.tlp),
        row.username,
        row.token,
        row.every_minutes,
        row.next_token,
        row.added_after,
        row.last_run,
    )


def pull_feed(
    engine: Engine,
    trail: AuditTrail,
    feed: TaxiiFeed,
    *,
    hosts: HostPolicy | None = None,
    client_factory: Callable[[TaxiiFeed], TaxiiClient] | None = None,
    page_size: int = 1000,
) -> FeedReport:
    """Pull what the feed's collection added since the last run, page by page.

    Requests go only where ``hosts`` allows (default: public addresses)."""
    if client_factory is None:

        def client_factory(feed: TaxiiFeed) -> TaxiiClient:
            return TaxiiClient(feed.url, token=feed.token, user=feed.username, hosts=hosts)

    report = FeedReport(feed.name)
    marking = Marking(feed.distribution, feed.tlp)
    added_after = feed.added_after
    with client_factory(feed) as client:
        collection = client.collection_id(feed.collection)
        pages = client.pages(
            collection, added_after=added_after, next_token=feed.next_token, limit=page_size
        )
        for page in pages:
            objects = page.objects
            with writing(engine) as conn:
                owner = directory.get_organisation(conn, feed.org_id)
                failures = import_each(
                    conn,
                    trail,
                    orjson.dumps(objects),
                    objects,
                    list(range(len(objects))),
                    owner,
                    marking,
                    f"TAXII feed {feed.name}",
                )
                if page.more:
                    _save(conn, feed.id, next_token=page.next)
                else:
                    added_after = page.date_added_last or added_after
                    _save(conn, feed.id, next_token=None, added_after=added_after)
            report.pages += 1
            report.received += len(objects)
            report.refused += len(failures)
            report.messages.extend(sorted(set(failures.values()))[:5])
    with writing(engine) as conn:
        _save(conn, feed.id, last_run=timestamps.format_ts(datetime.now(UTC)))
    return report


def _save(conn: Connection, feed_id: int, **values: Any) -> None:
    conn.execute(update(taxii_feeds).where(taxii_feeds.c.id == feed_id).values(**values))
