"""TAXII collections: one per audience the caller belongs to, plus admin-defined ones.

Each caller sees:

- ``organisation`` — everything its organisation owns (writes: distribution
  ``organisation``);
- ``group-<name>`` — for each sharing group it is in, objects shared with that group
  (writes: distribution ``groups`` with that group);
- ``community`` — objects for every member of the center;
- ``federation`` — objects that may also cross to peer centers (writes: TLP CLEAR or
  GREEN only);
- each collection an admin defined with a filter (read-only).

A peer center's account sees its own ``organisation`` collection and ``federation``
(where it writes what it syncs to us). A collection is only ever a *view*: every read is
also filtered by the sharing policy (:func:`steppe.sharing.policy.visible_filter`), so a
collection never shows anything its reader may not see.

Collection ids are UUIDs derived from what they stand for, stable across restarts and
processes; the URL may use the id or the alias.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, FromClause, and_, exists, insert, select, true

from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, InputError, NotFound
from steppe.sharing.directory import SharingGroup, find_organisation
from steppe.sharing.model import READ_ROLES, Actor, Distribution, OrgKind, Role, TlpLevel
from steppe.storage import timestamps
from steppe.storage.schema import (
    group_members,
    object_groups,
    object_labels,
    sharing_groups,
    taxii_collections,
)

__all__ = [
    "STIX_MEDIA_TYPE",
    "WRITER_ROLES",
    "Audience",
    "CollectionFilter",
    "TaxiiCollection",
    "collections_for",
    "define_collection",
    "find_collection",
    "list_defined",
]

STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
WRITER_ROLES = frozenset({Role.ANALYST, Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN})
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://steppe.dev/taxii/collections")


class Audience(StrEnum):
    ORGANISATION = "organisation"
    GROUP = "group"
    COMMUNITY = "community"
    FEDERATION = "federation"
    DEFINED = "defined"  # by an admin, with a filter


@dataclass(frozen=True, slots=True)
class CollectionFilter:
    """What an admin-defined collection holds (all given conditions must hold)."""

    types: tuple[str, ...] = ()
    tlp: tuple[TlpLevel, ...] = ()
    distributions: tuple[Distribution, ...] = ()
    labels: tuple[str, ...] = ()  # any of them
    owner_org_id: int | None = None

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "types": list(self.types),
                "tlp": [t.value for t in self.tlp],
                "distributions": [d.value for d in self.distributions],
                "labels": list(self.labels),
                "owner_org_id": self.owner_org_id,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> CollectionFilter:
        doc = orjson.loads(text)
        return cls(
            tuple(doc.get("types") or ()),
            tuple(TlpLevel(t) for t in doc.get("tlp") or ()),
            tuple(Distribution(d) for d in doc.get("distributions") or ()),
            tuple(doc.get("labels") or ()),
            doc.get("owner_org_id"),
        )

    def predicate(self, objects: FromClause) -> ColumnElement[bool]:
        c = objects.c
        conditions: list[ColumnElement[bool]] = []
        if self.types:
            conditions.append(c.type.in_(self.types))
        if self.tlp:
            conditions.append(c.tlp.in_([t.value for t in self.tlp]))
        if self.distributions:
            conditions.append(c.distribution.in_([d.value for d in self.distributions]))
        if self.labels:
            conditions.append(
                exists(
                    select(1).where(
                        object_labels.c.object_pk == c.pk, object_labels.c.label.in_(self.labels)
                    )
                )
            )
        if self.owner_org_id is not None:
            conditions.append(c.owner_org_id == self.owner_org_id)
        return and_(true(), *conditions)


@dataclass(frozen=True, slots=True)
class TaxiiCollection:
    id: str
    alias: str
    title: str
    description: str
    audience: Audience
    can_read: bool
    can_write: bool
    org_id: int | None = None
    group: SharingGroup | None = None
    filter: CollectionFilter = field(default_factory=CollectionFilter)

    def resource(self) -> dict[str, Any]:
        """The TAXII collection resource."""
        doc: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "alias": self.alias,
            "can_read": self.can_read,
            "can_write": self.can_write,
            "media_types": [STIX_MEDIA_TYPE],
        }
        if self.description:
            doc["description"] = self.description
        return doc

    def predicate(self, objects: FromClause) -> ColumnElement[bool]:
        """Which objects belong to the collection (the policy is applied separately)."""
        c = objects.c
        if self.audience is Audience.ORGANISATION:
            return c.owner_org_id == self.org_id
        if self.audience is Audience.GROUP:
            assert self.group is not None
            return and_(
                c.distribution == Distribution.GROUPS.value,
                exists(
                    select(1).where(
                        object_groups.c.object_pk == c.pk,
                        object_groups.c.group_id == self.group.id,
                    )
                ),
            )
        if self.audience is Audience.COMMUNITY:
            return c.distribution == Distribution.COMMUNITY.value
        if self.audience is Audience.FEDERATION:
            return c.distribution == Distribution.FEDERATION.value
        return self.filter.predicate(objects)

    def write_distribution(self) -> tuple[Distribution, TlpLevel, tuple[SharingGroup, ...]]:
        """Distribution, default TLP and groups of objects written here."""
        if self.audience is Audience.ORGANISATION:
            return Distribution.ORGANISATION, TlpLevel.AMBER, ()
        if self.audience is Audience.GROUP:
            assert self.group is not None
            return Distribution.GROUPS, TlpLevel.AMBER, (self.group,)
        if self.audience is Audience.COMMUNITY:
            return Distribution.COMMUNITY, TlpLevel.AMBER, ()
        if self.audience is Audience.FEDERATION:
            return Distribution.FEDERATION, TlpLevel.GREEN, ()
        raise InputError("this collection is read-only")


def _cid(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "group"


def collections_for(conn: Connection, actor: Actor) -> list[TaxiiCollection]:
    """The collections ``actor`` may list, in a stable order."""
    reads = bool(actor.roles & READ_ROLES)
    if not reads:
        return []
    writes = bool(actor.roles & WRITER_ROLES)
    peer = actor.org_kind is OrgKind.PEER
    found = [
        TaxiiCollection(
            _cid(f"organisation:{actor.org_id}"),
            "organisation",
            "Our organisation",
            "Everything the caller's organisation owns; objects written here stay with it.",
            Audience.ORGANISATION,
            True,
            writes and not peer,
            org_id=actor.org_id,
        )
    ]
    if not peer:
        for group in _groups_of(conn, actor.org_id):
            found.append(
                TaxiiCollection(
                    _cid(f"group:{group.id}"),
                    f"group-{_slug(group.name)}",
                    f"Sharing group {group.name}",
                    "Objects shared with this sharing group.",
                    Audience.GROUP,
                    True,
                    writes,
                    group=group,
                )
            )
        found.append(
            TaxiiCollection(
                _cid("community"),
                "community",
                "Community",
                "Objects for every member of this center.",
                Audience.COMMUNITY,
                True,
                writes,
            )
        )
    found.append(
        TaxiiCollection(
            _cid("federation"),
            "federation",
            "Federation",
            "Objects that may also cross to peer centers (TLP:CLEAR and TLP:GREEN only).",
            Audience.FEDERATION,
            True,
            writes,
        )
    )
    found.extend(list_defined(conn))
    return found


def find_collection(conn: Connection, actor: Actor, key: str) -> TaxiiCollection:
    """The caller's collection with id or alias ``key``; NotFound for any other."""
    for collection in collections_for(conn, actor):
        if key in (collection.id, collection.alias):
            return collection
    raise NotFound(f"no collection {key!r}")


def _groups_of(conn: Connection, org_id: int) -> list[SharingGroup]:
    """The groups ``org_id`` is in now (read live: a removed member loses the collection)."""
    rows = conn.execute(
        select(sharing_groups)
        .join(group_members, group_members.c.group_id == sharing_groups.c.id)
        .where(group_members.c.org_id == org_id)
        .order_by(sharing_groups.c.name)
    ).all()
    return [
        SharingGroup(
            r.id, r.name, r.description, r.owner_org_id, bool(r.hidden_roster), frozenset()
        )
        for r in rows
    ]


def list_defined(conn: Connection) -> list[TaxiiCollection]:
    rows = conn.execute(select(taxii_collections).order_by(taxii_collections.c.alias)).all()
    return [
        TaxiiCollection(
            r.id,
            r.alias,
            r.title,
            r.description,
            Audience.DEFINED,
            True,
            False,
            filter=CollectionFilter.from_json(r.filter),
        )
        for r in rows
    ]


_RESERVED = re.compile(r"^(organisation|community|federation|group-.*)$")


def define_collection(
    conn: Connection,
    trail: AuditTrail,
    alias: str,
    *,
    title: str,
    description: str = "",
    types: tuple[str, ...] = (),
    tlp: tuple[str, ...] = (),
    distributions: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    owner: str | None = None,
) -> TaxiiCollection:
    """Define a read-only collection by a filter; readers still see only what the policy allows."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,98}", alias) or _RESERVED.match(alias):
        raise InputError(
            "must be lower-case letters, digits and '-', and not a built-in collection's alias",
            field="alias",
        )
    try:
        flt = CollectionFilter(
            tuple(types),
            tuple(TlpLevel.parse(t) for t in tlp),
            tuple(Distribution(d) for d in distributions),
            tuple(labels),
            find_organisation(conn, owner).id if owner else None,
        )
    except ValueError as exc:
        raise InputError(f"invalid filter: {exc}", field="filter") from None
    if conn.execute(
        select(taxii_collections.c.id).where(taxii_collections.c.alias == alias)
    ).first():
        raise Conflict(f"a collection with alias {alias!r} exists")
    cid = str(uuid.uuid4())
    conn.execute(
        insert(taxii_collections).values(
            id=cid,
            alias=alias,
            title=title,
            description=description,
            filter=flt.to_json(),
            created_at=timestamps.now(),
        )
    )
    trail.record(
        conn,
        "taxii.collection.define",
        f"collection {alias}",
        {"id": cid, "filter": orjson.loads(flt.to_json())},
    )
    return next(c for c in list_defined(conn) if c.id == cid)
