"""The fast path for list feeds: entries straight to indicator rows, with provenance.

A list feed (ipsum, signature-base, a CSV of values) brings values that its reader has
already canonicalised. Each becomes a current STIX 2.1 indicator owned by the feed's
owner, with a deterministic id (uuid5 of feed, type and value), built here directly as
rows — ``intel_objects``, ``observables`` and ``feed_entries`` (which feed said it: the
version holds its confidence, first seen and expiry) — without the per-object checks of
:func:`steppe.intel.importer.import_objects`, which would re-parse what we just wrote.
An indicator's body is not stored: it is made of the row's columns, so the row keeps
only the entry's type, value and comment (:func:`steppe.intel.bodies.feed_marker`) and
readers render the STIX object from them (:mod:`steppe.intel.bodies`).
tests/intel/test_feed_ingest.py checks that the rendered bodies are valid STIX
(stix2-validator), equal to the bodies stored before, and that their patterns give back
the observables stored.

Versions go in batches: this thread builds a batch's tuples (what varies per version:
type, value, confidence, times, id, body marker, warninglist names) while a writer
thread writes the batch before and correlates it. On PostgreSQL each table's rows are
built in Python and ``COPY``-ed; on SQLite the tuples go to a temporary table and each
table's rows, and the correlation of values the store does not know yet, are made by
``INSERT … SELECT`` (a hypothesis test checks that both give the same store).

A re-pull compares with the feed's stored entries:

- unchanged (same confidence): nothing is written — their ``last_seen`` is the feed's
  latest pull (``feeds.last_version_at``) for as long as they are listed; rewriting
  120,000 rows for it took ~4 s on PostgreSQL (MVCC writes each row anew);
- changed confidence, or back after expiring: a new version of the indicator;
- gone from the feed: a new version with ``valid_until`` = now (expired); history stays.

    >>> indicator_id(7, "ipv4", "198.51.100.7") == indicator_id(7, "ipv4", "198.51.100.7")
    True
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from datetime import timedelta
from itertools import chain, islice, pairwise
from typing import Any, NamedTuple, Protocol

import orjson
from sqlalchemy import Column, Connection, Integer, MetaData, Select, Table, Text, select, text

from steppe.audit.trail import AuditTrail
from steppe.intel.bodies import feed_marker, pattern_of, stix_time
from steppe.intel.config import IntelConfig
from steppe.intel.correlation import CorrelationConfig, CorrelationReport, correlate_members
from steppe.intel.feeds import Feed, delete_feed_row
from steppe.intel.importer import OBJECT_COLUMNS, OBSERVABLE_COLUMNS
from steppe.intel.observables import ObservableType
from steppe.intel.warninglists import WarninglistIndex
from steppe.storage import timestamps
from steppe.storage.bulk import SQLITE_MAX_PARAMS, BackgroundWriter, bulk_insert
from steppe.storage.ids import allocate_ids
from steppe.storage.schema import feed_entries, intel_objects, object_groups, observables

__all__ = [
    "Entry",
    "FeedEntry",
    "IngestStats",
    "indicator_id",
    "ingest_entries",
    "pattern_of",
    "remove_feed",
    "revoke_feed_objects",
    "version_stamp",
]

#: Namespace of feed indicator ids: uuid5(NS, "<feed id>:<type>:<value>").
FEED_NAMESPACE = uuid.UUID("8f0d3c6e-2b1a-4e57-9c4d-6a1f7e2b9d30")
_NS_BYTES = FEED_NAMESPACE.bytes


class Entry(Protocol):
    """What the fast path reads of an entry: :class:`steppe.ingest.intel.FeedEntry` has
    it (the readers' type; this module cannot import it, being below them)."""

    @property
    def type(self) -> ObservableType: ...
    @property
    def value(self) -> str: ...  # canonical already (the reader's job)
    @property
    def confidence(self) -> int | None: ...
    @property
    def comment(self) -> str | None: ...


class FeedEntry(NamedTuple):
    """The smallest :class:`Entry`, for callers that build entries themselves."""

    type: ObservableType
    value: str
    confidence: int | None = None
    comment: str | None = None
    line: int | None = None


@dataclass(slots=True)
class IngestStats:
    """What one pull did. ``entries`` counts distinct values in the pull."""

    entries: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    expired: int = 0
    bad_rows: int = 0
    warninglisted: int = 0  # indicators stored not matchable: the value is on a warninglist
    correlated: int = 0  # new correlation memberships
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def indicator_id(feed_id: int, kind: str, value: str) -> str:
    """``indicator--<uuid5>`` of a feed entry; equal to ``uuid.uuid5`` (a test checks).

    Written out because ``uuid.uuid5`` builds a UUID object per call: ~4.4 µs, a
    quarter of the per-entry budget. From the hex digest, the version nibble replaced and
    the variant's two bits set by a table: 1.46 µs against 1.89 µs through a bytearray.
    """
    return _id_of_digest(_digest(feed_id, kind, value))


def _digest(feed_id: int, kind: str, value: str) -> bytes:
    """The SHA-1 of a feed entry's uuid5 name; sorting by it sorts by the id (but for
    digests equal in their first six bytes, where the version nibble goes)."""
    return hashlib.sha1(_NS_BYTES + f"{feed_id}:{kind}:{value}".encode()).digest()


def _id_of_digest(digest: bytes) -> str:
    h = digest.hex()
    return f"indicator--{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


#: The RFC 4122 variant (the two high bits of byte 8 are 10) applied to its hex digit.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


#: What may vary between the versions of a batch (:class:`_Versions`); the stage's columns.
_VERSION_COLUMNS = (
    "type",
    "value",
    "confidence",
    "first_seen",
    "valid_until",
    "stix_id",
    "body",
    "warninglists",
)
#: What varies between new entries' versions: first seen now, not expired, no comment —
#: the rest of the stage's row (NULL) is made in SQL. Binding is done under the GIL while
#: the caller waits (:func:`ingest_entries`): 5 parameters a version instead of 8.
_FRESH_COLUMNS = ("type", "value", "confidence", "stix_id", "warninglists")
# ``n`` is the version's place in its batch, from 1: the rowid SQLite gives each row it
# inserts into the emptied stage, in order (pk = n + the batch's first pk - 1).
_STAGE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS feed_versions (n INTEGER PRIMARY KEY, type TEXT,"
    " value TEXT, confidence INTEGER, first_seen TEXT, valid_until TEXT, stix_id TEXT,"
    " body TEXT, warninglists TEXT)"
)
#: The note of an indicator whose value is on warninglists (names "\n"-separated), as
#: :func:`_note` writes it.
_NOTE_SQL = "substr('on a warninglist: ' || replace(warninglists, char(10), '; '), 1, 2000)"
#: The body marker of a version without a comment, as :func:`feed_marker` writes it
#: (SQLite's JSON escapes as orjson does; a test compares the two).
_MARKER_SQL = "json_array(type, value)"

#: What a batch's rows are made with besides its versions; a row in it makes them.
_BATCHES_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS feed_batches (base INTEGER, obs_offset INTEGER,"
    " stamp TEXT, owner INTEGER, distribution TEXT, tlp TEXT, revoked INTEGER, prefix TEXT,"
    " imported_at TEXT, feed INTEGER, first_changed INTEGER)"
)
#: The rows of the staged batch, made when its ``feed_batches`` row goes in (a TEMP
#: trigger may write the main database's tables; its names are looked up temp first).
_BATCH_TRIGGER = (
    "CREATE TEMP TRIGGER IF NOT EXISTS feed_batch_rows AFTER INSERT ON feed_batches BEGIN"
    f" INSERT INTO intel_objects ({', '.join(OBJECT_COLUMNS)})"
    " SELECT n + NEW.base, stix_id, 'indicator', coalesce(first_seen, NEW.stamp), NEW.stamp,"
    " NEW.owner, NEW.distribution, NEW.tlp, confidence, coalesce(first_seen, NEW.stamp),"
    f" valid_until, NEW.revoked, 1, warninglists IS NULL, {_NOTE_SQL}, NEW.prefix || value,"
    f" NEW.imported_at, coalesce(body, {_MARKER_SQL}) FROM feed_versions;"
    f" INSERT INTO observables ({', '.join(OBSERVABLE_COLUMNS)})"
    " SELECT n + NEW.base + NEW.obs_offset, n + NEW.base, type, value, warninglists"
    " FROM feed_versions;"
    " INSERT INTO feed_entries (object_pk, feed_id) SELECT n + NEW.base, NEW.feed"
    " FROM feed_versions WHERE n + NEW.base < NEW.first_changed;"
    " END"
)

#: Versions per batch handed to the writer thread: two full multi-row ``INSERT``s of
#: new entries into the SQLite stage (6,553 rows each). Each statement the writer runs
#: gives the GIL back and waits up to the switch interval (5 ms) to take it again while
#: this thread builds the next batch: 10,000 versions a batch took 7 stage statements
#: (three full ones and a remainder in powers of two), and ipsum's writer waited 0.4 s
#: of its 1.3 s for it.
BATCH_SIZE = 2 * (SQLITE_MAX_PARAMS // len(_FRESH_COLUMNS))
#: The first batch: one stage statement (see ``starts`` in :func:`ingest_entries`) of a
#: size :func:`~steppe.storage.bulk.bulk_insert` makes in one.
FIRST_BATCH_SIZE = 4096

#: SQLite writes a batch through the stage (:func:`_insert_staged`); False makes it take
#: the row-by-row path PostgreSQL takes (tests compare the two).
STAGED_SQLITE = True

_ENTRY_COLUMNS = ("object_pk", "feed_id")


class _Stored(NamedTuple):
    object_pk: int
    confidence: int | None
    first_seen: str
    expired: bool


def version_stamp(feed: Feed) -> str:
    """``modified`` for the versions one pull writes: now, in milliseconds, and always
    after the feed's previous versions (two pulls in one millisecond stay distinct)."""
    stamp = timestamps.normalise(stix_time(timestamps.now()))
    if feed.last_version_at is not None and stamp <= feed.last_version_at:
        later = timestamps.parse(feed.last_version_at) + timedelta(milliseconds=1)
        stamp = timestamps.normalise(stix_time(timestamps.format_ts(later)))
    return stamp


def ingest_entries(
    conn: Connection,
    feed: Feed,
    entries: Iterable[Entry],
    *,
    stamp: str,
    complete: bool = True,
    config: IntelConfig | None = None,
) -> IngestStats:
    """Store one pull's ``entries`` for ``feed`` inside the caller's transaction.

    ``stamp`` is the pull's version time (:func:`version_stamp`). With ``complete``
    (the pull is the whole feed), stored entries missing from it expire. As the
    importer does (``config``, default :class:`IntelConfig`), values on a MISP
    warninglist are flagged and their indicators stored not matchable, and the new
    versions are correlated.
    """
    cfg = config or IntelConfig()
    stats = IngestStats()
    stored = _stored_entries(conn, feed.id)
    pulled: dict[tuple[str, str], Entry] = {}
    for entry in entries:
        # ``_value_``, the enum's plain attribute: its ``.value`` is a Python-level
        # property, 0.25 of the loop's 0.3 µs an entry (ipsum's dedup 0.12 -> 0.035 s).
        key = (entry.type._value_, entry.value)
        seen = pulled.get(key)
        # A value listed twice keeps its highest confidence.
        if seen is None or (entry.confidence or 0) > (seen.confidence or 0):
            pulled[key] = entry
    stats.entries = len(pulled)

    # Entries go on with their key: the type's name is read once per entry, above.
    fresh: list[tuple[tuple[str, str], Entry]] = []
    changed: list[tuple[tuple[str, str], Entry, _Stored]] = []
    if not stored:  # the feed's first pull: all new (ipsum: 0.02 s less than the loop)
        fresh = list(pulled.items())
    else:
        for key, entry in pulled.items():
            old = stored.get(key)
            if old is None:
                fresh.append((key, entry))
            elif old.expired or old.confidence != entry.confidence:
                changed.append((key, entry, old))
    gone: list[tuple[tuple[str, str], _Stored]] = []
    if complete:
        gone = [(k, s) for k, s in stored.items() if not s.expired and k not in pulled]
    stats.new, stats.updated, stats.expired = len(fresh), len(changed), len(gone)
    stats.unchanged = stats.entries - stats.new - stats.updated

    count = len(fresh) + len(changed) + len(gone)
    pks = allocate_ids(conn, "intel_objects", count)
    obs_ids = allocate_ids(conn, "observables", count)
    # New indicators in the order of their ids: the unique index on stix_id then grows at
    # its end instead of splitting pages all over (a smaller WAL, a faster commit). Sorted
    # by the ids' digests (_new_versions); the ids are written out batch by batch in the
    # loop below, where the writer thread works meanwhile (this part runs before it has
    # anything). _digest's bytes, its call written out (ipsum: 0.08 -> 0.06 s).
    name, sha1 = _NS_BYTES + f"{feed.id}:".encode(), hashlib.sha1
    digests = [sha1(name + f"{k}:{v}".encode()).digest() for (k, v), _e in fresh]
    # (kind, value, confidence, comment, first_seen, valid_until, stix_id) per new version,
    # in pk order: new entries, changed ones, gone ones; made as the batches take them.
    versions = chain(
        _new_versions(fresh, digests, stamp),
        ((k, v, e.confidence, e.comment, old.first_seen, None, None) for (k, v), e, old in changed),
        ((k, v, old.confidence, None, old.first_seen, stamp, None) for (k, v), old in gone),
    )
    _demote(conn, [old.object_pk for *_e, old in changed] + [old.object_pk for _k, old in gone])
    index = WarninglistIndex.load(cfg.warninglists_disabled)
    groups = sorted(feed.group_ids)
    first_changed = pks.start + len(fresh)
    # The writer has nothing to do until the first batch is built: one stage statement's
    # worth gets it started a third of a batch's building sooner; full batches follow.
    starts = [0, *range(FIRST_BATCH_SIZE, count, BATCH_SIZE)] if count else []
    reports: list[Future[CorrelationReport]] = []
    staged = conn.dialect.name == "sqlite" and STAGED_SQLITE
    if staged:
        _open_stage(conn)
    # As in import_objects: the writer thread inserts and correlates one batch while this
    # one builds the next (both drivers release the GIL in the database); one batch: no
    # thread. Each value is in one batch only (deduplicated above), so correlating batch
    # by batch gives what one call over every new version would.
    with BackgroundWriter(threaded=len(starts) > 1) as writer:
        writing: Future[CorrelationReport] | None = None
        for at, end in pairwise([*starts, count]):
            batch = _Versions(feed, stamp, pks.start + at, obs_ids.start - pks.start, index)
            for version in islice(versions, end - at):
                batch.add(*version)
            stats.warninglisted += batch.flagged
            bound = writer.submit(_stage, conn, batch) if staged else None
            queued = writer.submit(
                _write_batch, conn, batch, groups, first_changed, cfg.correlation
            )
            reports.append(queued)
            if bound is not None:
                # SQLite: binding the stage holds the GIL, so this thread waits for it
                # idle (after the batch before), and builds the next batch while the
                # SQL that follows runs free of the GIL. Bound while this thread built,
                # each statement of it waited up to the switch interval (5 ms) for the
                # GIL: ipsum's writer lost 0.2-0.4 s so.
                writer.wait(bound)
            elif writing is not None:  # one batch waits behind the one being written
                writer.wait(writing)
            writing = queued
    stats.correlated = sum(r.result().new_members for r in reports)
    if staged:
        _drop_stage(conn)
    gone_rows = range(pks.start + len(fresh) + len(changed), pks.stop)
    # The provenance row moves to the new version (its key is the current version's pk),
    # which holds the entry's confidence, first seen and expiry (storage.schema).
    update = "UPDATE feed_entries SET object_pk = ?, last_seen = ? WHERE object_pk = ?"
    _executemany(
        conn,
        update,
        [(first_changed + i, None, old.object_pk) for i, (_k, _e, old) in enumerate(changed)],
    )
    # Gone: last seen at the feed's previous pull (its version's valid_until: now).
    _executemany(
        conn,
        update,
        [
            (pk, feed.last_version_at or old.first_seen, old.object_pk)
            for pk, (_k, old) in zip(gone_rows, gone, strict=True)
        ],
    )
    return stats


def _new_versions(
    fresh: Sequence[tuple[tuple[str, str], Entry]], digests: Sequence[bytes], stamp: str
) -> Iterator[tuple[str, str, int | None, str | None, str, None, str]]:
    """The new entries' versions in the order of their digests, made as they are taken.

    Sorted a bucket at a time (by the digest's first byte, then the whole digest): the
    order of one sort of them all, but only the first batch's buckets are sorted before
    the writer has work, the rest while it writes (ipsum: 0.09 -> 0.03 s before the
    first batch, the buckets' sorts 0.05 s later).
    """
    buckets: list[list[int]] = [[] for _ in range(256)]
    for i, digest in enumerate(digests):
        buckets[digest[0]].append(i)
    for bucket in buckets:
        bucket.sort(key=digests.__getitem__)
        for i in bucket:
            (kind, value), entry = fresh[i]
            yield (
                kind,
                value,
                entry.confidence,
                entry.comment,
                stamp,
                None,
                _id_of_digest(digests[i]),
            )


def remove_feed(conn: Connection, trail: AuditTrail, feed: Feed) -> int:
    """Remove ``feed``: its indicators get a revoked version (history stays), its
    provenance rows go, then the feed. Audited as ``feed.remove``; returns the count."""
    revoked = revoke_feed_objects(conn, feed, version_stamp(feed))
    delete_feed_row(conn, feed)
    trail.record(conn, "feed.remove", f"feed {feed.name}", {"revoked": revoked})
    return revoked


def _write_batch(
    conn: Connection,
    batch: _Versions,
    groups: Sequence[int],
    first_changed: int,
    correlation: CorrelationConfig,
) -> CorrelationReport:
    """Runs on the writer thread (or inline): one batch's rows, then its correlation.

    Versions with a pk below ``first_changed`` are new entries and get their provenance
    row here; the others' rows are moved to them by the caller.
    """
    if conn.dialect.name == "sqlite" and STAGED_SQLITE:
        _insert_staged(conn, batch, groups, first_changed)
        return _correlate_staged(conn, batch, correlation)
    _insert_rows(conn, batch, groups, first_changed)
    return correlate_members(conn, batch.members, correlation)


def _insert_rows(
    conn: Connection, batch: _Versions, groups: Sequence[int], first_changed: int
) -> None:
    """Every row built in Python and bulk-inserted (PostgreSQL: ``COPY``)."""
    bulk_insert(conn, intel_objects, OBJECT_COLUMNS, batch.object_rows())
    bulk_insert(conn, observables, OBSERVABLE_COLUMNS, batch.observable_rows())
    bulk_insert(
        conn,
        object_groups,
        ("object_pk", "group_id"),
        [(pk, g) for pk in batch.pks for g in groups],
    )
    feed_id = batch.feed.id
    bulk_insert(
        conn,
        feed_entries,
        _ENTRY_COLUMNS,
        [(pk, feed_id) for pk in batch.pks if pk < first_changed],
    )


#: The batch's versions as bound once on SQLite, each table's rows then made in SQL.
_STAGE = Table(
    "feed_versions",
    MetaData(),
    *(Column(name, Integer if name == "confidence" else Text) for name in _VERSION_COLUMNS),
    prefixes=["TEMPORARY"],
)


def _insert_staged(
    conn: Connection, batch: _Versions, groups: Sequence[int], first_changed: int
) -> None:
    """SQLite: the versions go to a temporary table, then one ``INSERT … SELECT`` per table.

    Binding every column of three tables' rows (31 parameters per value, most of them
    the same for the whole batch) took 1.9 s of CPU for ipsum's 120,430 values against
    1.3 s for the stage's 10 and the ``INSERT … SELECT``s (docs/benchmarks.md); the
    constant columns (owner, marking, times) are bound once per statement, the pk is the
    stage's rowid plus the batch's base, and the warninglist note is made from the names
    (8 parameters a version: 0.16 s of binding for ipsum against 0.20 s for 10). A new
    entry's version binds 5 (:data:`_FRESH_COLUMNS`): its first seen is the pull's
    stamp, and its body marker is made here (:data:`_MARKER_SQL`).

    The three ``INSERT … SELECT``s run in one statement, a row into ``feed_batches``
    whose trigger (:data:`_BATCH_TRIGGER`) makes them: each statement the writer ends
    takes the GIL back, and waits up to the switch interval (5 ms) for it while the
    caller builds the next batch.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    feed = batch.feed
    base = batch.first_pk - 1
    raw.execute(
        "INSERT INTO temp.feed_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            base,
            batch.obs_offset,
            batch.stamp,
            feed.owner_org_id,
            feed.distribution.value,
            feed.tlp.value,
            batch.revoked,
            batch.prefix,
            batch.imported_at,
            feed.id,
            first_changed,
        ),
    )
    for group in groups:
        raw.execute(
            "INSERT INTO object_groups (object_pk, group_id)"
            " SELECT n + ?, ? FROM temp.feed_versions",
            (base, group),
        )


def revoke_feed_objects(conn: Connection, feed: Feed, stamp: str) -> int:
    """New, revoked versions of every current indicator of ``feed``; returns the count."""
    current = conn.execute(_entries_query(feed.id)).all()
    pks = allocate_ids(conn, "intel_objects", len(current))
    obs_ids = allocate_ids(conn, "observables", len(current))
    rows = _Versions(feed, stamp, pks.start, obs_ids.start - pks.start, None, revoked=True)
    for kind, value, _pk, confidence, first_seen, expired_at in current:
        rows.add(kind, value, confidence, None, first_seen, expired_at)
    _demote(conn, [r.object_pk for r in current])
    bulk_insert(conn, intel_objects, OBJECT_COLUMNS, rows.object_rows())
    bulk_insert(conn, observables, OBSERVABLE_COLUMNS, rows.observable_rows())
    if feed.group_ids:
        bulk_insert(
            conn,
            object_groups,
            ("object_pk", "group_id"),
            [(pk, g) for pk in range(pks.start, pks.stop) for g in sorted(feed.group_ids)],
        )
    conn.execute(feed_entries.delete().where(feed_entries.c.feed_id == feed.id))
    return len(current)


def _stage(conn: Connection, batch: _Versions) -> None:
    """SQLite, on the writer thread: the batch's versions into the stage."""
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("DELETE FROM temp.feed_versions")
    if batch.others:
        bulk_insert(conn, _STAGE, _VERSION_COLUMNS, batch.version_rows())
    else:
        bulk_insert(conn, _STAGE, _FRESH_COLUMNS, batch.rows)


def _open_stage(conn: Connection) -> None:
    """The stage, made once per pull on the caller's thread (see :func:`_insert_staged`)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    # A batch's stage is ~5 MB: past the temporary database's default 2 MB cache, SQLite
    # spilled it to a temporary file (the DELETE of a batch then took 5x longer).
    raw.execute("PRAGMA temp.cache_size=-32768")
    raw.execute(_STAGE_DDL)
    raw.execute(_BATCHES_DDL)
    raw.execute(_BATCH_TRIGGER)


def _drop_stage(conn: Connection) -> None:
    """The stage's rows and its cache go with the pull (the connection goes back to the pool)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("DROP TABLE IF EXISTS temp.feed_versions")
    raw.execute("DROP TABLE IF EXISTS temp.feed_batches")  # and its trigger
    raw.execute("PRAGMA temp.cache_size=-2000")  # SQLite's default


def _correlate_staged(
    conn: Connection, batch: _Versions, config: CorrelationConfig
) -> CorrelationReport:
    """SQLite: :func:`correlate_members` for the staged batch, values new to the store left out.

    A value no other object carries and without correlation rows relates nothing and gets
    no rows (:mod:`steppe.intel.correlation`): one look-up per value in the indexes of
    ``correlation_values`` and ``observables`` (its rowid is the observable's id, so the
    batch's own row is told apart in the index) instead of two rows in two tables. The
    others — values already known or carried elsewhere — take the general path (the cap,
    old versions leaving first, a first carrier joining). A cap below 1 (a single
    carrier is over it) takes the general path for every value.
    """
    if config.cap < 1 or not batch.members:
        return correlate_members(conn, batch.members, config)
    raw = conn.connection.driver_connection
    assert raw is not None
    shared = raw.execute(
        "SELECT s.type, s.value, s.n + :base FROM temp.feed_versions s"
        " WHERE s.warninglists IS NULL AND s.value NOT IN (SELECT value FROM json_each(:excluded))"
        " AND (EXISTS (SELECT 1 FROM correlation_values cv"
        " WHERE cv.value = s.value AND cv.type = s.type)"
        " OR EXISTS (SELECT 1 FROM observables o"
        " WHERE o.value = s.value AND o.type = s.type AND o.id <> s.n + :offset))",
        {
            "excluded": orjson.dumps(sorted(config.exclusions)).decode(),
            "base": batch.first_pk - 1,
            "offset": batch.first_pk - 1 + batch.obs_offset,
        },
    ).fetchall()
    return correlate_members(conn, {(t, v): {pk} for t, v, pk in shared}, config)


class _Versions:
    """A batch of indicator versions, one tuple per version in :data:`_FRESH_COLUMNS`
    order — what varies from one new entry to the next —, and for the versions that are
    not a new entry's (first seen before, expired, with a comment) the rest of their
    :data:`_VERSION_COLUMNS` in ``others``; :meth:`object_rows` and
    :meth:`observable_rows` make the tables' full rows (on SQLite, SQL does:
    :func:`_insert_staged`; tests check that both give the same store).

    With a warninglist ``index``, values on a list are flagged there and their
    indicators are not matchable; the others are the batch's correlation ``members``.
    """

    def __init__(
        self,
        feed: Feed,
        stamp: str,
        first_pk: int,
        obs_offset: int,
        index: WarninglistIndex | None,
        *,
        revoked: bool = False,
    ) -> None:
        self.feed = feed
        self.stamp = stamp
        self.first_pk = self.next_pk = first_pk
        self.obs_offset = obs_offset  # observable id = object pk + offset
        self.check = index.check if index is not None else None
        self.revoked = revoked
        self.rows: list[tuple[Any, ...]] = []
        # place in the batch -> (first_seen, valid_until, body) when not (stamp, None, marker)
        self.others: dict[int, tuple[str, str | None, str]] = {}
        self.members: dict[tuple[str, str], set[int]] = {}
        self.flagged = 0
        self.imported_at = timestamps.now()
        self.prefix = f"{feed.name}: "

    def add(
        self,
        kind: str,
        value: str,
        confidence: int | None,
        comment: str | None,
        first_seen: str,
        valid_until: str | None,
        stix_id: str | None = None,
    ) -> int:
        pk = self.next_pk
        if stix_id is None:
            stix_id = indicator_id(self.feed.id, kind, value)
        lists = None
        names = self.check(kind, value) if self.check is not None else ()
        if names:
            lists = "\n".join(names)
            self.flagged += 1
        elif self.check is not None:
            self.members[(kind, value)] = {pk}
        if comment or valid_until is not None or first_seen != self.stamp:
            self.others[pk - self.first_pk] = (
                first_seen,
                valid_until,
                feed_marker(kind, value, comment),
            )
        self.rows.append((kind, value, confidence, stix_id, lists))
        self.next_pk += 1
        return pk

    def version_rows(self) -> list[tuple[Any, ...]]:
        """Every version's tuple in :data:`_VERSION_COLUMNS` order."""
        stamp, others = self.stamp, self.others
        out = []
        for i, (kind, value, confidence, stix_id, lists) in enumerate(self.rows):
            first_seen, valid_until, body = others.get(i) or (
                stamp,
                None,
                feed_marker(kind, value, None),
            )
            out.append((kind, value, confidence, first_seen, valid_until, stix_id, body, lists))
        return out

    def object_rows(self) -> list[tuple[Any, ...]]:
        """``intel_objects`` rows in :data:`OBJECT_COLUMNS` order."""
        feed = self.feed
        owner, distribution, tlp = feed.owner_org_id, feed.distribution.value, feed.tlp.value
        stamp, revoked, prefix, imported_at = (
            self.stamp,
            self.revoked,
            self.prefix,
            self.imported_at,
        )
        return [
            (
                pk,
                stix_id,
                "indicator",
                first_seen,
                stamp,
                owner,
                distribution,
                tlp,
                confidence,
                first_seen,
                valid_until,
                revoked,
                True,
                lists is None,
                None if lists is None else _note(lists),
                prefix + value,
                imported_at,
                body,
            )
            for pk, (
                _kind,
                value,
                confidence,
                first_seen,
                valid_until,
                stix_id,
                body,
                lists,
            ) in enumerate(self.version_rows(), self.first_pk)
        ]

    def observable_rows(self) -> list[tuple[int, int, str, str, str | None]]:
        offset = self.obs_offset
        return [
            (pk + offset, pk, r[0], r[1], r[4]) for pk, r in enumerate(self.rows, self.first_pk)
        ]

    @property
    def pks(self) -> range:
        return range(self.first_pk, self.next_pk)


def _note(lists: str) -> str:
    """An indicator's note when its value is on warninglists (``lists``: their names,
    one a line); :data:`_NOTE_SQL` in SQL."""
    return ("on a warninglist: " + lists.replace("\n", "; "))[:2000]


def _entries_query(feed_id: int) -> Select[Any]:
    """A feed's entries: type, value, object pk, confidence, first seen, expired at — read
    from the entry's current version and its observable (storage.schema)."""
    o, v = intel_objects, observables
    return (
        select(v.c.type, v.c.value, feed_entries.c.object_pk, o.c.confidence)
        .add_columns(o.c.valid_from, o.c.valid_until)
        .select_from(
            feed_entries.join(o, o.c.pk == feed_entries.c.object_pk).join(
                v, v.c.object_pk == feed_entries.c.object_pk
            )
        )
        .where(feed_entries.c.feed_id == feed_id)
    )


def _stored_entries(conn: Connection, feed_id: int) -> dict[tuple[str, str], _Stored]:
    # Through the driver: SQLAlchemy's row processing was most of a re-pull's load of the
    # feed's 120,000 entries (ipsum); the columns are plain text and integers.
    sql = (
        "SELECT v.type, v.value, e.object_pk, o.confidence, o.valid_from, o.valid_until"
        " FROM feed_entries e JOIN intel_objects o ON o.pk = e.object_pk"
        " JOIN observables v ON v.object_pk = e.object_pk WHERE e.feed_id = ?"
    )
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(sql.replace("?", "%s"), (feed_id,))
            rows = cursor.fetchall()
    else:
        rows = raw.execute(sql, (feed_id,)).fetchall()  # type: ignore[union-attr]
    return {(t, v): _Stored(pk, c, f, e is not None) for t, v, pk, c, f, e in rows}


def _demote(conn: Connection, pks: Sequence[int]) -> None:
    """The rows ``pks`` stop being current (a newer version is being written)."""
    for start in range(0, len(pks), 10_000):
        chunk = list(pks[start : start + 10_000])
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("UPDATE intel_objects SET is_current = false WHERE pk = ANY(:pks)"),
                {"pks": chunk},
            )
        else:
            conn.execute(
                text(
                    "UPDATE intel_objects SET is_current = 0"
                    " WHERE pk IN (SELECT value FROM json_each(:pks))"
                ),
                {"pks": orjson.dumps(chunk).decode()},
            )


def _executemany(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.executemany(sql.replace("?", "%s"), rows)
    else:
        raw.executemany(sql, rows)  # type: ignore[union-attr]
