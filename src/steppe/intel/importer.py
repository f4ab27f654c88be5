"""Bulk import of STIX 2.1 objects into the intel store, in one transaction.

Everything is checked before anything is written, so bad input leaves nothing behind:
the first error names the file, line and field. Re-importing the same ``id`` +
``modified`` is a no-op; a newer ``modified`` becomes the current version.

This is a hot path (100,000 indicators per feed): rows are built as plain tuples,
ids are reserved in blocks (:func:`steppe.storage.ids.allocate_ids`), and inserts go
out as executemany (SQLite) or COPY (PostgreSQL). See bench/stix_import.py.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, select, update

from steppe.audit.trail import AuditTrail
from steppe.errors import InputError, InvalidObservable, InvalidStix, MarkingConflict
from steppe.intel.observables import ObservableType, canonicalise
from steppe.intel.patterns import parse_pattern
from steppe.intel.stix import bundle_tlp_definitions, check_object, line_of, tlp_of
from steppe.sharing.directory import Organisation, SharingGroup
from steppe.sharing.model import Distribution, OrgKind, TlpLevel
from steppe.sharing.policy import check_marking
from steppe.storage import timestamps
from steppe.storage.bulk import bulk_insert
from steppe.storage.ids import allocate_ids
from steppe.storage.schema import intel_objects, object_groups, object_labels, observables

__all__ = ["ImportReport", "Marking", "import_objects", "observables_of"]

#: Stand-in ``modified`` for objects that have none (SCOs, marking definitions): they do
#: not version, so a constant makes re-imports no-ops.
UNVERSIONED = "1970-01-01T00:00:00.000000Z"
_CHUNK = 500

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
    by_type: Counter[str] = field(default_factory=Counter)
    sha256: str = ""


@dataclass(slots=True)
class _Row:
    stix_id: str
    type: str
    created: str | None
    modified: str
    tlp: TlpLevel
    confidence: int | None
    valid_from: str | None
    valid_until: str | None
    revoked: bool
    matchable: bool | None
    pattern_note: str | None
    name: str | None
    body: str
    observables: Sequence[tuple[ObservableType, str]]
    labels: tuple[str, ...]


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
) -> ImportReport:
    """Check and store ``objects`` (parsed from ``data``) for ``owner``.

    Runs inside the caller's transaction; raises an :class:`InputError` located at the
    offending object before writing anything.
    """
    group_ids = _check_audience(owner, marking)
    report = ImportReport(source=source, objects=len(objects))
    report.sha256 = hashlib.sha256(data).hexdigest()
    local_tlp = bundle_tlp_definitions(objects)
    rows: list[_Row] = []
    for index, obj in enumerate(objects):
        try:
            row = _prepare(obj, marking, local_tlp)
            check_marking(marking.distribution, row.tlp, group_ids)
        except InputError as exc:
            stix_id = obj.get("id") if isinstance(obj, dict) else None
            raise exc.located(
                source=source, line=line_of(data, stix_id, index), field=f"objects[{index}]"
            ) from None
        rows.append(row)
        if progress is not None and index % 5000 == 4999:
            progress(5000)
    if progress is not None:
        progress(len(objects) % 5000)
    _store(conn, rows, owner, marking.distribution, group_ids, report)
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
        raise InputError("peer centers deliver intel by federation sync, not by import")
    for group in marking.groups:
        if owner.id not in group.member_org_ids and owner.id != group.owner_org_id:
            raise MarkingConflict(
                f"{owner.name!r} is not a member of sharing group {group.name!r}", field="group"
            )
    return [g.id for g in marking.groups]


def _prepare(obj: Any, marking: Marking, local_tlp: dict[str, TlpLevel]) -> _Row:
    check_object(obj)
    stix_type: str = obj["type"]
    modified = obj.get("modified") or obj.get("created")
    matchable: bool | None = None
    note: str | None = None
    found: Sequence[tuple[ObservableType, str]] = ()
    if stix_type == "indicator":
        if obj["pattern_type"] == "stix":
            try:
                parsed = parse_pattern(obj["pattern"])
            except InputError as exc:
                raise exc.located(field="pattern") from None
            matchable, note = parsed.matchable, parsed.reason
            found = [(o.type, o.value) for o in parsed.observables]
        else:
            matchable, note = False, f"pattern_type {obj['pattern_type']!r} is not matched yet"
    else:
        found = observables_of(obj)
    valid_until = obj.get("valid_until")
    return _Row(
        labels=_labels(obj),
        stix_id=obj["id"],
        type=stix_type,
        created=timestamps.normalise(obj["created"]) if "created" in obj else None,
        modified=timestamps.normalise(modified) if modified else UNVERSIONED,
        tlp=tlp_of(obj, local_tlp) or marking.tlp,
        confidence=obj.get("confidence"),
        valid_from=timestamps.normalise(obj["valid_from"]) if "valid_from" in obj else None,
        valid_until=timestamps.normalise(valid_until) if valid_until else None,
        revoked=bool(obj.get("revoked", False)),
        matchable=matchable,
        pattern_note=note,
        name=obj.get("name") if isinstance(obj.get("name"), str) else None,
        body=orjson.dumps(obj).decode(),
        observables=found,
    )


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
    for text in candidates:
        if isinstance(text, str) and text.upper().startswith("CVE-"):
            try:
                value = canonicalise(ObservableType.CVE, text)
            except InvalidObservable:
                continue
            if value not in seen:
                seen.add(value)
                yield ObservableType.CVE, value


def _store(
    conn: Connection,
    rows: list[_Row],
    owner: Organisation,
    distribution: Distribution,
    group_ids: list[int],
    report: ImportReport,
) -> None:
    # Reserve ids first: on SQLite this takes the write lock before the reads below.
    pks = iter(allocate_ids(conn, "intel_objects", len(rows)))
    existing = _existing_versions(conn, owner.id, {r.stix_id for r in rows})
    newest: dict[str, str] = {sid: max(v) for sid, v in existing.items()}
    fresh: list[_Row] = []
    for row in rows:
        versions = existing.setdefault(row.stix_id, {})
        if row.modified in versions:
            report.unchanged += 1
            continue
        versions[row.modified] = -1
        fresh.append(row)
        if row.modified > newest.get(row.stix_id, ""):
            newest[row.stix_id] = row.modified
    now = timestamps.now()
    object_rows: list[tuple[Any, ...]] = []
    group_rows: list[tuple[int, int]] = []
    observable_rows: list[tuple[int, int, str, str]] = []
    label_rows: list[tuple[int, str]] = []
    demote: list[str] = []
    obs_ids = iter(allocate_ids(conn, "observables", sum(len(r.observables) for r in fresh)))
    for row in fresh:
        pk = next(pks)
        is_current = newest[row.stix_id] == row.modified
        had_versions = len(existing[row.stix_id]) > 1
        if not had_versions:
            report.created += 1
        elif is_current:
            report.new_versions += 1
            demote.append(row.stix_id)
        else:
            report.older_versions += 1
        report.by_type[row.type] += 1
        if row.matchable is True:
            report.matchable += 1
        elif row.matchable is False:
            report.not_matchable += 1
        object_rows.append(
            (
                pk,
                row.stix_id,
                row.type,
                row.created,
                row.modified,
                owner.id,
                distribution.value,
                row.tlp.value,
                row.confidence,
                row.valid_from,
                row.valid_until,
                row.revoked,
                is_current,
                row.matchable,
                row.pattern_note,
                row.name,
                now,
                row.body,
            )
        )
        group_rows.extend((pk, gid) for gid in group_ids)
        label_rows.extend((pk, label) for label in row.labels)
        for kind, value in dict.fromkeys(row.observables):
            observable_rows.append((next(obs_ids), pk, kind.value, value))
    for chunk in _chunks(demote, _CHUNK):
        conn.execute(
            update(intel_objects)
            .where(
                and_(
                    intel_objects.c.owner_org_id == owner.id,
                    intel_objects.c.stix_id.in_(chunk),
                    intel_objects.c.is_current.is_(True),
                )
            )
            .values(is_current=False)
        )
    bulk_insert(conn, intel_objects, _OBJECT_COLUMNS, object_rows)
    bulk_insert(conn, object_groups, ("object_pk", "group_id"), group_rows)
    bulk_insert(conn, object_labels, ("object_pk", "label"), label_rows)
    bulk_insert(conn, observables, ("id", "object_pk", "type", "value"), observable_rows)
    report.observables = len(observable_rows)


_OBJECT_COLUMNS = (
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


def _existing_versions(conn: Connection, owner_id: int, ids: set[str]) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for chunk in _chunks(sorted(ids), _CHUNK):
        rows = conn.execute(
            select(intel_objects.c.stix_id, intel_objects.c.modified, intel_objects.c.pk).where(
                intel_objects.c.owner_org_id == owner_id, intel_objects.c.stix_id.in_(chunk)
            )
        )
        for stix_id, modified, pk in rows:
            found.setdefault(stix_id, {})[modified] = pk
    return found


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
