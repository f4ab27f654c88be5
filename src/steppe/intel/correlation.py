"""Correlation, bounded: objects that share an observable value are related.

MISP stores a row per pair of correlating attributes, and one instance's table reached
2.46 billion rows: a value carried by k objects costs k² rows. Here each distinct
(type, value) has one ``correlation_values`` row and at most ``cap`` member rows in
``correlations``; a value that would pass the cap is marked *over-correlating*, loses
its members and is not expanded again (a value in thousands of objects — a CDN address,
a sinkhole — says nothing about any two of them). Pairs are worked out at read time.
So the table holds at most ``cap × distinct values`` rows, whatever the sharing.

On SQLite a value carried by one object only gets no rows at all: it relates nothing,
and most of a list feed's values are such (ipsum's 120,000 addresses: two rows each,
~0.3 s of a 3 s pull). When a second object brings the value, its first carrier is
found in ``observables`` and both become members (:func:`_carriers`). So a value has
rows once it has been shared; a value without rows has at most one current carrier. Not on PostgreSQL: there two transactions importing the same new value at once
would each find no carrier and both leave it without rows, where SQLite's single writer
serialises them; PostgreSQL's ``uq_correlation_values_value`` makes one of them wait.

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, delete, exists, func, select, true, update

from steppe.intel.queries import get_stored
from steppe.sharing.model import Actor
from steppe.sharing.policy import visible_filter
from steppe.storage.bulk import bulk_insert
from steppe.storage.ids import allocate_ids
from steppe.storage.schema import (
    correlation_values,
    correlations,
    intel_objects,
    observables,
    organisations,
)
from steppe.storage.sql import IN_LIST_CHUNK, in_values

__all__ = [
    "CorrelationConfig",
    "CorrelationReport",
    "Related",
    "correlate",
    "correlate_members",
    "correlate_observables",
    "correlation_rows",
    "defers_singletons",
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

    Objects are correlated in the order they were stored (pk order), as importers do: on
    SQLite a value's first carrier joins it when a later object brings the value.

    Call it after inserting objects and their observables, in the same transaction:
    the importer passes its range of new pks; the feeds' fast path its list. Memberships
    already there are skipped, so a second call is harmless.

    Decided in Python from three reads (the observables, the objects already in, the
    values already known) and written in bulk: the set-based SQL this replaced made
    1,000,000 attributes take 130 s on SQLite, mostly random index probes repeated in
    each of its statements.
    """
    cfg = config or CorrelationConfig()
    report = CorrelationReport()
    if isinstance(objects, range):
        if len(objects) and objects.step == 1:
            _correlate(conn, objects[0], objects[-1], None, cfg, report)
        return report
    pks = sorted(set(objects))
    for start in range(0, len(pks), _CHUNK):
        chunk = pks[start : start + _CHUNK]
        _correlate(conn, chunk[0], chunk[-1], set(chunk), cfg, report)
    return report


def _correlate(
    conn: Connection,
    first: int,
    last: int,
    only: set[int] | None,
    cfg: CorrelationConfig,
    report: CorrelationReport,
) -> None:
    o, c, cv, io = observables, correlations, correlation_values, intel_objects
    # Memberships already there, per value: an object may have joined a value as its
    # first carrier (_carriers) before its own call comes.
    done = {
        (pk, kind, value)
        for pk, kind, value in conn.execute(
            select(c.c.object_pk, cv.c.type, cv.c.value)
            .select_from(c.join(cv, cv.c.id == c.c.value_id))
            .where(c.c.object_pk.between(first, last))
        )
    }
    rows = conn.execute(
        select(o.c.object_pk, o.c.type, o.c.value)
        .select_from(o.join(io, io.c.pk == o.c.object_pk))
        .where(
            o.c.object_pk.between(first, last),
            o.c.warninglists.is_(None),
            io.c.is_current.is_(True),
        )
    )
    new_members: dict[tuple[str, str], set[int]] = {}
    exclusions = cfg.exclusions
    for pk, kind, value in rows:
        if (
            (only is not None and pk not in only)
            or (pk, kind, value) in done
            or value in exclusions
        ):
            continue
        new_members.setdefault((kind, value), set()).add(pk)
    _add_members(conn, new_members, cfg, report)


def correlate_members(
    conn: Connection,
    members: dict[tuple[str, str], set[int]],
    config: CorrelationConfig | None = None,
) -> CorrelationReport:
    """Add ``members`` ((type, value) -> pks) to the correlation table, as :func:`correlate`
    would for those pks, without reading back what the caller has just written.

    For a caller that has just inserted the objects (current versions, never correlated)
    and knows their observables: it passes only values on no warninglist. Values in the
    configured exclusions are left out here; the cap applies as in :func:`correlate`.
    The feeds' fast path uses it: reading its own 120,000 rows back was half of
    :func:`correlate`'s time on the ipsum feed.
    """
    cfg = config or CorrelationConfig()
    report = CorrelationReport()
    if cfg.exclusions:
        members = {k: pks for k, pks in members.items() if k[1] not in cfg.exclusions}
    _add_members(conn, members, cfg, report)
    return report


def correlate_observables(
    conn: Connection,
    rows: Iterable[tuple[int, str, str]],
    config: CorrelationConfig | None = None,
    *,
    stored_from: int | None = None,
) -> CorrelationReport:
    """:func:`correlate_members` from (object pk, type, value) rows, as the importer
    holds them: not reading them back saved ~4% of a 500-object TAXII POST
    (docs/benchmarks.md).

    ``stored_from``: the first pk of the block of objects just stored whose observables
    ``rows`` are — all of them on no warninglist, of the current versions. A stored
    object from that pk on then carries a value only as one of its new members, so the
    look-up of earlier carriers (SQLite) need not read those back."""
    members: dict[tuple[str, str], set[int]] = {}
    for pk, kind, value in rows:
        members.setdefault((kind, value), set()).add(pk)
    cfg = config or CorrelationConfig()
    report = CorrelationReport()
    if cfg.exclusions:
        members = {k: pks for k, pks in members.items() if k[1] not in cfg.exclusions}
    _add_members(conn, members, cfg, report, stored_from)
    return report


def _add_members(
    conn: Connection,
    new_members: dict[tuple[str, str], set[int]],
    cfg: CorrelationConfig,
    report: CorrelationReport,
    stored_from: int | None = None,
) -> None:
    """Add ``new_members`` (value -> new object pks) to the values, within the cap
    (``stored_from``: see :func:`correlate_observables`)."""
    if not new_members:
        return
    c, cv = correlations, correlation_values
    known = _known_values(conn, new_members)
    fresh = [key for key in new_members if key not in known]
    if defers_singletons(conn):
        carriers = _carriers(conn, fresh, new_members, stored_from)
        new_members = {**new_members}
        shared = []
        for key in fresh:
            if key in carriers:  # a value once carried alone: its first carrier joins
                new_members[key] = new_members[key] | carriers[key]
            if len(new_members[key]) > 1 or len(new_members[key]) > cfg.cap:
                shared.append(key)
        fresh = shared
    ids = allocate_ids(conn, "correlation_values", len(fresh))
    value_rows: list[tuple[int, str, str, int, int]] = []  # over_cap as 1 / 0 (bulk_insert)
    member_rows: list[tuple[int, int]] = []
    for value_id, key in zip(ids, fresh, strict=True):
        pks = new_members[key]
        over = len(pks) > cfg.cap
        report.over_cap += over
        value_rows.append((value_id, key[0], key[1], len(pks), 1 if over else 0))
        if not over:
            member_rows.extend((value_id, pk) for pk in pks)
    counts: list[dict[str, int]] = []
    going_over: list[int] = []
    for key, (value_id, members, over_cap) in known.items():
        if over_cap:
            continue
        pks = new_members[key]
        total = members + len(pks)
        if total > cfg.cap:
            total = _current_members(conn, value_id) + len(pks)  # old versions leave first
        if total > cfg.cap:
            going_over.append(value_id)
            counts.append({"b_id": value_id, "b_members": total})
        else:
            member_rows.extend((value_id, pk) for pk in pks)
            counts.append({"b_id": value_id, "b_members": total})
    report.new_values += len(value_rows)
    report.new_members += len(member_rows)
    report.over_cap += len(going_over)
    bulk_insert(conn, cv, ("id", "type", "value", "members", "over_cap"), value_rows)
    bulk_insert(conn, c, ("value_id", "object_pk"), member_rows)
    if counts:
        conn.execute(
            update(cv).where(cv.c.id == bindparam("b_id")).values(members=bindparam("b_members")),
            counts,
        )
    for start in range(0, len(going_over), _CHUNK):
        chunk = going_over[start : start + _CHUNK]
        conn.execute(update(cv).where(cv.c.id.in_(chunk)).values(over_cap=true()))
        conn.execute(delete(c).where(c.c.value_id.in_(chunk)))


def defers_singletons(conn: Connection) -> bool:
    """Whether a value carried by one object is left without rows (SQLite: see above)."""
    return conn.dialect.name == "sqlite"


def _carriers(
    conn: Connection,
    keys: Sequence[tuple[str, str]],
    new_members: dict[tuple[str, str], set[int]],
    stored_from: int | None = None,
) -> dict[tuple[str, str], set[int]]:
    """Current objects stored before the new members that carry ``keys`` (values without
    rows): (type, value) -> pks. Not on a warninglist, as :func:`correlate` reads them.

    "Before": a smaller pk. SQLite's writers take turns and take their ids in their
    transaction, so an object already correlated (left alone as a value's only carrier)
    has a smaller pk than any object correlated after it; an object stored but not yet
    correlated (its call comes next) has a larger one and is not taken early.

    With ``stored_from`` the objects from that pk on are left out in the query: the
    caller's new members' own observables, which otherwise all came back only to fail
    the test below (~1 row an imported object; ~6% of a TAXII group import's time).
    """
    o, io = observables, intel_objects
    wanted = set(keys)
    bound = () if stored_from is None else (o.c.object_pk < stored_from,)
    size = IN_LIST_CHUNK.get(conn.dialect.name, 1000)
    distinct = sorted({value for _kind, value in wanted})
    found: dict[tuple[str, str], set[int]] = {}
    for start in range(0, len(distinct), size):
        for pk, kind, value in conn.execute(
            select(o.c.object_pk, o.c.type, o.c.value)
            .select_from(o.join(io, io.c.pk == o.c.object_pk))
            .where(
                in_values(o.c.value, distinct[start : start + size], conn.dialect.name),
                o.c.warninglists.is_(None),
                io.c.is_current.is_(True),
                *bound,
            )
        ):
            key = (kind, value)
            if key in wanted and pk < min(new_members[key]):
                found.setdefault(key, set()).add(pk)
    return found


def _known_values(
    conn: Connection, keys: dict[tuple[str, str], set[int]]
) -> dict[tuple[str, str], tuple[int, int, bool]]:
    """Stored values among ``keys``: (type, value) -> (id, members, over_cap)."""
    cv = correlation_values
    dialect = conn.dialect.name
    size = IN_LIST_CHUNK.get(dialect, 1000)
    distinct = sorted({value for _kind, value in keys})
    known: dict[tuple[str, str], tuple[int, int, bool]] = {}
    for start in range(0, len(distinct), size):
        for r in conn.execute(
            select(cv.c.id, cv.c.type, cv.c.value, cv.c.members, cv.c.over_cap).where(
                in_values(cv.c.value, distinct[start : start + size], dialect)
            )
        ):
            if (r.type, r.value) in keys:
                known[(r.type, r.value)] = (r.id, r.members, bool(r.over_cap))
    return known


def _current_members(conn: Connection, value_id: int) -> int:
    """Members that are still current versions; the others are removed."""
    c, io = correlations, intel_objects
    conn.execute(
        delete(c).where(
            c.c.value_id == value_id,
            c.c.object_pk.in_(
                select(io.c.pk).where(io.c.pk == c.c.object_pk, io.c.is_current.is_(False))
            ),
        )
    )
    return int(
        conn.execute(
            select(func.count()).select_from(c).where(c.c.value_id == value_id)
        ).scalar_one()
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
