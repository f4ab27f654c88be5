"""Per-peer sync agreements: what may leave this node for a peer, and how it arrives.

A peer is another Steppe node (or any TAXII 2.1 server). Here it is an organisation of
kind ``peer`` — the policy already lets peers see only ``federation`` objects at
TLP:CLEAR or TLP:GREEN — plus an agreement that can only narrow that further:

- ``tlp``: the levels that may leave (default CLEAR and GREEN; never more);
- ``types``: the STIX types that may leave (default: all);
- ``sightings``: ``anonymise`` (default: who saw it and what was observed are removed),
  ``drop``, or ``keep``.

What a peer sends is stored as the peer organisation's, one distribution step narrower
than it had over there (``federation`` → ``community``), so it never travels on to a
third node from here.

    >>> DEFAULT_AGREEMENT.narrow(Distribution.FEDERATION)
    <Distribution.COMMUNITY: 'community'>
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, and_, insert, select, true

from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, InputError, NotFound
from steppe.ingest.feeds.hosts import HostPolicy
from steppe.sharing.directory import Organisation
from steppe.sharing.model import FEDERATABLE_TLP, Distribution, OrgKind, TlpLevel
from steppe.storage import timestamps
from steppe.storage.schema import sync_peers

__all__ = [
    "DEFAULT_AGREEMENT",
    "Agreement",
    "Peer",
    "SightingMode",
    "add_peer",
    "agreement_for_org",
    "find_peer",
    "list_peers",
    "parse_agreement",
]

SightingMode = str  # keep | anonymise | drop
SIGHTING_MODES = ("keep", "anonymise", "drop")
DIRECTIONS = ("pull", "push", "both")

#: One step narrower per hop. Only ``federation`` leaves a node, so in practice an
#: object arrives as ``community`` and stops there.
_NARROWER = {
    Distribution.FEDERATION: Distribution.COMMUNITY,
    Distribution.COMMUNITY: Distribution.ORGANISATION,
    Distribution.GROUPS: Distribution.ORGANISATION,
    Distribution.ORGANISATION: Distribution.ORGANISATION,
}

#: Properties of a sighting that say who saw what; ``anonymise`` removes them.
_IDENTIFYING = ("where_sighted_refs", "observed_data_refs", "created_by_ref")


@dataclass(frozen=True, slots=True)
class Agreement:
    tlp: frozenset[TlpLevel] = FEDERATABLE_TLP
    types: frozenset[str] = frozenset()  # empty: every type
    sightings: SightingMode = "anonymise"

    def narrow(self, distribution: Distribution) -> Distribution:
        return _NARROWER[distribution]

    def allows_tlp(self, tlp: TlpLevel) -> bool:
        return tlp in self.tlp and tlp in FEDERATABLE_TLP

    def allows_type(self, stix_type: str) -> bool:
        if stix_type == "sighting" and self.sightings == "drop":
            return False
        return not self.types or stix_type in self.types

    def sql_filter(self, objects: FromClause) -> ColumnElement[bool]:
        """The agreement as a predicate over ``intel_objects`` (on top of the policy)."""
        c = objects.c
        levels = [t.value for t in self.tlp if t in FEDERATABLE_TLP]
        conditions: list[ColumnElement[bool]] = [c.tlp.in_(levels)]
        if self.types:
            conditions.append(c.type.in_(sorted(self.types)))
        if self.sightings == "drop":
            conditions.append(c.type != "sighting")
        return and_(true(), *conditions)

    def outgoing(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as it may leave (sightings anonymised when agreed)."""
        if obj.get("type") == "sighting" and self.sightings == "anonymise":
            return {k: v for k, v in obj.items() if k not in _IDENTIFYING}
        return obj

    def rewrites(self, stix_type: str) -> bool:
        return stix_type == "sighting" and self.sightings == "anonymise"


DEFAULT_AGREEMENT = Agreement()


@dataclass(frozen=True, slots=True)
class Peer:
    id: int
    name: str
    org_id: int
    api_root: str
    collection: str
    username: str
    token: str
    direction: str
    agreement: Agreement


def parse_agreement(
    tlp: str = "clear,green", types: str = "", sightings: str = "anonymise"
) -> Agreement:
    """An agreement from its text form, refusing anything wider than the policy allows."""
    levels: set[TlpLevel] = set()
    for part in tlp.split(","):
        if not part.strip():
            continue
        try:
            level = TlpLevel.parse(part)
        except ValueError:
            raise InputError(f"unknown TLP {part.strip()!r}", field="tlp") from None
        if level not in FEDERATABLE_TLP:
            raise InputError(
                f"TLP:{level.value.upper()} may not cross to peers; use clear and/or green",
                field="tlp",
            )
        levels.add(level)
    if not levels:
        raise InputError("give at least one TLP level (clear, green)", field="tlp")
    if sightings not in SIGHTING_MODES:
        raise InputError(f"sightings must be one of {', '.join(SIGHTING_MODES)}", field="sightings")
    kinds = frozenset(t.strip() for t in types.split(",") if t.strip())
    return Agreement(frozenset(levels), kinds, sightings)


def add_peer(
    conn: Connection,
    trail: AuditTrail,
    name: str,
    org: Organisation,
    *,
    api_root: str,
    collection: str,
    username: str,
    token: str,
    direction: str = "both",
    agreement: Agreement = DEFAULT_AGREEMENT,
    hosts: HostPolicy | None = None,
) -> Peer:
    """Record a peer node and the agreement with it; ``hosts`` must let its API root be
    reached (default: public addresses only)."""
    if org.kind is not OrgKind.PEER:
        raise InputError(
            f"{org.name!r} is a {org.kind.value}; a peer needs a 'peer' organisation", field="org"
        )
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be one of {', '.join(DIRECTIONS)}", field="direction")
    if not api_root.startswith(("http://", "https://")):
        raise InputError("must be an http(s) URL of a TAXII API root", field="api_root")
    (hosts or HostPolicy()).check_url(api_root, unresolved_ok=True)
    if conn.execute(select(sync_peers.c.id).where(sync_peers.c.name == name)).first():
        raise Conflict(f"a peer named {name!r} exists")
    if conn.execute(select(sync_peers.c.id).where(sync_peers.c.org_id == org.id)).first():
        raise Conflict(f"organisation {org.name!r} already stands for another peer")
    root = api_root if api_root.endswith("/") else api_root + "/"
    conn.execute(
        insert(sync_peers).values(
            name=name,
            org_id=org.id,
            api_root=root,
            collection=collection,
            username=username,
            token=token,
            direction=direction,
            tlp=",".join(sorted(t.value for t in agreement.tlp)),
            types=",".join(sorted(agreement.types)),
            sightings=agreement.sightings,
            created_at=timestamps.now(),
        )
    )
    trail.record(
        conn,
        "sync.peer.add",
        f"peer {name}",
        {
            "organisation": org.name,
            "api_root": root,
            "collection": collection,
            "direction": direction,
            "tlp": sorted(t.value for t in agreement.tlp),
            "types": sorted(agreement.types),
            "sightings": agreement.sightings,
        },
    )
    return find_peer(conn, name)


def find_peer(conn: Connection, name: str) -> Peer:
    row = conn.execute(select(sync_peers).where(sync_peers.c.name == name)).first()
    if row is None:
        raise NotFound(f"no peer named {name!r}")
    return _peer(row)


def list_peers(conn: Connection) -> list[Peer]:
    return [_peer(r) for r in conn.execute(select(sync_peers).order_by(sync_peers.c.name))]


def agreement_for_org(conn: Connection, org_id: int) -> Agreement:
    """The agreement with the peer organisation ``org_id`` (the default if none is set)."""
    row = conn.execute(select(sync_peers).where(sync_peers.c.org_id == org_id)).first()
    return DEFAULT_AGREEMENT if row is None else _peer(row).agreement


def _peer(row: Any) -> Peer:
    agreement = Agreement(
        frozenset(TlpLevel(t) for t in row.tlp.split(",") if t),
        frozenset(t for t in row.types.split(",") if t),
        row.sightings,
    )
    return Peer(
        row.id,
        row.name,
        row.org_id,
        row.api_root,
        row.collection,
        row.username,
        row.token,
        row.direction,
        agreement,
    )
