"""Reading the intel store as an actor: search by value, fetch, export.

Every query here filters with :func:`steppe.sharing.policy.visible_filter`, so what an
actor may not see never leaves the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson
from sqlalchemy import Connection, select

from steppe.errors import NotFound
from steppe.intel.observables import ObservableType, canonical_observable
from steppe.intel.stix import TLP_MARKING_IDS, tlp_marking_definition, tlp_marking_id
from steppe.sharing.model import Actor, TlpLevel
from steppe.sharing.policy import require_reader, visible_filter
from steppe.storage.schema import intel_objects, observables, organisations

__all__ = ["SearchHit", "export_bundle", "get_object", "iter_visible_bodies", "search_value"]


@dataclass(frozen=True, slots=True)
class SearchHit:
    observable_type: str
    value: str
    stix_id: str
    object_type: str
    name: str | None
    owner: str
    distribution: str
    tlp: str
    confidence: int | None
    valid_from: str | None
    valid_until: str | None
    revoked: bool
    matchable: bool | None
    modified: str


def search_value(
    conn: Connection,
    actor: Actor,
    value: str,
    kind: ObservableType | str | None = None,
    *,
    limit: int = 1000,
) -> tuple[ObservableType, str, list[SearchHit]]:
    """Current objects visible to ``actor`` that carry ``value`` (canonicalised first)."""
    require_reader(actor)
    found_kind, canonical = canonical_observable(value, kind)
    o = intel_objects
    rows = conn.execute(
        select(
            observables.c.type,
            observables.c.value,
            o.c.stix_id,
            o.c.type.label("object_type"),
            o.c.name,
            organisations.c.name.label("owner"),
            o.c.distribution,
            o.c.tlp,
            o.c.confidence,
            o.c.valid_from,
            o.c.valid_until,
            o.c.revoked,
            o.c.matchable,
            o.c.modified,
        )
        .select_from(
            observables.join(o, o.c.pk == observables.c.object_pk).join(
                organisations, organisations.c.id == o.c.owner_org_id
            )
        )
        .where(
            observables.c.value == canonical,
            observables.c.type == found_kind.value,
            o.c.is_current.is_(True),
            visible_filter(actor, o),
        )
        .order_by(o.c.modified.desc())
        .limit(limit)
    )
    hits = [
        SearchHit(
            r.type,
            r.value,
            r.stix_id,
            r.object_type,
            r.name,
            r.owner,
            r.distribution,
            r.tlp,
            r.confidence,
            r.valid_from,
            r.valid_until,
            bool(r.revoked),
            None if r.matchable is None else bool(r.matchable),
            r.modified,
        )
        for r in rows
    ]
    return found_kind, canonical, hits


def get_object(conn: Connection, actor: Actor, stix_id: str) -> dict[str, Any]:
    """The current version of ``stix_id`` the actor may see (newest if several owners).

    An object the actor may not see raises the same NotFound as one that does not exist.
    """
    require_reader(actor)
    row = conn.execute(
        select(intel_objects.c.body, intel_objects.c.tlp)
        .where(
            intel_objects.c.stix_id == stix_id,
            intel_objects.c.is_current.is_(True),
            visible_filter(actor, intel_objects),
        )
        .order_by(intel_objects.c.modified.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no object {stix_id!r}")
    return _with_tlp(orjson.loads(row.body), TlpLevel(row.tlp))


def iter_visible_bodies(
    conn: Connection, actor: Actor, *, types: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every current object ``actor`` may see, with its TLP marking ref, oldest first."""
    require_reader(actor)
    query = select(intel_objects.c.body, intel_objects.c.tlp).where(
        intel_objects.c.is_current.is_(True), visible_filter(actor, intel_objects)
    )
    if types:
        query = query.where(intel_objects.c.type.in_(types))
    for body, tlp in conn.execute(query.order_by(intel_objects.c.pk)).yield_per(2000):
        yield _with_tlp(orjson.loads(body), TlpLevel(tlp))


def export_bundle(
    conn: Connection, actor: Actor, out: BinaryIO, *, bundle_id: str, types: list[str] | None = None
) -> int:
    """Write a STIX 2.1 bundle of what ``actor`` may see to ``out``; returns the count.

    Streams object by object (large stores do not have to fit in memory) and adds the
    TLP 2.0 marking definitions the objects refer to.
    """
    require_reader(actor)
    out.write(b'{"type":"bundle","id":' + orjson.dumps(bundle_id) + b',"objects":[')
    count = 0
    used: set[TlpLevel] = set()
    for obj in iter_visible_bodies(conn, actor, types=types):
        if obj.get("type") == "marking-definition" and obj.get("id") in _TLP_IDS:
            continue
        used.update(_levels(obj))
        out.write((b"," if count else b"") + orjson.dumps(obj))
        count += 1
    for level in sorted(used, key=list(TlpLevel).index):
        out.write((b"," if count else b"") + orjson.dumps(tlp_marking_definition(level)))
        count += 1
    out.write(b"]}\n")
    return count


_TLP_IDS = {tlp_marking_id(level): level for level in TlpLevel}


def _levels(obj: dict[str, Any]) -> list[TlpLevel]:
    return [_TLP_IDS[r] for r in obj.get("object_marking_refs") or () if r in _TLP_IDS]


def _with_tlp(obj: dict[str, Any], tlp: TlpLevel) -> dict[str, Any]:
    """Stamp the stored TLP on objects that do not carry a TLP 2.0 marking themselves."""
    refs = obj.get("object_marking_refs") or []
    if any(r in _TLP_IDS for r in refs):
        return obj
    if obj.get("type") == "marking-definition":
        return obj  # markings are not marked
    refs = [r for r in refs if r not in TLP_MARKING_IDS]  # a TLP 1.0 ref becomes TLP 2.0
    obj["object_marking_refs"] = [*refs, tlp_marking_id(tlp)]
    return obj
