"""Reading the intel store as an actor: search by value, fetch, export.

Every query here filters with :func:`steppe.sharing.policy.visible_filter`, so what an
actor may not see never leaves the database.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson
from sqlalchemy import Connection, Select, exists, select

from steppe.errors import Forbidden, InvalidObservable, NotFound
from steppe.intel import attack
from steppe.intel.bodies import BODY_COLUMNS, body_object, body_of_row
from steppe.intel.guess import canonical_observable
from steppe.intel.observables import ObservableType
from steppe.intel.stix import TLP_MARKING_IDS, tlp_marking_definition, tlp_marking_id
from steppe.sharing.model import Actor, TlpLevel
from steppe.sharing.policy import require_reader, visible_filter
from steppe.storage.schema import intel_objects, object_labels, observables, organisations
from steppe.storage.sql import IN_LIST_CHUNK, in_values

__all__ = [
    "LookupMatch",
    "LookupResult",
    "SearchHit",
    "StoredObject",
    "export_bundle",
    "get_object",
    "get_own_current",
    "get_stored",
    "iter_visible_bodies",
    "list_objects",
    "lookup_values",
    "search_value",
]


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
    rows = conn.execute(
        _visible_hits(actor)
        .where(observables.c.value == canonical, observables.c.type == found_kind.value)
        .order_by(intel_objects.c.modified.desc())
        .limit(limit)
    )
    hits = [_hit(r) for r in rows]
    return found_kind, canonical, hits


def get_object(conn: Connection, actor: Actor, stix_id: str) -> dict[str, Any]:
    """The STIX object of :func:`get_stored`: the actor's own copy, else the newest visible.

    An object the actor may not see raises the same NotFound as one that does not exist.
    """
    return get_stored(conn, actor, stix_id).body


def iter_visible_bodies(
    conn: Connection, actor: Actor, *, types: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every current object ``actor`` may see, with its TLP marking ref, oldest first."""
    require_reader(actor)
    o = intel_objects
    query = select(o.c.tlp, *(o.c[name] for name in BODY_COLUMNS)).where(
        intel_objects.c.is_current.is_(True), visible_filter(actor, intel_objects)
    )
    if types:
        query = query.where(intel_objects.c.type.in_(types))
    for tlp, *body in conn.execute(query.order_by(intel_objects.c.pk)).yield_per(2000):
        yield _with_tlp(body_object(*body), TlpLevel(tlp))


def export_bundle(
    conn: Connection,
    actor: Actor,
    out: BinaryIO,
    *,
    bundle_id: str,
    types: list[str] | None = None,
    extra: Iterable[dict[str, Any]] = (),
) -> int:
    """Write a STIX 2.1 bundle of what ``actor`` may see to ``out``; returns the count.

    Streams object by object (large stores do not have to fit in memory) and adds the
    TLP 2.0 marking definitions the objects refer to. ``extra``: objects made for this
    reader and not stored as such (its sightings:
    :func:`steppe.intel.sighting_export.sighting_objects`), written after the stored ones.
    """
    require_reader(actor)
    out.write(b'{"type":"bundle","id":' + orjson.dumps(bundle_id) + b',"objects":[')
    count = 0
    used: set[TlpLevel] = set()
    for obj in itertools.chain(iter_visible_bodies(conn, actor, types=types), extra):
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


@dataclass(frozen=True, slots=True)
class StoredObject:
    """The current version of an object, as one actor may see it."""

    pk: int
    stix_id: str
    type: str
    name: str | None
    owner: str
    distribution: str
    tlp: str
    confidence: int | None
    created: str | None
    modified: str
    valid_from: str | None
    valid_until: str | None
    revoked: bool
    matchable: bool | None
    pattern_note: str | None
    body: dict[str, Any]


def _stored_columns() -> list[Any]:
    o = intel_objects
    return [
        o.c.pk,
        o.c.stix_id,
        o.c.type,
        o.c.name,
        organisations.c.name.label("owner"),
        o.c.distribution,
        o.c.tlp,
        o.c.confidence,
        o.c.created,
        o.c.modified,
        o.c.valid_from,
        o.c.valid_until,
        o.c.revoked,
        o.c.matchable,
        o.c.pattern_note,
        o.c.body,
    ]


def _stored(row: Any) -> StoredObject:
    return StoredObject(
        row.pk,
        row.stix_id,
        row.type,
        row.name,
        row.owner,
        row.distribution,
        row.tlp,
        row.confidence,
        row.created,
        row.modified,
        row.valid_from,
        row.valid_until,
        bool(row.revoked),
        None if row.matchable is None else bool(row.matchable),
        row.pattern_note,
        _with_tlp(body_of_row(row), TlpLevel(row.tlp)),
    )


def list_objects(
    conn: Connection,
    actor: Actor,
    *,
    value: str | None = None,
    kind: ObservableType | str | None = None,
    stix_type: str | None = None,
    label: str | None = None,
    technique: str | None = None,
    modified_after: str | None = None,
    modified_before: str | None = None,
    after_pk: int = 0,
    limit: int = 100,
) -> list[StoredObject]:
    """Current objects visible to ``actor``, oldest import first, one page at a time.

    ``after_pk`` is the cursor: the ``pk`` of the last object of the previous page.
    ``technique`` (``T1059``) selects objects tagged with the ATT&CK technique or one of
    its sub-techniques.
    """
    require_reader(actor)
    o = intel_objects
    query = (
        select(*_stored_columns())
        .select_from(o.join(organisations, organisations.c.id == o.c.owner_org_id))
        .where(o.c.is_current.is_(True), o.c.pk > after_pk, visible_filter(actor, o))
    )
    if value is not None:
        found_kind, canonical = canonical_observable(value, kind)
        query = query.where(
            exists(
                select(1).where(
                    observables.c.object_pk == o.c.pk,
                    observables.c.value == canonical,
                    observables.c.type == found_kind.value,
                )
            )
        )
    if stix_type is not None:
        query = query.where(o.c.type == stix_type)
    if label is not None:
        query = query.where(
            exists(
                select(1).where(object_labels.c.object_pk == o.c.pk, object_labels.c.label == label)
            )
        )
    if technique is not None:
        query = query.where(
            exists(
                select(1).where(object_labels.c.object_pk == o.c.pk, attack.label_filter(technique))
            )
        )
    if modified_after is not None:
        query = query.where(o.c.modified > modified_after)
    if modified_before is not None:
        query = query.where(o.c.modified < modified_before)
    rows = conn.execute(query.order_by(o.c.pk).limit(limit))
    return [_stored(r) for r in rows]


def get_stored(conn: Connection, actor: Actor, stix_id: str) -> StoredObject:
    """Like :func:`get_object`, with the store's metadata."""
    require_reader(actor)
    o = intel_objects
    row = conn.execute(
        select(*_stored_columns())
        .select_from(o.join(organisations, organisations.c.id == o.c.owner_org_id))
        .where(o.c.stix_id == stix_id, o.c.is_current.is_(True), visible_filter(actor, o))
        .order_by(o.c.owner_org_id == actor.org_id, o.c.modified)
    ).all()
    if not row:
        raise NotFound(f"no object {stix_id!r}")
    return _stored(row[-1])  # the actor's own copy first, else the newest


def get_own_current(conn: Connection, actor: Actor, stix_id: str) -> StoredObject:
    """The current version of ``stix_id`` for a change only its owner may make
    (revoke, replace, re-mark): NotFound when ``actor`` may not see it, Forbidden when it
    sees it but the object is another organisation's."""
    stored = get_stored(conn, actor, stix_id)
    own = conn.scalar(
        select(intel_objects.c.pk).where(
            intel_objects.c.stix_id == stix_id,
            intel_objects.c.owner_org_id == actor.org_id,
            intel_objects.c.is_current.is_(True),
        )
    )
    if own is None:
        raise Forbidden(f"{stix_id} belongs to {stored.owner}; only its owner may change it")
    return stored


@dataclass(frozen=True, slots=True)
class LookupMatch:
    index: int
    value: str
    type: ObservableType
    canonical: str
    objects: list[SearchHit]


@dataclass(frozen=True, slots=True)
class LookupResult:
    matches: list[LookupMatch]
    invalid: list[tuple[int, str, str]]  # index, value, reason
    unmatched: int


def lookup_values(
    conn: Connection, actor: Actor, values: list[str], kind: ObservableType | str | None = None
) -> LookupResult:
    """Which of ``values`` appear in intel ``actor`` may see (bulk look-up for sensors/scripts).

    Values are canonicalised first; ones that are not valid observables are reported,
    not fatal. Matching is exact on the canonical value and its type.
    """
    require_reader(actor)
    wanted: dict[tuple[str, str], list[tuple[int, str]]] = {}
    invalid: list[tuple[int, str, str]] = []
    for index, raw in enumerate(values):
        try:
            found_kind, canonical = canonical_observable(raw, kind)
        except InvalidObservable as exc:
            invalid.append((index, raw, exc.message))
            continue
        wanted.setdefault((found_kind.value, canonical), []).append((index, raw))
    hits: dict[tuple[str, str], list[SearchHit]] = {}
    distinct = sorted({v for _t, v in wanted})
    dialect = conn.dialect.name
    size = IN_LIST_CHUNK.get(dialect, 1000)
    for start in range(0, len(distinct), size):
        rows = conn.execute(
            _visible_hits(actor).where(
                in_values(observables.c.value, distinct[start : start + size], dialect)
            )
        )
        for row in rows:
            key = (row.type, row.value)
            if key in wanted:
                hits.setdefault(key, []).append(_hit(row))
    matches = [
        LookupMatch(index, raw, ObservableType(t), v, hits[(t, v)])
        for (t, v), occurrences in wanted.items()
        if (t, v) in hits
        for index, raw in occurrences
    ]
    matches.sort(key=lambda m: m.index)
    unmatched = len(values) - len(invalid) - len(matches)
    return LookupResult(matches, invalid, unmatched)


def _visible_hits(actor: Actor) -> Select[Any]:
    """Observables joined to the current objects ``actor`` may see and their owners."""
    o = intel_objects
    return (
        select(*_hit_columns())
        .select_from(
            observables.join(o, o.c.pk == observables.c.object_pk).join(
                organisations, organisations.c.id == o.c.owner_org_id
            )
        )
        .where(o.c.is_current.is_(True), visible_filter(actor, o))
    )


def _hit_columns() -> list[Any]:
    o = intel_objects
    return [
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
    ]


def _hit(r: Any) -> SearchHit:
    return SearchHit(
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
