"""Writing to a collection: POST of an envelope (with its status resource) and DELETE.

Objects posted belong to the caller's organisation, with the collection's distribution
(``organisation``, ``groups`` with the collection's group, ``community`` or
``federation``); an object's own TLP marking is honoured, and one that contradicts the
collection (TLP:AMBER into ``federation``, TLP:RED into ``community``) fails alone.

A peer center's account writes what it syncs: objects are stored as the peer
organisation's, one distribution step narrower (``federation`` → ``community``), and
only at the TLP levels the agreement allows.

The importer (:func:`steppe.intel.importer.import_objects`) stops at the first bad
object and rolls everything back. To give each object its own result without checking
objects one by one, the envelope goes in whole; when object *k* fails, the objects
before it go in (they passed), *k* is recorded as a failure and the rest is tried
again. A good envelope costs one import; each bad object costs one more.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Column, Connection, Engine, delete, insert, select, update

from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, Forbidden, InputError, NotFound
from steppe.federation.agreements import agreement_for_org
from steppe.federation.collections import WRITER_ROLES, TaxiiCollection, find_collection
from steppe.federation.intake import GiveUp, ImportGroup, Spooled
from steppe.federation.reading import ObjectFilter, read_page, version_of
from steppe.heap import gc_paused
from steppe.intel.importer import Marking, import_objects
from steppe.intel.stix import bundle_tlp_definitions, tlp_of
from steppe.sharing import directory
from steppe.sharing.directory import Organisation
from steppe.sharing.model import Actor, OrgKind, TlpLevel
from steppe.storage import timestamps
from steppe.storage.engine import writing
from steppe.storage.schema import (
    intel_objects,
    metadata,
    object_sources,
    taxii_statuses,
)

__all__ = [
    "Envelope",
    "StatusResource",
    "add_envelopes",
    "add_objects",
    "check_may_write",
    "delete_object",
    "fail_spooled",
    "get_status",
    "import_each",
    "import_spooled",
    "incoming_tlp",
    "spooled_importer",
]

_OBJECT_AT = re.compile(r"^objects\[(\d+)\]\.?")


@dataclass(frozen=True, slots=True)
class StatusResource:
    id: str
    request_timestamp: str
    total_count: int
    successes: list[dict[str, str]]
    failures: list[dict[str, str]]

    @property
    def pending_count(self) -> int:
        return self.total_count - len(self.successes) - len(self.failures)

    def to_dict(self) -> dict[str, Any]:
        pending = self.pending_count
        doc: dict[str, Any] = {
            "id": self.id,
            "status": "pending" if pending else "complete",
            "request_timestamp": self.request_timestamp,
            "total_count": self.total_count,
            "success_count": len(self.successes),
            "failure_count": len(self.failures),
            "pending_count": pending,
        }
        # TAXII: lists are omitted, never sent empty.
        if self.successes:
            doc["successes"] = self.successes
        if self.failures:
            doc["failures"] = self.failures
        return doc


@dataclass(frozen=True, slots=True)
class Envelope:
    """One POSTed envelope: its status id, when it came, its body and its objects."""

    status_id: str
    requested: str
    data: bytes
    objects: list[Any]


def add_objects(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    collection: TaxiiCollection,
    data: bytes,
    objects: list[Any],
) -> StatusResource:
    """Store an envelope's objects in ``collection``; each succeeds or fails alone."""
    envelope = Envelope(str(uuid.uuid4()), timestamps.now(), data, objects)
    return add_envelopes(conn, trail, actor, collection, [envelope])[0]


def add_envelopes(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    collection: TaxiiCollection,
    envelopes: Sequence[Envelope],
) -> list[StatusResource]:
    """Store the objects of one caller's envelopes in ``collection`` with ONE import
    (asynchronous POSTs taken together); each object succeeds or fails alone, and each
    envelope gets its status resource."""
    check_may_write(actor, collection)
    owner = directory.get_organisation(conn, actor.org_id)
    distribution, default_tlp, groups = collection.write_distribution()
    objects = [obj for envelope in envelopes for obj in envelope.objects]
    failures: dict[int, str] = {}
    candidates = list(range(len(objects)))
    if owner.kind is OrgKind.PEER:
        # What a peer sends is stored one step narrower, and only at agreed TLP levels.
        agreement = agreement_for_org(conn, owner.id)
        distribution = agreement.narrow(distribution)
        index = 0
        for envelope in envelopes:
            local = bundle_tlp_definitions(envelope.objects)  # an envelope's own markings
            for obj in envelope.objects:
                level = incoming_tlp(obj, local, default_tlp)
                if not agreement.allows_tlp(level):
                    failures[index] = f"TLP:{level.value.upper()} may not arrive from a peer"
                elif isinstance(obj, dict) and not agreement.allows_type(str(obj.get("type"))):
                    failures[index] = f"type {obj.get('type')!r} is not in the sync agreement"
                index += 1
        candidates = [i for i in candidates if i not in failures]
        # The importer refuses peer owners so that nothing but sync can store as one:
        # this is sync, so it is handed the organisation as a member.
        owner = dataclasses.replace(owner, kind=OrgKind.MEMBER)
    marking = Marking(distribution, default_tlp, groups)
    source = f"TAXII POST to {collection.alias}"
    if len(envelopes) > 1:
        source += f" ({len(envelopes)} envelopes taken together)"
    data = envelopes[0].data if len(envelopes) == 1 else b"\n".join(e.data for e in envelopes)
    failures.update(import_each(conn, trail, data, objects, candidates, owner, marking, source))
    statuses = []
    offset = 0
    for envelope in envelopes:
        span = range(offset, offset + len(envelope.objects))
        if failures:
            successes = [_detail(objects[i]) for i in span if i not in failures]
            failed = [
                {**_detail(objects[i]), "message": failures[i]} for i in span if i in failures
            ]
        else:  # the common case: a look-up an object less
            successes, failed = [_detail(obj) for obj in envelope.objects], []
        status = StatusResource(
            envelope.status_id, envelope.requested, len(span), successes, failed
        )
        _record_status(conn, status, actor.user_id, collection.id)
        statuses.append(status)
        offset += len(span)
    return statuses


def check_may_write(actor: Actor, collection: TaxiiCollection) -> None:
    if not collection.can_write or not (actor.roles & WRITER_ROLES):
        raise Forbidden("the caller may not write to this collection")


def _record_status(
    conn: Connection, status: StatusResource, user_id: int, collection_id: str
) -> None:
    conn.execute(
        insert(taxii_statuses).values(
            id=status.id,
            user_id=user_id,
            collection_id=collection_id,
            request_timestamp=status.request_timestamp,
            total_count=status.total_count,
            success_count=len(status.successes),
            failure_count=len(status.failures),
            pending_count=0,
            details=orjson.dumps(
                {"successes": status.successes, "failures": status.failures}
            ).decode(),
        )
    )


def import_spooled(conn: Connection, secret_key: str, spooled: Sequence[Spooled]) -> None:
    """Import envelopes accepted by an asynchronous POST, in the caller's transaction.

    One caller's envelopes to one collection go in with one import; one that defines
    marking-definitions goes alone (its definitions apply to its own objects only). The
    caller and the collection are looked up again: rights withdrawn since the POST apply
    (every object then fails with why). An envelope whose status is recorded already
    (imported before a crash that came ahead of its spool file's removal) is skipped.

    Runs with the cyclic collector paused (:func:`~steppe.heap.gc_paused`): every object
    of the group stays alive until the import ends, and the collector's walks over them
    were ~3% of the import's instructions (callgrind, groups of 5,000; docs/benchmarks.md).
    """
    with gc_paused():
        _import_spooled(conn, secret_key, spooled)


def _import_spooled(conn: Connection, secret_key: str, spooled: Sequence[Spooled]) -> None:
    ids = [item.header.status_id for item in spooled]
    done = set(
        conn.execute(select(taxii_statuses.c.id).where(taxii_statuses.c.id.in_(ids))).scalars()
    )
    runs: dict[tuple[int, str, str], list[Envelope]] = {}
    for item in spooled:
        head = item.header
        if head.status_id in done:
            continue
        objects = orjson.loads(item.body).get("objects", [])
        envelope = Envelope(head.status_id, head.request_timestamp, item.body, objects)
        alone = head.status_id if _defines_markings(objects) else ""
        runs.setdefault((head.user_id, head.collection_id, alone), []).append(envelope)
    names = {item.header.user_id: item.header.user_name for item in spooled}
    for (user_id, collection_id, _), envelopes in runs.items():
        trail = AuditTrail(key=secret_key, actor=f"user:{names[user_id]}")
        try:
            actor = directory.load_actor(conn, names[user_id])
            if actor.user_id != user_id:
                raise NotFound(f"no user {names[user_id]!r}")
            collection = find_collection(conn, actor, collection_id)
            add_envelopes(conn, trail, actor, collection, envelopes)
        except (Forbidden, NotFound) as exc:
            for envelope in envelopes:
                _record_failed(
                    conn,
                    StatusResource(envelope.status_id, envelope.requested, 0, [], []),
                    envelope.objects,
                    f"not imported: {exc.message}",
                    user_id,
                    collection_id,
                )


def spooled_importer(engine: Engine, secret_key: str) -> tuple[ImportGroup, GiveUp]:
    """The intake's two writes on ``engine``: import a group of spooled envelopes in one
    transaction (:func:`import_spooled`), and record one as given up on
    (:func:`fail_spooled`)."""

    def import_group(envelopes: list[Spooled]) -> None:
        with writing(engine) as conn:
            import_spooled(conn, secret_key, envelopes)

    def give_up(envelope: Spooled, message: str) -> None:
        with writing(engine) as conn:
            fail_spooled(conn, envelope, message)

    return import_group, give_up


def fail_spooled(conn: Connection, item: Spooled, message: str) -> None:
    """Record an accepted envelope as failed: every object with ``message`` (the intake
    gives up on an envelope whose import keeps failing). Nothing if it has a status."""
    head = item.header
    if conn.execute(
        select(taxii_statuses.c.id).where(taxii_statuses.c.id == head.status_id)
    ).first():
        return
    try:
        objects = orjson.loads(item.body).get("objects", [])
    except (orjson.JSONDecodeError, AttributeError):
        objects = []
    # The POST counted the objects; keep that count even if the body cannot be read now.
    pending = StatusResource(head.status_id, head.request_timestamp, head.total_count, [], [])
    _record_failed(conn, pending, objects, message, head.user_id, head.collection_id)


def _record_failed(
    conn: Connection,
    pending: StatusResource,
    objects: list[Any],
    message: str,
    user_id: int,
    collection_id: str,
) -> None:
    """Record ``pending`` complete with every object failed with ``message``: one failure
    per object, and as many as its total count says at least."""
    failed = [{**_detail(obj), "message": message} for obj in objects]
    failed += [{"id": "", "version": "", "message": message}] * max(
        0, pending.total_count - len(failed)
    )
    status = StatusResource(pending.id, pending.request_timestamp, len(failed), [], failed)
    _record_status(conn, status, user_id, collection_id)


def _defines_markings(objects: list[Any]) -> bool:
    return any(isinstance(o, dict) and o.get("type") == "marking-definition" for o in objects)


def incoming_tlp(obj: Any, local: dict[str, TlpLevel], default: TlpLevel) -> TlpLevel:
    """The TLP an incoming object will be stored with (its own marking, else ``default``)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("object_marking_refs"), list):
        return default
    if not all(isinstance(ref, str) for ref in obj["object_marking_refs"]):
        return default  # the importer rejects it, with the field
    return tlp_of(obj, local) or default


def import_each(
    conn: Connection,
    trail: AuditTrail,
    data: bytes,
    objects: Sequence[Any],
    candidates: list[int],
    owner: Organisation,
    marking: Marking,
    source: str,
) -> dict[int, str]:
    """Import ``objects[i]`` for each ``i`` in ``candidates``; the ones that fail, with why.

    The importer stops at the first bad object and rolls its savepoint back; this puts
    in the objects before it, records it, and carries on after it.
    """
    failures: dict[int, str] = {}
    while candidates:
        try:
            import_objects(
                conn,
                trail,
                data,
                [objects[i] for i in candidates],
                owner=owner,
                marking=marking,
                source=source,
            )
            break
        except InputError as exc:
            at = _OBJECT_AT.match(exc.field or "")
            if at is None:  # not about one object: every remaining one fails with it
                failures.update(dict.fromkeys(candidates, exc.message))
                break
            k = int(at.group(1))
            field = (exc.field or "")[at.end() :]
            failures[candidates[k]] = (f"{field}: " if field else "") + exc.message
            if k:
                import_objects(
                    conn,
                    trail,
                    data,
                    [objects[i] for i in candidates[:k]],
                    owner=owner,
                    marking=marking,
                    source=source,
                )
            candidates = candidates[k + 1 :]
    return failures


def _detail(obj: Any) -> dict[str, str]:
    if not isinstance(obj, dict):
        return {"id": "", "version": ""}
    stix_id = obj.get("id", "")
    version = obj.get("modified") or obj.get("created") or ""
    # str() only when needed: the ids and versions of stored objects are strings.
    return {
        "id": stix_id if type(stix_id) is str else str(stix_id),
        "version": version if type(version) is str else str(version),
    }


def get_status(conn: Connection, actor: Actor, status_id: str) -> StatusResource:
    """A status resource; only the user who posted may read it (others get NotFound)."""
    row = conn.execute(
        select(taxii_statuses).where(
            taxii_statuses.c.id == status_id, taxii_statuses.c.user_id == actor.user_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no status {status_id!r}")
    details = orjson.loads(row.details)
    return StatusResource(
        row.id, row.request_timestamp, row.total_count, details["successes"], details["failures"]
    )


def delete_object(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    collection: TaxiiCollection,
    stix_id: str,
    flt: ObjectFilter,
) -> int:
    """Delete the caller's organisation's versions of ``stix_id`` matching ``flt``.

    NotFound when the caller sees no such object in the collection; Forbidden when it
    sees one but its organisation owns none of the versions; Conflict when other objects
    are derived from it. Returns the rows deleted.
    """
    if not collection.can_write or not (actor.roles & WRITER_ROLES):
        raise Forbidden("the caller may not delete from this collection")
    flt = dataclasses.replace(flt, ids=(stix_id,), added_after=None)
    rows = read_page(conn, actor, collection, flt, limit=100_000).rows
    if not rows:
        raise NotFound(f"no object {stix_id!r}")
    pks = [r.pk for r in rows]
    own = list(
        conn.execute(
            select(intel_objects.c.pk).where(
                intel_objects.c.pk.in_(pks), intel_objects.c.owner_org_id == actor.org_id
            )
        ).scalars()
    )
    if not own:
        raise Forbidden("only the owner organisation may delete this object")
    # Derived objects are visible only to who sees all their sources: dropping a source
    # would widen them. Such an object stays until what is derived from it goes.
    derived = conn.execute(
        select(object_sources.c.object_pk).where(object_sources.c.source_pk.in_(own)).limit(1)
    ).first()
    if derived is not None:
        raise Conflict(f"other objects are derived from {stix_id!r}; it cannot be deleted")
    for column in _references_to_objects():
        conn.execute(delete(column.table).where(column.in_(own)))
    conn.execute(delete(intel_objects).where(intel_objects.c.pk.in_(own)))
    _restore_current(conn, stix_id, actor.org_id)
    trail.record(
        conn,
        "taxii.delete",
        f"object {stix_id}",
        {"collection": collection.alias, "versions": [version_of(r) for r in rows if r.pk in own]},
    )
    return len(own)


def _references_to_objects() -> list[Column[Any]]:
    """Every column that points at an intel object's row, found in the schema itself so a
    table added later (sightings, correlations, feed entries …) is never left dangling."""
    return [
        column
        for table in reversed(metadata.sorted_tables)
        for column in table.columns
        if any(fk.column is intel_objects.c.pk for fk in column.foreign_keys)
    ]


def _restore_current(conn: Connection, stix_id: str, org_id: int) -> None:
    """After deleting versions, the newest one left (if any) is the current one."""
    o = intel_objects
    mine = (o.c.stix_id == stix_id) & (o.c.owner_org_id == org_id)
    if conn.execute(select(o.c.pk).where(mine, o.c.is_current.is_(True))).first():
        return
    newest = conn.execute(
        select(o.c.pk).where(mine).order_by(o.c.modified.desc()).limit(1)
    ).scalar()
    if newest is not None:
        conn.execute(update(o).where(o.c.pk == newest).values(is_current=True))
