"""Cursors, and what changed for an actor's export since one.

A cursor is opaque to its holder: ``c1.`` + base64url of the snapshot time and a
*scope* — a hash of the requester's organisation, its sharing groups and the export
options. Passed back, it yields what was added and what was removed since. If the
scope differs (the organisation joined or left a group, the options changed), an
incremental export would be wrong, so a full export is made instead (and says so).

What was removed since moment T: values of the indicator versions that were the
newest stored at T and exportable then (visible, not revoked, valid, under the TLP
ceiling, on the blocklist then), that no active indicator exports now. Candidates are
the indicators with a version stored after T, a ``valid_until`` passed since T, a
sighting recorded since T, or a blocklist entry added or removed since T. Decay is
continuous and touches no row: an indicator whose score fell under the threshold
without any of those is dropped by the next full export, not by an incremental one
(docs/exports.md: run a full export daily).

Every value in the answer is one the actor may see now (adds) or could see at T with
its groups of now (removes); a removal may name a value the device never received
(harmless: each format's removal is idempotent), never one the actor may not see.

    >>> cursor = encode_cursor("2026-11-28T00:00:00.000000Z", "ab12")
    >>> decode_cursor(cursor).at
    '2026-11-28T00:00:00.000000Z'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, or_, select

from steppe.errors import InputError
from steppe.response.exports.base import Change
from steppe.response.exports.selection import (
    ExportEntry,
    ExportOptions,
    entries_of,
    still_exported,
)
from steppe.sharing.model import Actor
from steppe.storage import timestamps
from steppe.storage.schema import blocklist_entries, blocklists, intel_objects, sightings

__all__ = ["Cursor", "changes_since", "decode_cursor", "encode_cursor", "scope_of"]

_PREFIX = "c1."
_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class Cursor:
    at: str  # stored timestamp of the snapshot the cursor marks
    scope: str


def scope_of(actor: Actor, options: ExportOptions) -> str:
    """What an incremental export must share with the export that made its cursor."""
    key = "|".join(
        [
            str(actor.org_id),
            actor.org_kind.value,
            ",".join(str(g) for g in sorted(actor.group_ids)),
            options.fingerprint(),
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def encode_cursor(at: str, scope: str) -> str:
    data = orjson.dumps({"t": at, "s": scope})
    return _PREFIX + base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """The cursor ``text`` stands for; InputError (field ``since``) if it is not one."""
    bad = InputError(
        "is not a cursor returned by an export (X-Steppe-Cursor header or CLI output)",
        field="since",
    )
    if not text.startswith(_PREFIX) or len(text) > 200:
        raise bad
    body = text[len(_PREFIX) :]
    try:
        data = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        at, scope = data["t"], data["s"]
        if not isinstance(at, str) or not isinstance(scope, str):
            raise bad
        at = timestamps.normalise(at)
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise bad from None
    return Cursor(at, scope)


def _candidates(
    conn: Connection, actor: Actor, options: ExportOptions, since: str, now: str
) -> set[str]:
    """Stix ids of indicators whose exportable state may have changed since ``since``."""
    o, s = intel_objects, sightings
    ids: set[str] = set(
        conn.scalars(
            select(o.c.stix_id)
            .where(
                o.c.type == "indicator",
                or_(
                    o.c.imported_at > since,
                    (o.c.is_current.is_(True))
                    & (o.c.valid_until > since)
                    & (o.c.valid_until <= now),
                ),
            )
            .distinct()
        )
    )
    ids.update(conn.scalars(select(s.c.stix_id).where(s.c.created_at > since).distinct()))
    if options.blocklist is not None:
        e, b = blocklist_entries, blocklists
        ids.update(
            conn.scalars(
                select(e.c.stix_id)
                .join(b, b.c.id == e.c.blocklist_id)
                .where(
                    b.c.org_id == actor.org_id,
                    b.c.name == options.blocklist,
                    or_(e.c.added_at > since, e.c.removed_at > since),
                )
                .distinct()
            )
        )
    return ids


def _versions(conn: Connection, stix_ids: list[str], since: str) -> tuple[list[int], list[int]]:
    """Pks of the current versions, and of the versions that were newest at ``since``."""
    o = intel_objects
    current: list[int] = []
    newest_then: dict[tuple[str, int], tuple[str, int]] = {}
    for start in range(0, len(stix_ids), _CHUNK):
        part = stix_ids[start : start + _CHUNK]
        rows = conn.execute(
            select(
                o.c.pk, o.c.stix_id, o.c.owner_org_id, o.c.modified, o.c.imported_at, o.c.is_current
            ).where(o.c.stix_id.in_(part), o.c.type == "indicator")
        )
        for pk, stix_id, owner, modified, imported_at, is_current in rows:
            if is_current:
                current.append(pk)
            if imported_at <= since:
                key = (stix_id, owner)
                if key not in newest_then or newest_then[key][0] < modified:
                    newest_then[key] = (modified, pk)
    return sorted(current), sorted(pk for _, pk in newest_then.values())


def changes_since(
    conn: Connection, actor: Actor, options: ExportOptions, since: str, now: str
) -> list[Change]:
    """Adds and removes since ``since``, in (type, value) order. Held in memory: its size
    is that of the changes, not of the store."""
    stix_ids = sorted(_candidates(conn, actor, options, since, now))
    if not stix_ids:
        return []
    current, then = _versions(conn, stix_ids, since)
    added = _unique(entries_of(conn, actor, options, now, current))
    before = _unique(entries_of(conn, actor, options, now, then, at=since))
    gone = {key: entry for key, entry in before.items() if key not in added}
    kept = still_exported(conn, actor, options, now, gone)
    changes: list[Change] = [("add", e) for e in added.values()]
    changes += [("remove", e) for key, e in gone.items() if key not in kept]
    changes.sort(key=lambda change: (change[1].type, change[1].value, change[0]))
    return changes


def _unique(entries: Iterable[ExportEntry]) -> dict[tuple[str, str], ExportEntry]:
    found: dict[tuple[str, str], ExportEntry] = {}
    for entry in sorted(entries, key=lambda e: (e.type, e.value, e.stix_id, e.observable_id)):
        found.setdefault((entry.type, entry.value), entry)
    return found
