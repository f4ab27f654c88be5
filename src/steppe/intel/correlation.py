"""Correlation, bounded: objects that share an observable value are related.

MISP stores a row per pair of correlating attributes, and one instance's table reached
2.46 billion rows: a value carried by k objects costs k² rows. Here each distinct
(type, value) has one ``correlation_values`` row and at most ``cap`` member rows in
``correlations``; a value that would pass the cap is marked *over-correlating*, loses
its members and is not expanded again (a value in thousands of objects — a CDN address,
a sinkhole — says nothing about any two of them). Pairs are worked out at read time.
So the table holds at most ``cap × distinct values`` rows, whatever the sharing.

Not correlated: values on a warninglist (known-benign, they would relate everything),
values in the configured exclusions, and versions that are no longer current.

Reading is the policy's: :func:`related` shows a link only to someone who sees both
objects — the one asked about (:func:`~steppe.intel.queries.get_stored`) and each
related one (:func:`~steppe.sharing.policy.visible_filter`). Links are one hop through
a shared value the actor already sees in the object it asked about, so nothing passes
through an object the actor may not see.

    >>> correlate(conn, range(first_pk, next_pk), CorrelationConfig(cap=50))  # doctest: +SKIP
    >>> related(conn, actor, "indicator--…")                                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    true,
    update,
)

from steppe.intel.queries import get_stored
from steppe.sharing.model import Actor
from steppe.sharing.policy import visible_filter
from steppe.storage.schema import (
    correlation_values,
    correlations,
    intel_objects,
    observables,
    organisations,
)

__all__ = [
    "CorrelationConfig",
    "CorrelationReport",
    "Related",
    "correlate",
    "correlation_rows",
    "over_correlating",
    "related",
]

_CHUNK = 1000  # object pks per IN (...) when they are not one range


@dataclass(frozen=True, slots=True)
class CorrelationConfig:
    cap: int = 50  # member objects per value; over it the value is over-correlating
    exclusions: frozenset[str] = frozenset()  # canonical values never correlated


@dataclass(slots=True)
class CorrelationReport:
    new_values: int = 0
    new_members: int = 0
    over_cap: int = 0  # values that went over the cap in this call


@dataclass(frozen=True, slots=True)
class Related:
    """An object related to the one asked about, and the values they share."""

    stix_id: str
    type: str
    name: str | None
    owner: str
    tlp: str
    shared: list[tuple[str, str]] = field(default_factory=list)  # (type, value)


def correlate(
    conn: Connection, objects: range | Sequence[int], config: CorrelationConfig | None = None
) -> CorrelationReport:
    """Add the observables of stored ``objects`` (pks) to the correlation table.

    Call it after inserting objects and their observables, in the same transaction:
    the importer passes its range of new pks; the feeds' fast path its list. Runs in
    set-based SQL (four statements per range or 1,000-pk chunk), enforcing the cap.
    """
    cfg = config or CorrelationConfig()
    report = CorrelationReport()
    if isinstance(objects, range):
        if len(objects) and objects.step == 1:
            _correlate(conn, observables.c.object_pk.between(objects[0], objects[-1]), cfg, report)
        return report
    pks = sorted(set(objects))
    for start in range(0, len(pks), _CHUNK):
        _correlate(conn, observables.c.object_pk.in_(pks[start : start + _CHUNK]), cfg, report)
    return report


def _correlate(
    conn: Connection, chosen: ColumnElement[bool], cfg: CorrelationConfig, report: CorrelationReport
) -> None:
    o, cv, c, io = observables, correlation_values, correlations, intel_objects
    candidates = [
        chosen,
        o.c.warninglists.is_(None),
        exists(select(1).where(io.c.pk == o.c.object_pk, io.c.is_current.is_(True))),
    ]
    if cfg.exclusions:
        candidates.append(o.c.value.not_in(sorted(cfg.exclusions)))
    same_value = and_(cv.c.value == o.c.value, cv.c.type == o.c.type)
    new_values = (
        select(o.c.type, o.c.value, literal(0), false())
        .where(*candidates, ~exists(select(1).where(same_value)))
        .distinct()
    )
    report.new_values += conn.execute(
        insert(cv).from_select(["type", "value", "members", "over_cap"], new_values)
    ).rowcount
    new_members = (
        select(cv.c.id, o.c.object_pk)
        .select_from(o.join(cv, same_value))
        .where(
            *candidates,
            cv.c.over_cap.is_(False),
            ~exists(select(1).where(c.c.value_id == cv.c.id, c.c.object_pk == o.c.object_pk)),
        )
        .distinct()
    )
    report.new_members += conn.execute(
        insert(c).from_select(["value_id", "object_pk"], new_members)
    ).rowcount
    touched = select(cv.c.id).select_from(o.join(cv, same_value)).where(chosen)
    # Members replaced by a newer version leave, so re-imports do not fill the cap.
    conn.execute(
        delete(c).where(
            c.c.value_id.in_(touched),
            c.c.object_pk.in_(select(io.c.pk).where(io.c.is_current.is_(False))),
        )
    )
    counted = select(func.count()).where(c.c.value_id == cv.c.id).scalar_subquery()
    conn.execute(
        update(cv).where(cv.c.id.in_(touched), cv.c.over_cap.is_(False)).values(members=counted)
    )
    report.over_cap += conn.execute(
        update(cv)
        .where(cv.c.id.in_(touched), cv.c.over_cap.is_(False), cv.c.members > cfg.cap)
        .values(over_cap=true())
    ).rowcount
    conn.execute(
        delete(c).where(
            c.c.value_id.in_(touched),
            c.c.value_id.in_(select(cv.c.id).where(cv.c.over_cap.is_(True))),
        )
    )


def related(
    conn: Connection,
    actor: Actor,
    stix_id: str,
    *,
    exclusions: frozenset[str] = frozenset(),
    limit: int = 1000,
) -> list[Related]:
    """Objects sharing a value with ``stix_id`` that ``actor`` may see, newest first.

    NotFound when ``actor`` may not see ``stix_id`` itself. ``exclusions`` apply at read
    time too, so a newly excluded value stops relating objects at once.
    """
    target = get_stored(conn, actor, stix_id)
    mine, theirs = correlations.alias("mine"), correlations.alias("theirs")
    cv = correlation_values
    other = intel_objects.alias("other")
    query = (
        select(
            other.c.pk,
            other.c.stix_id,
            other.c.type,
            other.c.name,
            organisations.c.name.label("owner"),
            other.c.tlp,
            other.c.modified,
            cv.c.type.label("value_type"),
            cv.c.value,
        )
        .select_from(
            mine.join(cv, cv.c.id == mine.c.value_id)
            .join(theirs, theirs.c.value_id == mine.c.value_id)
            .join(other, other.c.pk == theirs.c.object_pk)
            .join(organisations, organisations.c.id == other.c.owner_org_id)
        )
        .where(
            mine.c.object_pk == target.pk,
            theirs.c.object_pk != target.pk,
            cv.c.over_cap.is_(False),
            other.c.is_current.is_(True),
            visible_filter(actor, other),
        )
        .order_by(other.c.modified.desc(), other.c.pk, cv.c.type, cv.c.value)
    )
    if exclusions:
        query = query.where(cv.c.value.not_in(sorted(exclusions)))
    found: dict[int, Related] = {}
    for r in conn.execute(query):
        item = found.get(r.pk)
        if item is None:
            if len(found) >= limit:
                continue
            item = found[r.pk] = Related(r.stix_id, r.type, r.name, r.owner, r.tlp)
        item.shared.append((r.value_type, r.value))
    return list(found.values())


def correlation_rows(conn: Connection) -> int:
    """Member rows in the correlation table (what the cap bounds)."""
    return int(conn.execute(select(func.count()).select_from(correlations)).scalar_one())


def over_correlating(conn: Connection, actor: Actor, limit: int = 100) -> list[tuple[str, str]]:
    """Values over the cap that ``actor`` sees in at least one object: (type, value).

    Derived data never widens its sources: a value only in intel the actor may not see
    is not shown, and how many objects carry it (which would count invisible ones) is
    not shown either.
    """
    cv, o = correlation_values, observables
    carrier = intel_objects.alias("carrier")
    seen_by_actor = exists(
        select(1)
        .select_from(o.join(carrier, carrier.c.pk == o.c.object_pk))
        .where(
            o.c.value == cv.c.value,
            o.c.type == cv.c.type,
            carrier.c.is_current.is_(True),
            visible_filter(actor, carrier),
        )
    )
    rows = conn.execute(
        select(cv.c.type, cv.c.value)
        .where(cv.c.over_cap.is_(True), seen_by_actor)
        .order_by(cv.c.type, cv.c.value)
        .limit(limit)
    )
    return [(r.type, r.value) for r in rows]
