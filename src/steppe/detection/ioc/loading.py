"""Build the IOC index from the intel store, and keep it current.

:func:`build_index` reads every active indicator's matchable observables in one query
(plus the small coalition, group and source tables) and computes each indicator's
audience with :func:`~steppe.detection.ioc.audience.audience_mask`. :func:`refresh`
re-reads only the given indicators (just imported, revoked, re-marked), so the index
follows the store without a rebuild. :func:`changed_since` finds those by their
``imported_at``; a version *deleted* (TAXII ``DELETE``) leaves no row to find, so
:func:`deleted_after` reads the deletions from the audit log instead, by its sequence
number (the primary key: a range scan of the entries since the last look, whatever the
log's size), and :func:`refresh` re-reads those stix ids too — dropping them, or taking
up the older version that became current again.

Active means: the current version, ``matchable``, not revoked, ``valid_until`` not
passed, not expired by decay or an ``expired`` sighting (:func:`steppe.intel.sightings.
scores_for`), and the value on no warninglist.

    >>> with engine.connect() as conn:                              # doctest: +SKIP
    ...     index = build_index(conn)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Select, func, select

from steppe.detection.ioc.audience import audience_mask, load_coalition
from steppe.detection.ioc.index import KINDS, IndicatorRef, IocIndex
from steppe.intel.scoring import DecayConfig
from steppe.intel.sightings import scores_for
from steppe.sharing.model import Distribution, ObjectRights, TlpLevel
from steppe.storage import timestamps
from steppe.storage.schema import (
    audit_log,
    intel_objects,
    object_groups,
    object_sources,
    observables,
)
from steppe.storage.sql import in_values

__all__ = [
    "DELETIONS",
    "audit_position",
    "build_index",
    "changed_since",
    "deleted_after",
    "refresh",
]

#: Audit actions that delete stored versions of an object (their ``object`` is
#: ``"object <stix id>"``). A new way of deleting intel must be added here.
DELETIONS = ("taxii.delete",)

_CHUNK = 5_000


def _active_query(now: str) -> Select[tuple[object, ...]]:
    o, v = intel_objects, observables
    return (
        select(
            o.c.pk,
            o.c.stix_id,
            o.c.owner_org_id,
            o.c.distribution,
            o.c.tlp,
            o.c.confidence,
            o.c.valid_until,
            v.c.type,
            v.c.value,
        )
        .select_from(o.join(v, v.c.object_pk == o.c.pk))
        .where(
            o.c.type == "indicator",
            o.c.is_current.is_(True),
            o.c.matchable.is_(True),
            o.c.revoked.is_(False),
            (o.c.valid_until.is_(None)) | (o.c.valid_until > now),
            v.c.warninglists.is_(None),
            v.c.type.in_(sorted(KINDS)),
        )
    )


def build_index(
    conn: Connection, now: str | None = None, config: DecayConfig | None = None
) -> IocIndex:
    """A fresh index of every active indicator in the store."""
    index = IocIndex()
    _load(conn, index, _active_query(now or timestamps.now()), now, config)
    return index


def refresh(
    conn: Connection,
    index: IocIndex,
    stix_ids: Iterable[str],
    now: str | None = None,
    config: DecayConfig | None = None,
) -> list[int]:
    """Re-read the indicators ``stix_ids`` (just imported, revoked, re-marked): drop
    their indexed versions, add their active current ones. Returns the pks added (what
    a retro-hunt should look for)."""
    wanted = sorted(set(stix_ids))
    moment = now or timestamps.now()
    active: list[int] = []
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for stix_id in chunk:
            index.remove_stix(stix_id)
        query = _active_query(moment).where(
            in_values(intel_objects.c.stix_id, chunk, conn.dialect.name)
        )
        active.extend(_load(conn, index, query, now, config, True))
    return active


def changed_since(conn: Connection, since: str) -> list[str]:
    """Stix ids of indicators with a version stored after ``since`` (new, revoked,
    re-marked): what :func:`refresh` should re-read."""
    o = intel_objects
    query = (
        select(o.c.stix_id)
        .where(o.c.type == "indicator", o.c.imported_at > since)
        .group_by(o.c.stix_id)
    )
    return list(conn.scalars(query))


def audit_position(conn: Connection) -> int:
    """The audit log's last sequence number: where :func:`deleted_after` starts."""
    return int(conn.execute(select(func.coalesce(func.max(audit_log.c.seq), 0))).scalar_one())


def deleted_after(conn: Connection, seq: int) -> tuple[list[str], int]:
    """Stix ids of indicators with versions deleted in audit entries after ``seq``, and
    the last sequence number read (pass it next time).

    Appenders hold the audit head's lock until they commit, so a later sequence number is
    never visible before an earlier one: reading ``seq > last`` misses nothing.
    """
    last = audit_position(conn)
    targets = conn.scalars(
        select(audit_log.c.object).where(
            audit_log.c.seq > seq,
            audit_log.c.seq <= last,
            audit_log.c.action.in_(DELETIONS),
            audit_log.c.object.startswith("object indicator--"),
        )
    )
    return sorted({target.removeprefix("object ") for target in targets}), last


def _load(
    conn: Connection,
    index: IocIndex,
    query: Select[tuple[object, ...]],
    now: str | None,
    config: DecayConfig | None,
    some: bool = False,
) -> list[int]:
    values: dict[int, list[tuple[str, str]]] = {}
    rows: dict[int, Any] = {}
    for row in conn.execute(query):
        values.setdefault(row.pk, []).append((row.type, row.value))
        rows[row.pk] = row
    if not rows:
        return []
    coalition = load_coalition(conn)
    pks = sorted(rows) if some else None
    groups = _groups(conn, pks)
    sources = _sources(conn, pks)
    scores = scores_for(conn, sorted(rows), now, config)
    added = []
    for pk, found in rows.items():
        score = scores.get(pk)
        if score is not None and score.expired:
            continue
        _, stix_id, owner, distribution, tlp, confidence, valid_until, _, _ = found
        rights = _rights(pk, owner, distribution, tlp, groups, sources)
        ref = IndicatorRef(
            pk=pk,
            stix_id=str(stix_id),
            owner_org_id=int(owner),
            confidence=confidence,
            tlp=str(tlp),
            valid_until=valid_until,
            score=None if score is None else score.score,
        )
        index.add(ref, values[pk], audience=audience_mask(rights, coalition))
        added.append(pk)
    return added


def _rights(
    pk: int,
    owner: Any,
    distribution: Any,
    tlp: Any,
    groups: dict[int, set[int]],
    sources: dict[int, list[ObjectRights]],
) -> ObjectRights:
    return ObjectRights(
        int(owner),
        Distribution(distribution),
        TlpLevel(tlp),
        frozenset(groups.get(pk, ())),
        tuple(sources.get(pk, ())),
    )


def _groups(conn: Connection, pks: Sequence[int] | None) -> dict[int, set[int]]:
    query = select(object_groups.c.object_pk, object_groups.c.group_id)
    if pks is not None:
        query = query.where(in_values(object_groups.c.object_pk, pks, conn.dialect.name))
    found: dict[int, set[int]] = {}
    for row in conn.execute(query):
        found.setdefault(row.object_pk, set()).add(row.group_id)
    return found


def _sources(conn: Connection, pks: Sequence[int] | None) -> dict[int, list[ObjectRights]]:
    """Rights of the sources of derived indicators (rare; judged by their own marking)."""
    src = intel_objects.alias("src")
    query = select(
        object_sources.c.object_pk, src.c.pk, src.c.owner_org_id, src.c.distribution, src.c.tlp
    ).select_from(object_sources.join(src, src.c.pk == object_sources.c.source_pk))
    if pks is not None:
        query = query.where(in_values(object_sources.c.object_pk, pks, conn.dialect.name))
    rows = conn.execute(query).all()
    if not rows:
        return {}
    groups = _groups(conn, sorted({r[1] for r in rows}))
    found: dict[int, list[ObjectRights]] = {}
    for object_pk, source_pk, owner, distribution, tlp in rows:
        found.setdefault(object_pk, []).append(
            _rights(source_pk, owner, distribution, tlp, groups, {})
        )
    return found
