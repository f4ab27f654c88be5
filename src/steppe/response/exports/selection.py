"""Which indicator values an export holds, streamed in a stable order.

An export for an actor holds the observables of indicators that are

- visible to the actor (:func:`steppe.sharing.policy.visible_filter`, the one place of
  access control),
- active as the IOC matcher defines it (:mod:`steppe.detection.ioc.loading`): the
  current version, matchable, not revoked, ``valid_until`` not passed, not expired by
  decay or an ``expired`` sighting (:func:`steppe.intel.sightings.scores_for`),
- not on a warninglist (unless ``include_warninglisted``),
- marked at most ``max_tlp`` — TLP:AMBER by default: a firewall or resolver is run by
  people and vendors outside the analyst's hands, so AMBER+STRICT (the recipient's
  organisation only) and RED (named people only) stay out unless asked for,
- of the chosen observable types, with the optional confidence, score and blocklist
  filters.

Rows come from one cursor ordered by (type, value, indicator id) — server-side on
PostgreSQL; on SQLite a lazily stepped one, with the sort bounded by a 16 MiB page
cache — fetched ``chunk`` rows at a time, so memory does not grow with the store; a
value carried by several indicators is exported once (the first in that order).

    >>> for entry in iter_entries(conn, actor, ExportOptions()):   # doctest: +SKIP
    ...     print(entry.type, entry.value)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    func,
    or_,
    select,
)

from steppe.errors import InputError
from steppe.intel.scoring import DecayConfig, DecayParameters, polynomial
from steppe.intel.sightings import scores_for
from steppe.response.blocklists import find_blocklist
from steppe.sharing.model import Actor, TlpLevel
from steppe.sharing.policy import require_reader, visible_filter
from steppe.storage import timestamps
from steppe.storage.schema import (
    blocklist_entries,
    intel_objects,
    observables,
    organisations,
    sightings,
)

__all__ = [
    "EXPORTABLE_TYPES",
    "TLP_ORDER",
    "ExportEntry",
    "ExportOptions",
    "entries_of",
    "iter_entries",
    "still_exported",
]

#: Observable types an enforcement export can carry, in export order.
EXPORTABLE_TYPES = (
    "cidr",
    "domain",
    "email",
    "ipv4",
    "ipv6",
    "md5",
    "sha1",
    "sha256",
    "url",
)
TLP_ORDER = (TlpLevel.CLEAR, TlpLevel.GREEN, TlpLevel.AMBER, TlpLevel.AMBER_STRICT, TlpLevel.RED)
_CHUNK = 20_000
#: The SQLite page cache (KiB) while an export's rows are read: it also bounds the sort.
_SORT_CACHE_KIB = 16_384


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What to export. ``types`` empty means every exportable type."""

    max_tlp: TlpLevel = TlpLevel.AMBER
    types: tuple[str, ...] = ()
    min_confidence: int | None = None
    min_score: float | None = None
    blocklist: str | None = None
    include_warninglisted: bool = False
    decay: DecayConfig | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.types) - set(EXPORTABLE_TYPES))
        if unknown:
            raise InputError(
                f"cannot export observable type {unknown[0]!r}; "
                f"choose from {', '.join(EXPORTABLE_TYPES)}",
                field="types",
            )
        if self.min_confidence is not None and not 0 <= self.min_confidence <= 100:
            raise InputError("must be 0 to 100", field="min_confidence")
        if self.min_score is not None and not 0 <= self.min_score <= 100:
            raise InputError("must be 0 to 100", field="min_score")

    @property
    def levels(self) -> list[str]:
        """TLP values allowed by the ceiling."""
        return [t.value for t in TLP_ORDER[: TLP_ORDER.index(self.max_tlp) + 1]]

    @property
    def wanted_types(self) -> list[str]:
        return sorted(self.types) if self.types else list(EXPORTABLE_TYPES)

    def fingerprint(self) -> str:
        """What changes an export's content, for cursors (not the decay model)."""
        return "|".join(
            [
                self.max_tlp.value,
                ",".join(self.wanted_types),
                str(self.min_confidence),
                str(self.min_score),
                self.blocklist or "",
                str(self.include_warninglisted),
            ]
        )


class ExportEntry(NamedTuple):
    """One value to enforce, and the indicator it comes from."""

    type: str
    value: str
    stix_id: str
    observable_id: int  # stable while the indicator's version is: the base of rule SIDs
    tlp: str
    confidence: int | None
    score: float | None
    name: str | None
    valid_until: str | None
    owner: str  # the producing organisation's name
    created: str | None = None
    modified: str | None = None


def _query(
    actor: Actor,
    options: ExportOptions,
    now: str,
    blocklist_id: int | None,
    *,
    at: str | None = None,
    several_in_sql: bool = True,
    times: bool = True,
) -> Select[Any]:
    """The selection as SQL. ``at`` (a past moment) selects the versions that were the
    newest stored at that moment instead of the current ones, for incremental exports.

    Row layout (:func:`_scored` and :func:`_entry` read it by position): type, value,
    stix_id, observable id, tlp, confidence, name, valid_until, owner organisation id,
    pk, the decay start (valid_from, else created, else modified), ``exact``, and with
    ``times`` created and modified. ``exact`` says the indicator has sightings — and,
    with ``several_in_sql``, observables of another type; without it the caller asks
    :func:`_several_types` once instead of once per row."""
    o, v = intel_objects, observables
    moment = at or now
    conditions: list[ColumnElement[bool]] = [
        o.c.type == "indicator",
        o.c.revoked.is_(False),
        or_(o.c.valid_until.is_(None), o.c.valid_until > moment),
        o.c.tlp.in_(options.levels),
        v.c.type.in_(options.wanted_types),
        visible_filter(actor, o),
    ]
    if at is None:
        conditions.append(o.c.is_current.is_(True))
    if options.include_warninglisted:
        conditions.append(or_(o.c.matchable.is_(True), o.c.pattern_note.like("%warninglist%")))
    else:
        conditions += [o.c.matchable.is_(True), v.c.warninglists.is_(None)]
    if options.min_confidence is not None:
        conditions.append(o.c.confidence >= options.min_confidence)
    if blocklist_id is not None:
        e = blocklist_entries
        listed = [e.c.blocklist_id == blocklist_id, e.c.stix_id == o.c.stix_id]
        if at is None:
            listed.append(e.c.removed_at.is_(None))
        else:
            listed += [e.c.added_at <= at, or_(e.c.removed_at.is_(None), e.c.removed_at > at)]
        conditions.append(select(e.c.id).where(*listed).exists())
    # Whether the indicator's score depends on more than its row — observables of
    # another type, or sightings — asked here, per row, by SQLite's indexes: two extra
    # queries per chunk for the same answer were ~3 µs a value (bench/exports.py).
    sighted = select(sightings.c.id).where(sightings.c.stix_id == o.c.stix_id).exists()
    exact: ColumnElement[bool] = sighted
    if several_in_sql:
        other = observables.alias("other")
        several = select(other.c.id).where(other.c.object_pk == o.c.pk, other.c.type != v.c.type)
        exact = or_(several.exists(), sighted)
    # The owner is named from a dictionary, and only the STIX bundle needs created and
    # modified: every column left out of the sort's records is less for SQLite to sort
    # and spill (1,000,000 indicators: ~0.7 s of CPU less, bench/exports.py).
    extra = [o.c.created, o.c.modified] if times else []
    return (
        select(
            v.c.type,
            v.c.value,
            o.c.stix_id,
            v.c.id,
            o.c.tlp,
            o.c.confidence,
            o.c.name,
            o.c.valid_until,
            o.c.owner_org_id,
            o.c.pk,
            func.coalesce(o.c.valid_from, o.c.created, o.c.modified),
            exact.label("exact"),
            *extra,
        )
        .select_from(o.join(v, v.c.object_pk == o.c.pk))
        .where(and_(*conditions))
        .order_by(v.c.type, v.c.value, o.c.stix_id, v.c.id)
    )


def _several_types(conn: Connection, pks: Sequence[int] | None = None) -> set[int]:
    """The indicators (pk) with observables of more than one type — those whose score
    :func:`_scored` must ask :func:`~steppe.intel.sightings.scores_for` for. One self-join
    of ``observables`` (0.24 s at 1,000,000) instead of a look-up per exported row; few
    indicators qualify (patterns that OR values of different types), so the set is small."""
    a, b = observables.alias("a"), observables.alias("b")
    query = (
        select(a.c.object_pk)
        .join(b, and_(b.c.object_pk == a.c.object_pk, b.c.id > a.c.id, b.c.type != a.c.type))
        .distinct()
    )
    if pks is not None:
        query = query.where(a.c.object_pk.in_(list(pks)))
    return set(conn.scalars(query))


def _owner_names(conn: Connection) -> dict[int, str]:
    return {
        int(pk): str(name)
        for pk, name in conn.execute(select(organisations.c.id, organisations.c.name))
    }


def blocklist_id_of(conn: Connection, actor: Actor, name: str | None) -> int | None:
    """The id of the actor's organisation's blocklist ``name`` (NotFound if it has none)."""
    if name is None:
        return None
    return find_blocklist(conn, actor, name).id


def iter_entries(
    conn: Connection,
    actor: Actor,
    options: ExportOptions,
    now: str,
    *,
    chunk: int = _CHUNK,
    times: bool = True,
) -> Iterator[ExportEntry]:
    """Every value to export, once each, in (type, value) order, streamed. Without
    ``times`` the entries' ``created`` and ``modified`` are None (not read)."""
    require_reader(actor)
    blocklist_id = blocklist_id_of(conn, actor, options.blocklist)
    query = _query(actor, options, now, blocklist_id, several_in_sql=False, times=times)
    several = _several_types(conn)
    owners = _owner_names(conn)
    batches: Iterator[Sequence[Any]]
    if conn.dialect.name == "sqlite":
        # Plain DB-API tuples instead of SQLAlchemy Rows: the sqlite3 cursor already
        # steps lazily (nothing is fetched before fetchmany, so memory stays flat), and
        # the Row wrapping was ~0.15 s per 100,000 values (bench/exports.py). Every
        # column here is a plain type (no result processor), so the tuples are the same.
        # SQLite sorts the rows for the ORDER BY in memory up to the page cache's size
        # (64 MiB on Steppe's engine) before spilling to temporary files, so the peak
        # grew with the store until that bound: 161 -> 240 MB from 100,000 to 1,000,000
        # indicators. With 16 MiB for the export's statement it is flat (84 -> 86 MB for
        # the query alone) and no slower; the connection gets its cache back after.
        prior_cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        conn.exec_driver_sql(f"PRAGMA cache_size=-{_SORT_CACHE_KIB}")
        restore: str | None = f"PRAGMA cache_size={int(prior_cache)}"
        result = conn.execute(query)
        fetch = result.cursor.fetchmany
        batches = iter(lambda: fetch(chunk), [])
    else:
        # PostgreSQL needs a server-side cursor not to load everything at once.
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
        batches = result.partitions()
        restore = None
    last_type = last_value = None
    memo: _Memo = {}
    try:
        for rows in batches:
            for entry in _scored(conn, rows, options, now, owners, memo, several):
                if entry[1] != last_value or entry[0] != last_type:
                    last_type, last_value = entry[0], entry[1]
                    yield entry
    finally:
        result.close()
        if restore is not None and not conn.closed:
            conn.exec_driver_sql(restore)


def entries_of(
    conn: Connection,
    actor: Actor,
    options: ExportOptions,
    now: str,
    pks: Sequence[int],
    *,
    at: str | None = None,
) -> list[ExportEntry]:
    """The entries the versions ``pks`` give (as of ``at`` when given, else now): the
    building block of incremental exports. Scores are judged at ``now`` only when
    ``at`` is None; a past selection ignores decay (see :mod:`.incremental`)."""
    blocklist_id = blocklist_id_of(conn, actor, options.blocklist)
    owners = _owner_names(conn)
    found: list[ExportEntry] = []
    for start in range(0, len(pks), _CHUNK):
        part = list(pks[start : start + _CHUNK])
        query = _query(actor, options, now, blocklist_id, at=at).where(intel_objects.c.pk.in_(part))
        rows = conn.execute(query).all()
        if at is None:
            found.extend(_scored(conn, rows, options, now, owners))
        else:
            found.extend(_entry(row, None, owners) for row in rows)
    return found


def still_exported(
    conn: Connection,
    actor: Actor,
    options: ExportOptions,
    now: str,
    values: Iterable[tuple[str, str]],
) -> set[tuple[str, str]]:
    """Which of ``values`` (type, value) some active indicator still exports now."""
    wanted = sorted(set(values))
    blocklist_id = blocklist_id_of(conn, actor, options.blocklist)
    kept: set[tuple[str, str]] = set()
    owners = _owner_names(conn)
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        query = _query(actor, options, now, blocklist_id).where(
            observables.c.value.in_(sorted({v for _, v in part}))
        )
        rows = conn.execute(query).all()
        kept.update((e.type, e.value) for e in _scored(conn, rows, options, now, owners))
    return kept & set(wanted)


#: Rounded plain score (None: expired or under ``min_score``) by (start, observable type,
#: confidence) for one export.
_Memo = dict[tuple[str, str, int | None], float | None]
#: Entries the memo keeps before it starts over: memory stays flat however big the store.
_MEMO_LIMIT = 65_536


def _scored(
    conn: Connection,
    rows: Sequence[Any],
    options: ExportOptions,
    now: str,
    owners: dict[int, str],
    memo: _Memo | None = None,
    several: set[int] | None = None,
) -> list[ExportEntry]:
    """Drop rows whose indicator has expired (decay, an ``expired`` sighting) or scores
    under ``min_score``.

    Indicators with sightings or with observables of several types (the row's
    ``exact`` column, or ``several`` when the query left that out) are scored by
    :func:`steppe.intel.sightings.scores_for`, as detection scores them. The others —
    nearly all, in feeds — have nothing to their score but their row, and are scored
    here with the same model (:func:`_plain_score`; ``tests/response/exports/
    test_selection.py`` checks both agree): calling ``scores_for`` on every row was 75%
    of an export's time (bench/exports.py), ~100 s per million indicators.

    A plain score depends only on (start, type, confidence), and feeds give whole
    batches one start time, so ``memo`` (kept across the chunks of one export) scores
    each combination once.
    """
    if not rows:
        return []
    if several:
        exact = {row[9] for row in rows if row[11] or row[9] in several}
    else:
        exact = {row[9] for row in rows if row[11]}
    scores = scores_for(conn, sorted(exact), now, options.decay) if exact else {}
    model = options.decay or DecayConfig()
    moment = timestamps.parse(now)
    params = {kind: model.parameters((kind,)) for kind in EXPORTABLE_TYPES}
    min_score = options.min_score
    plain: _Memo = {} if memo is None else memo
    if len(plain) > _MEMO_LIMIT:
        plain.clear()
    new = tuple.__new__  # an ExportEntry without NamedTuple's keyword handling, per row
    kept: list[ExportEntry] = []
    keep = kept.append
    for row in rows:
        pk = row[9]
        if pk in exact:
            found = scores.get(pk)
            if found is None or found.expired:
                continue
            raw = found.score
            if min_score is not None and raw < min_score:
                continue
            value: float | None = round(raw, 1)
        else:
            key = (row[10], row[0], row[5])
            if key in plain:
                value = plain[key]
            else:
                elapsed = (moment - timestamps.parse(key[0])).total_seconds()
                score = _plain_score(model, params[key[1]], key[2], elapsed)
                if score is not None and min_score is not None and score < min_score:
                    score = None
                value = plain[key] = None if score is None else round(score, 1)
            if value is None:
                continue
        times = row[12:14] or (None, None)
        keep(new(ExportEntry, (*row[:6], value, row[6], row[7], owners[row[8]], *times)))
    return kept


def _plain_score(
    model: DecayConfig, params: DecayParameters, confidence: int | None, elapsed: float
) -> float | None:
    """The decay score of an indicator with one observable type and no sightings, that
    is neither revoked nor past ``valid_until`` (the SQL filtered those); None when it
    has expired. :func:`steppe.intel.scoring.current_score` for that case."""
    base = float(confidence) if confidence is not None else model.default_base
    score = base if elapsed < 0 else polynomial(base, elapsed, params.lifetime_days, params.speed)
    return None if score < model.threshold else score


def _entry(row: Any, score: float | None, owners: dict[int, str]) -> ExportEntry:
    kind, value, stix_id, obs_id, tlp, confidence, name, valid_until, owner_id = row[:9]
    created, modified = row[12:14] or (None, None)
    return ExportEntry(
        kind,
        value,
        stix_id,
        obs_id,
        tlp,
        confidence,
        score,
        name,
        valid_until,
        owners[owner_id],
        created,
        modified,
    )
