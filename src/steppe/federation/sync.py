"""Node-to-node sync over TAXII 2.1: pull from a peer, push to it, by its agreement.

    >>> report = run_sync(engine, trail, find_peer(conn, "astana-node"))  # doctest: +SKIP

**Pull** reads the peer's collection (``federation`` by default) as our account there —
the peer's own policy and its agreement with us decide what it serves. What arrives is
checked against *our* agreement too (TLP, types) and stored as the peer organisation's,
one distribution step narrower (``federation`` → ``community``): it stays here.

**Push** sends what our policy lets the peer organisation see in our ``federation``
collection — ``federation`` objects at TLP:CLEAR/GREEN, no more — narrowed by the
agreement (TLP levels, types; sightings anonymised or dropped), in envelopes of 500.
Objects that came from a peer are ``community`` here, so they never go back out.

Both directions are incremental and resumable: the position (the peer's signed ``next``
cursor while a pull is under way, then the last ``date_added``; for push the
``(date_added, pk)`` of the last object the peer acknowledged) is written in the same
transaction as each page's import, or right after each acknowledged envelope. A run
killed at any point starts again where that left off; a page seen twice changes
nothing, since imports of a known ``id`` + ``modified`` are no-ops.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, update

from steppe.audit.trail import AuditTrail
from steppe.federation.agreements import Peer
from steppe.federation.client import TaxiiClient
from steppe.federation.collections import Audience, collections_for
from steppe.federation.reading import ObjectFilter, read_page, serialise_objects
from steppe.federation.writing import import_each, incoming_tlp
from steppe.ingest.feeds.hosts import HostPolicy
from steppe.intel.importer import Marking
from steppe.intel.stix import bundle_tlp_definitions
from steppe.sharing import directory
from steppe.sharing.model import Actor, Distribution, OrgKind, Role, TlpLevel
from steppe.storage import timestamps
from steppe.storage.engine import writing
from steppe.storage.schema import intel_objects, sync_cursors

__all__ = ["ENVELOPE_SIZE", "SyncReport", "pull", "push", "run_sync"]

#: Objects per pushed envelope.
ENVELOPE_SIZE = 500
PAGE_SIZE = 1000

ClientFactory = Callable[[Peer], TaxiiClient]


@dataclass
class SyncReport:
    peer: str
    pulled: int = 0  # objects received
    stored: int = 0  # of which new here (new objects or versions)
    refused: int = 0  # received but outside our agreement, or invalid
    pushed: int = 0  # objects sent
    push_failures: int = 0  # sent, and refused by the peer
    messages: list[str] = dataclasses.field(default_factory=list)


def run_sync(
    engine: Engine,
    trail: AuditTrail,
    peer: Peer,
    *,
    hosts: HostPolicy | None = None,
    client_factory: ClientFactory | None = None,
    page_size: int = PAGE_SIZE,
    envelope_size: int = ENVELOPE_SIZE,
) -> SyncReport:
    """Pull, then push, as the peer's ``direction`` says; requests go only where
    ``hosts`` allows (default: public addresses)."""
    if client_factory is None:

        def client_factory(peer: Peer) -> TaxiiClient:
            user = peer.username or None
            return TaxiiClient(peer.api_root, token=peer.token, user=user, hosts=hosts)

    report = SyncReport(peer.name)
    with client_factory(peer) as client:
        collection = client.collection_id(peer.collection)
        if peer.direction in ("pull", "both"):
            pull(engine, trail, peer, client, collection, report, page_size=page_size)
        if peer.direction in ("push", "both"):
            push(engine, peer, client, collection, report, envelope_size=envelope_size)
    return report


def pull(
    engine: Engine,
    trail: AuditTrail,
    peer: Peer,
    client: TaxiiClient,
    collection: str,
    report: SyncReport,
    *,
    page_size: int = PAGE_SIZE,
) -> None:
    """Read the peer's collection from where the last pull stopped; store what is agreed."""
    with engine.connect() as conn:
        cursor = _cursor(conn, peer.id, "pull")
        org = directory.get_organisation(conn, peer.org_id)
    # The importer refuses peer owners so that only sync stores as one: this is sync.
    owner = dataclasses.replace(org, kind=OrgKind.MEMBER)
    marking = Marking(peer.agreement.narrow(Distribution.FEDERATION), TlpLevel.GREEN)
    added_after = cursor.get("added_after")
    pages = client.pages(
        collection, added_after=added_after, next_token=cursor.get("next_token"), limit=page_size
    )
    for page in pages:
        objects = page.objects
        local = bundle_tlp_definitions(objects)
        allowed = [
            i
            for i, obj in enumerate(objects)
            if isinstance(obj, dict)
            and peer.agreement.allows_tlp(incoming_tlp(obj, local, TlpLevel.GREEN))
            and peer.agreement.allows_type(str(obj.get("type")))
        ]
        with writing(engine) as conn:
            before = _count_owned(conn, org.id)
            failures = import_each(
                conn,
                trail,
                orjson.dumps(objects),
                objects,
                allowed,
                owner,
                marking,
                f"sync from {peer.name}",
            )
            report.stored += _count_owned(conn, org.id) - before
            if page.more:
                _save(conn, peer.id, "pull", next_token=page.next, added_after=added_after)
            else:
                added_after = page.date_added_last or added_after
                _save(conn, peer.id, "pull", next_token=None, added_after=added_after)
        report.pulled += len(objects)
        report.refused += len(objects) - len(allowed) + len(failures)
        report.messages.extend(sorted(set(failures.values()))[:5])


def push(
    engine: Engine,
    peer: Peer,
    client: TaxiiClient,
    collection: str,
    report: SyncReport,
    *,
    envelope_size: int = ENVELOPE_SIZE,
) -> None:
    """Send what the peer may have, from where the last acknowledged envelope stopped."""
    # Our policy decides as it would for the peer organisation itself: a peer account.
    actor = Actor(0, f"peer:{peer.name}", peer.org_id, OrgKind.PEER, frozenset({Role.READER}))
    with engine.connect() as conn:
        cursor = _cursor(conn, peer.id, "push")
        federation = next(
            c for c in collections_for(conn, actor) if c.audience is Audience.FEDERATION
        )
    after: tuple[str, int] | None = None
    if cursor.get("after_ts") is not None:
        after = (cursor["after_ts"], cursor["after_pk"])
    while True:
        with engine.connect() as conn:
            page = read_page(
                conn,
                actor,
                federation,
                ObjectFilter(),
                limit=envelope_size,
                after=after,
                agreement=peer.agreement,
            )
        if not page.rows:
            return
        envelope = '{"objects":[' + serialise_objects(page.rows, peer.agreement) + "]}"
        status = client.add_objects(collection, envelope.encode())
        report.pushed += len(page.rows)
        report.push_failures += int(status.get("failure_count", 0))
        report.messages.extend(f.get("message", "") for f in status.get("failures", [])[:5])
        last = page.rows[-1]
        after = (last.date_added, last.pk)
        with writing(engine) as conn:
            _save(conn, peer.id, "push", after_ts=after[0], after_pk=after[1])
        if not page.more:
            return


def _count_owned(conn: Connection, org_id: int) -> int:
    count: int = conn.execute(
        select(func.count()).where(intel_objects.c.owner_org_id == org_id)
    ).scalar_one()
    return count


def _cursor(conn: Connection, peer_id: int, direction: str) -> dict[str, Any]:
    row = conn.execute(
        select(sync_cursors).where(
            sync_cursors.c.peer_id == peer_id, sync_cursors.c.direction == direction
        )
    ).first()
    return {} if row is None else dict(row._mapping)


def _save(conn: Connection, peer_id: int, direction: str, **values: Any) -> None:
    values["updated_at"] = timestamps.now()
    where = (sync_cursors.c.peer_id == peer_id) & (sync_cursors.c.direction == direction)
    if conn.execute(update(sync_cursors).where(where).values(**values)).rowcount == 0:
        conn.execute(insert(sync_cursors).values(peer_id=peer_id, direction=direction, **values))
