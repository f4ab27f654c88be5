"""Sightings: "we saw this" (``seen``), "this was wrong" (``false-positive``), "this is
over" (``expired``) — STIX ``sighting`` semantics (``sighting_of_ref`` the object,
``where_sighted_refs`` the organisation, ``count``, ``first_seen``/``last_seen``).

Who learns what. A sighting is derived from the object it is about, so only those who
may see that object (:func:`steppe.sharing.policy.visible_filter`, through
:func:`steppe.intel.queries.get_stored`) see its sightings: type, count and times. The
sighting organisation is named only to itself, or to others when it allowed it
(``named``) — :func:`sighter_shown` is that rule, the one the tests check the read path
against. The producer learns "seen" and counts the same way as everyone else who may
see its object.

    >>> record_sighting(conn, trail, actor, "indicator--…", SightingType.SEEN)  # doctest: +SKIP
    >>> list_sightings(conn, actor, "indicator--…").totals              # doctest: +SKIP
    {'seen': 1}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, and_, case, func, insert, or_, select

from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, InputError
from steppe.intel.queries import get_stored
from steppe.intel.scoring import DecayConfig, Score, ScoreFacts, current_score
from steppe.sharing.model import Actor, OrgKind, Role
from steppe.storage import timestamps
from steppe.storage.schema import intel_objects, observables, organisations, sightings
from steppe.storage.sql import IN_LIST_CHUNK, in_values

__all__ = [
    "SightingType",
    "SightingView",
    "Sightings",
    "add_sighting",
    "list_sightings",
    "record_sighting",
    "score_facts",
    "scores_for",
    "sighter_shown",
]

#: Roles that may report a sighting (readers only read; sensors report through alerts).
SIGHTING_ROLES = frozenset({Role.ANALYST, Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN})
_MAX_COUNT = 2**31 - 1


class SightingType(StrEnum):
    SEEN = "seen"
    FALSE_POSITIVE = "false-positive"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class SightingView:
    """One sighting as one actor may see it: ``organisation`` is None when withheld."""

    id: int
    type: str
    count: int
    first_seen: str
    last_seen: str
    organisation: str | None
    source: str | None  # only shown with the organisation (an alert id names its owner)
    created_at: str


@dataclass(frozen=True, slots=True)
class Sightings:
    stix_id: str
    owner: str
    items: list[SightingView]
    totals: dict[str, int]


def sighter_shown(actor: Actor, sighting_org_id: int, named: bool) -> bool:
    """May ``actor`` (who may see the object) learn which organisation sighted it?"""
    return sighting_org_id == actor.org_id or named


def add_sighting(
    conn: Connection,
    trail: AuditTrail,
    *,
    object_pk: int,
    org_id: int,
    type: SightingType,
    count: int = 1,
    first_seen: str | None = None,
    last_seen: str | None = None,
    source: str | None = None,
    named: bool = False,
) -> int:
    """Store a sighting of the stored object ``object_pk`` by organisation ``org_id``.

    For machinery (detection, sync) that has already decided the organisation may see
    the object; people go through :func:`record_sighting`. Times are stored timestamps;
    both default to now. Returns the sighting's id.
    """
    if not 1 <= count <= _MAX_COUNT:
        raise InputError(f"must be between 1 and {_MAX_COUNT}, got {count}", field="count")
    now = timestamps.now()
    last = last_seen or first_seen or now
    first = first_seen or last
    if first > last:
        raise InputError("first_seen is after last_seen", field="first_seen")
    row = conn.execute(
        select(intel_objects.c.stix_id, intel_objects.c.owner_org_id).where(
            intel_objects.c.pk == object_pk
        )
    ).one()
    sighting_id: int = conn.execute(
        insert(sightings)
        .values(
            stix_id=row.stix_id,
            owner_org_id=row.owner_org_id,
            object_pk=object_pk,
            org_id=org_id,
            type=type.value,
            count=count,
            first_seen=first,
            last_seen=last,
            source=source,
            named=named,
            created_at=now,
        )
        .returning(sightings.c.id)
    ).scalar_one()
    trail.record(
        conn,
        "intel.sighting",
        f"sighting {sighting_id} of {row.stix_id}",
        {"type": type.value, "count": count, "org_id": org_id, "named": named, "source": source},
    )
    return sighting_id


def record_sighting(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    stix_id: str,
    type: SightingType,
    *,
    count: int = 1,
    first_seen: str | None = None,
    last_seen: str | None = None,
    source: str | None = None,
    named: bool = False,
) -> int:
    """``actor``'s organisation sighted the object ``stix_id`` as the actor sees it.

    An object the actor may not see is answered NotFound, as if it did not exist.
    """
    if not actor.roles & SIGHTING_ROLES:
        raise Forbidden("reporting a sighting needs the analyst, org-admin or coordinator role")
    target = get_stored(conn, actor, stix_id)
    return add_sighting(
        conn,
        trail,
        object_pk=target.pk,
        org_id=actor.org_id,
        type=type,
        count=count,
        first_seen=first_seen,
        last_seen=last_seen,
        source=source,
        named=named,
    )


def list_sightings(conn: Connection, actor: Actor, stix_id: str) -> Sightings:
    """The sightings of ``stix_id`` (the copy ``actor`` sees), as ``actor`` may see them."""
    target = get_stored(conn, actor, stix_id)  # NotFound when not visible
    owner_id = conn.execute(
        select(intel_objects.c.owner_org_id).where(intel_objects.c.pk == target.pk)
    ).scalar_one()
    rows = conn.execute(
        select(sightings, organisations.c.name.label("org_name"))
        .join(organisations, organisations.c.id == sightings.c.org_id)
        .where(sightings.c.stix_id == stix_id, sightings.c.owner_org_id == owner_id)
        .order_by(sightings.c.id)
    ).all()
    items: list[SightingView] = []
    totals: dict[str, int] = {}
    for r in rows:
        shown = sighter_shown(actor, r.org_id, bool(r.named))
        items.append(
            SightingView(
                r.id,
                r.type,
                r._mapping["count"],
                r.first_seen,
                r.last_seen,
                r.org_name if shown else None,
                r.source if shown else None,
                r.created_at,
            )
        )
        totals[r.type] = totals.get(r.type, 0) + r._mapping["count"]
    return Sightings(stix_id, target.owner, items, totals)


def score_facts(conn: Connection, pks: Sequence[int]) -> dict[int, ScoreFacts]:
    """What :func:`~steppe.intel.scoring.current_score` needs, for stored objects, batched.

    Not filtered by the policy: callers pass objects they already read through it, and
    a score says nothing about who sighted what.
    """
    facts: dict[int, ScoreFacts] = {}
    size = IN_LIST_CHUNK.get(conn.dialect.name, 500)
    for start in range(0, len(pks), size):
        facts.update(_facts_chunk(conn, list(pks[start : start + size])))
    return facts


def _facts_chunk(conn: Connection, pks: list[int]) -> dict[int, ScoreFacts]:
    o = intel_objects
    dialect = conn.dialect.name
    objects = conn.execute(
        select(
            o.c.pk,
            o.c.stix_id,
            o.c.owner_org_id,
            o.c.confidence,
            o.c.valid_from,
            o.c.created,
            o.c.modified,
            o.c.valid_until,
            o.c.revoked,
        ).where(in_values(o.c.pk, pks, dialect))
    ).all()
    types: dict[int, list[str]] = {}
    for pk, kind in conn.execute(
        select(observables.c.object_pk, observables.c.type)
        .where(in_values(observables.c.object_pk, pks, dialect))
        .distinct()
    ):
        types.setdefault(pk, []).append(kind)
    keys = {(r.stix_id, r.owner_org_id) for r in objects}
    seen = _aggregates(conn, keys)
    facts: dict[int, ScoreFacts] = {}
    for r in objects:
        last_seen, fps, expired_by = seen.get((r.stix_id, r.owner_org_id), (None, 0, None))
        facts[r.pk] = ScoreFacts(
            confidence=r.confidence,
            start=r.valid_from or r.created or r.modified,
            observable_types=tuple(sorted(types.get(r.pk, ()))),
            valid_until=r.valid_until,
            revoked=bool(r.revoked),
            last_seen=last_seen,
            false_positives=fps,
            expired_by=expired_by,
        )
    return facts


def _aggregates(
    conn: Connection, keys: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], tuple[str | None, int, str | None]]:
    keys = list(keys)
    if not keys:
        return {}
    s = sightings
    # "expired" ends an object only from its producer or the center: one member cannot
    # switch off another's intel for everyone. From others it counts as a false positive.
    authoritative = or_(s.c.org_id == s.c.owner_org_id, organisations.c.kind == OrgKind.COORDINATOR)
    is_expiry = s.c.type == SightingType.EXPIRED.value
    rows = conn.execute(
        select(
            s.c.stix_id,
            s.c.owner_org_id,
            func.max(case((s.c.type == SightingType.SEEN.value, s.c.last_seen))),
            func.sum(
                case(
                    (s.c.type == SightingType.FALSE_POSITIVE.value, s.c.count),
                    (and_(is_expiry, ~authoritative), s.c.count),
                    else_=0,
                )
            ),
            func.max(case((and_(is_expiry, authoritative), organisations.c.name))),
        )
        .join(organisations, organisations.c.id == s.c.org_id)
        .where(in_values(s.c.stix_id, sorted({k[0] for k in keys}), conn.dialect.name))
        .group_by(s.c.stix_id, s.c.owner_org_id)
    ).all()
    wanted = set(keys)
    return {(r[0], r[1]): (r[2], int(r[3] or 0), r[4]) for r in rows if (r[0], r[1]) in wanted}


def scores_for(
    conn: Connection, pks: Sequence[int], now: str | None = None, config: DecayConfig | None = None
) -> dict[int, Score]:
    """Current scores of stored objects (for search and show output, and detection)."""
    moment = now or timestamps.now()
    return {pk: current_score(f, moment, config) for pk, f in score_facts(conn, pks).items()}
