"""Bulk import of STIX 2.1 objects into the intel store, in one transaction.

Every object is checked, and the first bad one aborts the import with nothing left
behind: the error names the file, line and field. Re-importing the same ``id`` +
``modified`` is a no-op; a newer ``modified`` becomes the current version.

This is a hot path (100,000 indicators per feed; see bench/stix_import.py and
docs/benchmarks.md). The stored versions of every id in the bundle are looked up in one
statement; then objects go in batches: the calling thread checks a batch and builds its
rows as plain tuples while a writer thread (:class:`~steppe.storage.bulk.BackgroundWriter`),
the only thread using the connection meanwhile, inserts the batch before. sqlite3 and
psycopg release the GIL while the database works, so the two overlap. Ids come from
:func:`~steppe.storage.ids.allocate_ids`, whose locks are taken first thing. The import
runs in a savepoint: whichever side fails, what earlier batches wrote is rolled back
before the error reaches the caller.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, text, update

from steppe.audit.trail import AuditTrail
from steppe.errors import (
    Forbidden,
    InputError,
    IntegrityError,
    InvalidObservable,
    InvalidStix,
    MarkingConflict,
)
from steppe.intel import attack, taxonomies
from steppe.intel.config import IntelConfig
from steppe.intel.correlation import correlate_observables
from steppe.intel.observables import ObservableType, canonicalise
from steppe.intel.patterns import PatternObservable, parse_pattern
from steppe.intel.stix import bundle_tlp_definitions, check_object_times, line_of, tlp_of
from steppe.intel.warninglists import WarninglistIndex
from steppe.sharing.directory import Organisation, SharingGroup, get_organisation
from steppe.sharing.model import Distribution, OrgKind, TlpLevel
from steppe.sharing.policy import check_marking
from steppe.storage import timestamps
from steppe.storage.bulk import BackgroundWriter, bulk_insert
from steppe.storage.ids import allocate_ids
from steppe.storage.schema import intel_objects, object_groups, object_labels, observables

__all__ = [
    "BATCH_SIZE",
    "OBJECT_COLUMNS",
    "OBSERVABLE_COLUMNS",
    "ImportReport",
    "Marking",
    "ensure_attack_patterns",
    "import_objects",
    "observables_of",
    "warninglist_rows",
]

#: Stand-in ``modified`` for objects that have none (SCOs, marking definitions): they do
#: not version, so a constant makes re-imports no-ops.
UNVERSIONED = "1970-01-01T00:00:00.000000Z"

#: Objects per batch. Smaller batches leave less of the last insert without overlap but
#: cost more hand-overs between the threads; 10,000 measured best on the benchmark, with
#: 5,000 and 20,000 close (docs/benchmarks.md). An import of one batch or less runs
#: without the writer thread.
BATCH_SIZE = 10_000

_CHUNK = 500  # stix ids per IN (...) of a demoting UPDATE

ProgressHook = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Marking:
    """Who imported objects are for, unless an object carries its own TLP marking."""

    distribution: Distribution = Distribution.ORGANISATION
    tlp: TlpLevel = TlpLevel.AMBER
    groups: tuple[SharingGroup, ...] = ()


@dataclass(slots=True)
class ImportReport:
    source: str
    objects: int = 0
    created: int = 0
    new_versions: int = 0
    unchanged: int = 0
    older_versions: int = 0
    matchable: int = 0
    not_matchable: int = 0
    observables: int = 0
    warninglisted: int = 0  # indicators not matchable because every value is on a warninglist
    correlated: int = 0  # new correlation memberships
    by_type: Counter[str] = field(default_factory=Counter)
    sha256: str = ""


def import_objects(
    conn: Connection,
    trail: AuditTrail,
    data: bytes,
    objects: Sequence[Any],
    *,
    owner: Organisation,
    marking: Marking,
    source: str,
    progress: ProgressHook | None = None,
    batch_size: int = BATCH_SIZE,
    config: IntelConfig | None = None,
) -> ImportReport:
    """Check and store ``objects`` (parsed from ``data``) for ``owner``.

    Runs inside the caller's transaction, in a savepoint of its own: on an
    :class:`InputError` (located at the offending object) or a database error, nothing
    the import wrote stays behind. ``progress`` is called with the number of objects
    checked after each batch of ``batch_size``.

    Along the way (``config``, default :class:`IntelConfig`): observables on a MISP
    warninglist are flagged, and an indicator all of whose values are is stored not
    matchable; tags (labels) are checked and normalised (:mod:`steppe.intel.taxonomies`),
    ATT&CK ones get their attack-pattern object; the new objects are correlated.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    cfg = config or IntelConfig()
    group_ids = _check_audience(owner, marking)
    report = ImportReport(source=source, objects=len(objects))
    with conn.begin_nested():
        found, techniques, first_pk = _import(
            conn,
            data,
            objects,
            owner,
            marking,
            group_ids,
            source,
            progress,
            batch_size,
            report,
            cfg,
        )
        report.correlated = correlate_observables(
            conn, found, cfg.correlation, stored_from=first_pk
        ).new_members
        if techniques:
            ensure_attack_patterns(conn, trail, techniques)
        trail.record(
            conn,
            "intel.import",
            f"import {source}",
            {
                "organisation": owner.name,
                "sha256": report.sha256,
                "distribution": marking.distribution.value,
                "groups": [g.name for g in marking.groups],
                "created": report.created,
                "new_versions": report.new_versions,
                "unchanged": report.unchanged,
            },
        )
    return report


def _check_audience(owner: Organisation, marking: Marking) -> list[int]:
    if owner.kind is OrgKind.PEER:
        raise Forbidden("peer centers deliver intel by federation sync, not by import")
    for group in marking.groups:
        if owner.id not in group.member_org_ids and owner.id != group.owner_org_id:
            raise MarkingConflict(
                f"{owner.name!r} is not a member of sharing group {group.name!r}", field="group"
            )
    return [g.id for g in marking.groups]


def _import(
    conn: Connection,
    data: bytes,
    objects: Sequence[Any],
    owner: Organisation,
    marking: Marking,
    group_ids: list[int],
    source: str,
    progress: ProgressHook | None,
    batch_size: int,
    report: ImportReport,
    cfg: IntelConfig,
) -> tuple[list[tuple[int, str, str]], set[str], int]:
    """Check and write the objects; (pk, type, value) of what to correlate, techniques,
    and the first pk of the block the objects got."""
    # Take both id sequences' locks before anything else (on SQLite, the write lock,
    # before any read); the blocks are settled below, once the counts are known.
    first_pk = allocate_ids(conn, "intel_objects", 0).start
    first_obs = allocate_ids(conn, "observables", 0).start
    # One statement for all the ids (an index probe each): every batch's version
    # decisions need it, and the writer then only writes.
    stored = _stored_versions(conn, owner.id, _ids(objects))
    builder = _BatchBuilder(
        data, objects, source, owner.id, marking, group_ids, stored, report, cfg
    )
    builder.next_pk, builder.next_obs = first_pk, first_obs
    starts = range(0, len(objects), batch_size)
    # The new observables to correlate, held rather than read back after the writes.
    found: list[tuple[int, str, str]] = []
    with BackgroundWriter(threaded=len(starts) > 1) as writer:
        # hashlib releases the GIL on large buffers: hash on the writer thread.
        digest = writer.submit(_sha256, data)
        writing = None
        for start in starts:
            stop = min(start + batch_size, len(objects))
            batch = builder.build(start, stop)
            found.extend([(r[1], r[2], r[3]) for r in batch.observables if r[4] is None])
            queued = writer.submit(_write_batch, conn, owner.id, batch)
            if writing is not None:  # at most one batch waits behind the one being written
                writer.wait(writing)
            writing = queued
            if progress is not None:
                progress(stop - start)
        report.sha256 = writer.wait(digest)
    builder.count_versions()
    if (
        allocate_ids(conn, "intel_objects", builder.next_pk - first_pk).start != first_pk
        or allocate_ids(conn, "observables", builder.next_obs - first_obs).start != first_obs
    ):
        raise IntegrityError("an id sequence moved during the import; nothing was stored")
    if builder.versions:  # some rows were superseded in the bundle: only current ones
        current = {pk for _modified, pk in builder.newest.values() if pk >= first_pk}
        found = [row for row in found if row[0] in current]
    return found, builder.techniques, first_pk


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ids(objects: Sequence[Any]) -> list[str]:
    """The ids among ``objects`` to look up, before the objects are checked.

    A STIX id is ASCII without NUL; anything else cannot be stored, and PostgreSQL would
    refuse the look-up itself (text with NUL) before the checks could say what is wrong.
    """
    return [
        stix_id
        for obj in objects
        if isinstance(obj, dict)
        and isinstance(stix_id := obj.get("id"), str)
        and stix_id.isascii()
        and "\x00" not in stix_id
    ]


@dataclass(frozen=True, slots=True)
class _Batch:
    demote: list[str]  # stix ids whose current stored row a row of this batch replaces
    objects: list[tuple[Any, ...]]
    groups: list[tuple[int, int]]
    labels: list[tuple[int, str]]
    observables: list[tuple[int, int, str, str, str | None]]


#: Column order of the rows both writers of intel_objects build (this importer and the
#: feed fast path, steppe.intel.feed_ingest).
OBJECT_COLUMNS = (
    "pk",
    "stix_id",
    "type",
    "created",
    "modified",
    "owner_org_id",
    "distribution",
    "tlp",
    "confidence",
    "valid_from",
    "valid_until",
    "revoked",
    "is_current",
    "matchable",
    "pattern_note",
    "name",
    "imported_at",
    "body",
)
OBSERVABLE_COLUMNS = ("id", "object_pk", "type", "value", "warninglists")
_IS_CURRENT = OBJECT_COLUMNS.index("is_current")
#: Boolean columns go in as 1 / 0, which both databases store as they store a bool: the
#: sqlite3 driver binds a bool only after failing to find an adapter for it (two
#: AttributeErrors raised and cleared), ~4% of a TAXII POST's instructions (callgrind).
_SQL_BOOL: dict[bool | None, int | None] = {True: 1, False: 0, None: None}
#: An observable type's name as stored, by a dict look-up: ``ObservableType.value`` is a
#: descriptor call (~0.4 µs, timeit), paid for every observable imported.
_TYPE_NAME: dict[ObservableType, str] = {kind: kind.value for kind in ObservableType}


class _BatchBuilder:
    """Checks objects batch by batch and builds their rows; keeps the version state.

    Versions are decided as objects arrive: a row is current when it is newer than
    every version met so far (stored, or earlier in the bundle). When a later one
    supersedes it, a row still in the batch is flipped; one already written (or stored
    before the import) is demoted by the batch's UPDATE, which runs before its inserts.
    The report's created / new / older counts are worked out at the end, over the whole
    bundle, as they always were.
    """

    def __init__(
        self,
        data: bytes,
        objects: Sequence[Any],
        source: str,
        owner_id: int,
        marking: Marking,
        group_ids: list[int],
        stored: dict[str, set[str]],
        report: ImportReport,
        config: IntelConfig,
    ) -> None:
        self.data = data
        self.free_tags = config.free_tags
        self.warninglists = WarninglistIndex.load(config.warninglists_disabled)
        self.techniques: set[str] = set()
        self.objects = objects
        self.source = source
        self.owner_id = owner_id
        self.marking = marking
        self.group_ids = group_ids
        self.stored = stored  # stix id -> modified of the owner's stored versions
        self.report = report
        self.local_tlp = bundle_tlp_definitions(objects)
        self.allowed_tlp: set[TlpLevel] = set()  # check_marking passed (it depends on tlp only)
        self.imported_at = timestamps.now()
        self.next_pk = 0
        self.next_obs = 0
        self.fresh = 0
        # stix id -> (newest modified met, pk of its row; -1 for a stored row)
        self.newest: dict[str, tuple[str, int]] = {}
        # stix id -> {modified: written by this import?}, for ids with stored versions
        # or more than one version in the bundle (the rare case)
        self.versions: dict[str, dict[str, bool]] = {}
        self.types: dict[str, int] = {}

    def build(self, start: int, stop: int) -> _Batch:
        """Rows of ``objects[start:stop]``; raises the first object's error, located."""
        objects = self.objects
        owner_id = self.owner_id
        distribution = self.marking.distribution.value
        default_tlp = self.marking.tlp
        default_tlp_value = default_tlp.value
        allowed_tlp = self.allowed_tlp
        local_tlp = self.local_tlp
        imported_at = self.imported_at
        group_ids = self.group_ids
        newest = self.newest
        stored = self.stored
        types = self.types
        report = self.report
        rows: list[tuple[Any, ...]] = []
        observable_rows: list[tuple[int, int, str, str]] = []
        spans: list[tuple[int, int, int]] = []  # matchable indicator: row, first observable, n
        label_rows: list[tuple[int, str]] = []
        group_rows: list[tuple[int, int]] = []
        demote: list[str] = []
        first_pk = pk = self.next_pk
        obs_id = self.next_obs
        matchable_count = not_matchable_count = 0
        dumps = orjson.dumps
        index = start
        try:
            for index in range(start, stop):
                obj = objects[index]
                created, modified, valid_from, valid_until = check_object_times(obj)
                stix_type: str = obj["type"]
                matchable: bool | None = None
                note: str | None = None
                in_pattern: tuple[PatternObservable, ...] = ()
                found: Iterable[tuple[ObservableType, str]] = ()
                if stix_type == "indicator":
                    if obj["pattern_type"] == "stix":
                        try:
                            parsed = parse_pattern(obj["pattern"])
                        except InputError as exc:
                            raise exc.located(field="pattern") from None
                        matchable, note = parsed.matchable, parsed.reason
                        in_pattern = parsed.observables  # unique already
                    else:
                        matchable = False
                        note = f"pattern_type {obj['pattern_type']!r} is not matched yet"
                else:
                    found = dict.fromkeys(observables_of(obj))
                tlp = default_tlp
                if obj.get("object_marking_refs"):
                    tlp = tlp_of(obj, local_tlp) or default_tlp
                labels = self._labels(obj, tlp) if "labels" in obj else ()
                if tlp not in allowed_tlp:
                    # Decided by the TLP alone (distribution and groups are the import's).
                    check_marking(self.marking.distribution, tlp, group_ids)
                    allowed_tlp.add(tlp)

                stix_id: str = obj["id"]
                version = modified or created or UNVERSIONED
                entry = newest.get(stix_id)
                if entry is None and stix_id not in stored:
                    newest[stix_id] = (version, pk)  # the common case: a new object
                    is_current = True
                else:
                    decided = self._version(stix_id, version, pk, first_pk, rows, demote)
                    if decided is None:
                        report.unchanged += 1
                        continue
                    is_current = decided

                body = dumps(obj).decode()  # the body, as orjson writes it compact
                if "\\u0000" in body:
                    # PostgreSQL text cannot hold NUL, and no STIX value needs one.
                    raise InvalidStix("contains a NUL character (\\u0000)")
                name = obj.get("name")
                rows.append(
                    (
                        pk,
                        stix_id,
                        stix_type,
                        created,
                        version,
                        owner_id,
                        distribution,
                        default_tlp_value if tlp is default_tlp else tlp.value,
                        obj.get("confidence"),
                        valid_from,
                        valid_until,
                        1 if obj.get("revoked") is True else 0,
                        1 if is_current else 0,
                        _SQL_BOOL[matchable],
                        note,
                        name if isinstance(name, str) else None,
                        imported_at,
                        body,
                    )
                )
                if matchable is True:
                    spans.append((len(rows) - 1, len(observable_rows), len(in_pattern)))
                for observable in in_pattern:
                    observable_rows.append(
                        (obs_id, pk, _TYPE_NAME[observable.type], observable.value)
                    )
                    obs_id += 1
                if matchable is True:
                    matchable_count += 1
                elif matchable is False:
                    not_matchable_count += 1
                else:  # not an indicator
                    types[stix_type] = types.get(stix_type, 0) + 1
                    for kind, value in found:
                        observable_rows.append((obs_id, pk, _TYPE_NAME[kind], value))
                        obs_id += 1
                if labels:
                    label_rows.extend([(pk, label) for label in labels])
                if group_ids:
                    group_rows.extend([(pk, group_id) for group_id in group_ids])
                pk += 1
        except (InputError, orjson.JSONEncodeError) as exc:
            obj = objects[index]
            if isinstance(exc, orjson.JSONEncodeError):  # nested deeper than orjson writes
                exc = InvalidStix(f"cannot be stored as JSON: {exc}")
            stix_id_or_none = obj.get("id") if isinstance(obj, dict) else None
            raise exc.located(
                source=self.source,
                line=line_of(self.data, stix_id_or_none, index),
                field=f"objects[{index}]",
            ) from None
        flagged, warned = warninglist_rows(self.warninglists, observable_rows, rows, spans)
        matchable_count -= warned
        not_matchable_count += warned
        report.warninglisted += warned
        if matchable_count or not_matchable_count:
            types["indicator"] = types.get("indicator", 0) + matchable_count + not_matchable_count
        self.fresh += pk - first_pk
        self.next_pk, self.next_obs = pk, obs_id
        report.matchable += matchable_count
        report.not_matchable += not_matchable_count
        report.observables += len(observable_rows)
        return _Batch(demote, rows, group_rows, label_rows, flagged)

    def _labels(self, obj: dict[str, Any], tlp: TlpLevel) -> tuple[str, ...]:
        try:
            labels = taxonomies.normalise_tags(_labels(obj), tlp, self.free_tags)
        except InputError as exc:
            raise exc.located(field="labels") if exc.field is None else exc from None
        for label in labels:
            if label.startswith("attack.t"):
                self.techniques.add(label.removeprefix("attack."))
        return tuple(labels)

    def _version(
        self,
        stix_id: str,
        modified: str,
        pk: int,
        first_pk: int,
        rows: list[tuple[Any, ...]],
        demote: list[str],
    ) -> bool | None:
        """Whether the row is current; None when the version is already there."""
        entry = self.newest.get(stix_id)
        versions = self.versions.get(stix_id)
        if entry is None:  # met for the first time, with stored versions
            known = self.stored[stix_id]
            versions = self.versions[stix_id] = dict.fromkeys(known, False)
            entry = self.newest[stix_id] = (max(known), -1)
        elif versions is None:  # a second version of an object new in this bundle
            versions = self.versions[stix_id] = {entry[0]: True}
        if modified in versions:
            return None
        versions[modified] = True
        newest, holder = entry
        if modified < newest:
            return False
        self.newest[stix_id] = (modified, pk)
        if holder >= first_pk:  # the current row so far is in this batch: flip it
            at = holder - first_pk
            row = rows[at]
            rows[at] = (*row[:_IS_CURRENT], 0, *row[_IS_CURRENT + 1 :])
        else:  # stored, or written by an earlier batch
            demote.append(stix_id)
        return True

    def count_versions(self) -> None:
        """The report's created / new / older counts, over the whole bundle."""
        report = self.report
        in_multi = 0
        for stix_id, versions in self.versions.items():
            if len(versions) < 2:  # one version, met twice: created (or stored) all the same
                continue
            newest = self.newest[stix_id][0]
            for modified, written in versions.items():
                if written:
                    in_multi += 1
                    if modified == newest:
                        report.new_versions += 1
                    else:
                        report.older_versions += 1
        report.created += self.fresh - in_multi
        report.by_type.update(self.types)


def _stored_versions(conn: Connection, owner_id: int, ids: list[str]) -> dict[str, set[str]]:
    """Stored ``modified`` values of ``ids`` (the owner's copies), in one statement."""
    if not ids:
        return {}
    pairs: Iterable[Sequence[str]]
    if conn.dialect.name == "postgresql":
        pairs = conn.execute(
            text(
                "SELECT stix_id, modified FROM intel_objects"
                " WHERE owner_org_id = :owner AND stix_id = ANY(:ids)"
            ),
            {"owner": owner_id, "ids": ids},
        ).all()
    else:
        # Driven from the ids, one index probe each: 5x faster than "stix_id IN (SELECT
        # value FROM json_each(...))", which SQLite plans as a list to search.
        pairs = conn.execute(
            text(
                "SELECT o.stix_id, o.modified FROM json_each(:ids) AS j"
                " JOIN intel_objects AS o ON o.stix_id = j.value AND o.owner_org_id = :owner"
            ),
            {"owner": owner_id, "ids": orjson.dumps(ids).decode()},
        ).all()
    stored: dict[str, set[str]] = {}
    for stix_id, modified in pairs:  # an id twice in the bundle comes back twice
        stored.setdefault(stix_id, set()).add(modified)
    return stored


def _write_batch(conn: Connection, owner_id: int, batch: _Batch) -> None:
    """Runs on the writer thread: demote what the batch replaces, then insert it."""
    for chunk in _chunks(batch.demote, _CHUNK):
        conn.execute(
            update(intel_objects)
            .where(
                and_(
                    intel_objects.c.owner_org_id == owner_id,
                    intel_objects.c.stix_id.in_(chunk),
                    intel_objects.c.is_current.is_(True),
                )
            )
            .values(is_current=False)
        )
    bulk_insert(conn, intel_objects, OBJECT_COLUMNS, batch.objects)
    bulk_insert(conn, object_groups, ("object_pk", "group_id"), batch.groups)
    bulk_insert(conn, object_labels, ("object_pk", "label"), batch.labels)
    bulk_insert(conn, observables, OBSERVABLE_COLUMNS, batch.observables)


_MATCHABLE = OBJECT_COLUMNS.index("matchable")
_NOTE = OBJECT_COLUMNS.index("pattern_note")


def warninglist_rows(
    index: WarninglistIndex,
    observable_rows: Sequence[tuple[int, int, str, str]],
    object_rows: list[tuple[Any, ...]] | None = None,
    spans: Sequence[tuple[int, int, int]] = (),
) -> tuple[list[tuple[int, int, str, str, str | None]], int]:
    """Observable rows with their warninglists column; indicators left with none to match.

    ``spans`` name the matchable indicators among ``object_rows`` (row index, index of
    its first observable row, how many): one whose every value is on a warninglist is
    switched to not matchable in place, with a ``pattern_note`` naming the lists.
    Returns the rows and how many indicators were switched. One index look-up per
    distinct value of the batch.
    """
    hits = index.flag({(r[2], r[3]) for r in observable_rows})
    if not hits:
        return [(*r, None) for r in observable_rows], 0
    joined = {key: "\n".join(names) for key, names in hits.items()}
    rows = [(*r, joined.get((r[2], r[3]))) for r in observable_rows]
    switched = 0
    if object_rows is not None:
        for at, first, count in spans:
            lists: dict[str, None] = {}
            for r in observable_rows[first : first + count]:
                names = hits.get((r[2], r[3]))
                if names is None:
                    break
                lists.update(dict.fromkeys(names))
            else:
                if count:
                    row = object_rows[at]
                    note = "every value is on a warninglist: " + "; ".join(lists)
                    object_rows[at] = (*row[:_MATCHABLE], 0, note[:2000], *row[_NOTE + 1 :])
                    switched += 1
    return rows, switched


def ensure_attack_patterns(
    conn: Connection, trail: AuditTrail, technique_ids: Iterable[str]
) -> int:
    """Store the attack-pattern objects of ``technique_ids`` not stored yet; how many.

    Owned by the coordinator organisation (the center), ``community``, TLP:CLEAR, with
    MITRE's STIX id (:mod:`steppe.intel.attack`). Without a coordinator organisation
    nothing is created: the tags still link objects by label.
    """
    owner_id, missing = attack.missing_attack_patterns(conn, technique_ids)
    if owner_id is None or not missing:
        return 0
    objects = [attack.attack_pattern_object(t) for t in missing]
    data = orjson.dumps({"type": "bundle", "objects": objects})
    report = import_objects(
        conn,
        trail,
        data,
        objects,
        owner=get_organisation(conn, owner_id),
        marking=Marking(Distribution.COMMUNITY, TlpLevel.CLEAR),
        source="MITRE ATT&CK (pymispgalaxies)",
    )
    return report.created


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _labels(obj: dict[str, Any]) -> tuple[str, ...]:
    labels = obj.get("labels")
    if labels is None:
        return ()
    if not isinstance(labels, list):
        raise InvalidStix("must be a list of strings", field="labels")
    for index, label in enumerate(labels):
        if not isinstance(label, str) or not label or len(label) > 200:
            raise InvalidStix(
                "must be a non-empty string of at most 200 characters", field=f"labels[{index}]"
            )
    return tuple(dict.fromkeys(labels))


_SCO_VALUE = {
    "ipv4-addr": ObservableType.IPV4,
    "ipv6-addr": ObservableType.IPV6,
    "domain-name": ObservableType.DOMAIN,
    "url": ObservableType.URL,
    "email-addr": ObservableType.EMAIL,
}
_HOST_PREFIX = {ObservableType.IPV4: "/32", ObservableType.IPV6: "/128"}
_HASHES = {
    "md5": ObservableType.MD5,
    "sha-1": ObservableType.SHA1,
    "sha1": ObservableType.SHA1,
    "sha-256": ObservableType.SHA256,
    "sha256": ObservableType.SHA256,
}


def observables_of(obj: dict[str, Any]) -> list[tuple[ObservableType, str]]:
    """Searchable values of a non-indicator object: SCO values, file hashes, CVE ids."""
    stix_type = obj["type"]
    out: list[tuple[ObservableType, str]] = []
    try:
        if stix_type in _SCO_VALUE:
            value = obj.get("value")
            if isinstance(value, str):
                kind = _SCO_VALUE[stix_type]
                if kind in _HOST_PREFIX and "/" in value and not value.endswith(_HOST_PREFIX[kind]):
                    kind = ObservableType.CIDR
                out.append((kind, canonicalise(kind, value)))
        elif stix_type == "autonomous-system" and isinstance(obj.get("number"), int):
            out.append((ObservableType.ASN, canonicalise(ObservableType.ASN, str(obj["number"]))))
        elif stix_type == "file":
            for algo, digest in (obj.get("hashes") or {}).items():
                hash_kind = _HASHES.get(str(algo).lower())
                if hash_kind is not None and isinstance(digest, str):
                    out.append((hash_kind, canonicalise(hash_kind, digest)))
            if isinstance(obj.get("name"), str):
                out.append((ObservableType.FILENAME, canonicalise("filename", obj["name"])))
        elif stix_type == "vulnerability":
            out.extend(_cves(obj))
    except InvalidObservable as exc:
        raise InvalidStix(f"invalid value: {exc.message}", field="value") from None
    return out


def _cves(obj: dict[str, Any]) -> Iterator[tuple[ObservableType, str]]:
    seen: set[str] = set()
    candidates = [obj.get("name")]
    for ref in obj.get("external_references") or ():
        if isinstance(ref, dict) and str(ref.get("source_name", "")).lower() == "cve":
            candidates.append(ref.get("external_id"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.upper().startswith("CVE-"):
            try:
                value = canonicalise(ObservableType.CVE, candidate)
            except InvalidObservable:
                continue
            if value not in seen:
                seen.add(value)
                yield ObservableType.CVE, value
