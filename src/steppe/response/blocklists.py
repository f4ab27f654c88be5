"""Blocklists: named lists of indicators an organisation sends to its enforcement devices.

A blocklist belongs to one organisation and holds indicators by STIX id. Its users
add and remove entries; an entry is never deleted, only marked removed (who, when), so
an incremental export (:mod:`steppe.response.exports`) can tell a device what left the
list. An actor may only add indicators it may see
(:func:`steppe.sharing.policy.visible_filter`); what an export of the list contains is
again filtered by the requester's visibility, so a list never widens anyone's view.

    >>> add_to_blocklist(conn, trail, actor, "perimeter", ["indicator--…"], "phishing")
    ...                                                             # doctest: +SKIP
    1
    >>> [b.name for b in list_blocklists(conn, actor)]              # doctest: +SKIP
    ['perimeter']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, Forbidden, InputError, NotFound
from steppe.sharing.model import Actor, Role
from steppe.sharing.policy import require_reader, visible_filter
from steppe.storage import timestamps
from steppe.storage.schema import blocklist_entries, blocklists, intel_objects

__all__ = [
    "BLOCKLIST_WRITERS",
    "Blocklist",
    "BlocklistEntry",
    "add_to_blocklist",
    "create_blocklist",
    "find_blocklist",
    "list_blocklists",
    "list_entries",
    "remove_from_blocklist",
]

#: Roles that may change their organisation's blocklists (readers only read them).
BLOCKLIST_WRITERS = frozenset({Role.ANALYST, Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_MAX_IDS = 10_000
_MAX_REASON = 2_000


@dataclass(frozen=True, slots=True)
class Blocklist:
    id: int
    org_id: int
    name: str
    description: str
    created_at: str
    created_by: str
    entries: int  # active entries


@dataclass(frozen=True, slots=True)
class BlocklistEntry:
    stix_id: str
    added_at: str
    added_by: str
    reason: str
    removed_at: str | None
    removed_by: str | None


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InputError(
            f"{name[:100]!r} is not a blocklist name: 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field="blocklist",
        )
    return name


def _require_writer(actor: Actor) -> None:
    if not actor.roles & BLOCKLIST_WRITERS:
        raise Forbidden(f"{actor.user_name} may not change blocklists (needs analyst or above)")


def find_blocklist(conn: Connection, actor: Actor, name: str) -> Blocklist:
    """The actor's organisation's blocklist ``name``; NotFound otherwise (also for another
    organisation's list of that name: lists are private to their organisation)."""
    require_reader(actor)
    _check_name(name)
    b, e = blocklists, blocklist_entries
    active = (
        select(func.count())
        .where(e.c.blocklist_id == b.c.id, e.c.removed_at.is_(None))
        .scalar_subquery()
    )
    row = conn.execute(
        select(b, active.label("entries")).where(b.c.org_id == actor.org_id, b.c.name == name)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no blocklist {name!r} in your organisation")
    return Blocklist(
        row.id, row.org_id, row.name, row.description, row.created_at, row.created_by, row.entries
    )


def list_blocklists(conn: Connection, actor: Actor) -> list[Blocklist]:
    """The actor's organisation's blocklists, by name."""
    require_reader(actor)
    names = conn.scalars(
        select(blocklists.c.name)
        .where(blocklists.c.org_id == actor.org_id)
        .order_by(blocklists.c.name)
    ).all()
    return [find_blocklist(conn, actor, name) for name in names]


def create_blocklist(
    conn: Connection, trail: AuditTrail, actor: Actor, name: str, description: str = ""
) -> Blocklist:
    """Create the blocklist ``name`` for the actor's organisation (it must not exist)."""
    _require_writer(actor)
    _check_name(name)
    exists = conn.scalar(
        select(blocklists.c.id).where(
            blocklists.c.org_id == actor.org_id, blocklists.c.name == name
        )
    )
    if exists is not None:
        raise Conflict(f"your organisation already has a blocklist {name!r}")
    conn.execute(
        insert(blocklists).values(
            org_id=actor.org_id,
            name=name,
            description=description[:_MAX_REASON],
            created_at=timestamps.now(),
            created_by=actor.user_name,
        )
    )
    trail.record(conn, "blocklist.create", f"blocklist {name}", {"org_id": actor.org_id})
    return find_blocklist(conn, actor, name)


def add_to_blocklist(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    blocklist: str,
    indicator_ids: Sequence[str],
    reason: str = "",
) -> int:
    """Add indicators (STIX ids) to the actor's organisation's blocklist ``blocklist``,
    creating the list if missing. Returns how many were added (ids already on the list
    are left as they are). Every id must be an indicator the actor may see; one that is
    not, or does not exist, fails the whole call with the same NotFound."""
    _require_writer(actor)
    _check_name(blocklist)
    wanted = list(dict.fromkeys(indicator_ids))
    if not wanted:
        raise InputError("give at least one indicator id", field="indicator_ids")
    if len(wanted) > _MAX_IDS:
        raise InputError(f"at most {_MAX_IDS} indicator ids per call", field="indicator_ids")
    seen = set(
        conn.scalars(
            select(intel_objects.c.stix_id)
            .where(
                intel_objects.c.stix_id.in_(wanted),
                intel_objects.c.type == "indicator",
                intel_objects.c.is_current.is_(True),
                visible_filter(actor, intel_objects),
            )
            .distinct()
        )
    )
    missing = [i for i in wanted if i not in seen]
    if missing:
        raise NotFound(f"indicator_ids: no indicator {missing[0]!r} you may see")
    try:
        listed = find_blocklist(conn, actor, blocklist)
    except NotFound:
        listed = create_blocklist(conn, trail, actor, blocklist)
    present = set(
        conn.scalars(
            select(blocklist_entries.c.stix_id).where(
                blocklist_entries.c.blocklist_id == listed.id,
                blocklist_entries.c.removed_at.is_(None),
                blocklist_entries.c.stix_id.in_(wanted),
            )
        )
    )
    new = [i for i in wanted if i not in present]
    if new:
        now = timestamps.now()
        conn.execute(
            insert(blocklist_entries),
            [
                {
                    "blocklist_id": listed.id,
                    "stix_id": stix_id,
                    "added_at": now,
                    "added_by": actor.user_name,
                    "reason": reason[:_MAX_REASON],
                }
                for stix_id in new
            ],
        )
        trail.record(
            conn,
            "blocklist.add",
            f"blocklist {blocklist}",
            {"org_id": actor.org_id, "indicators": new, "reason": reason[:_MAX_REASON]},
        )
    return len(new)


def remove_from_blocklist(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    blocklist: str,
    indicator_ids: Sequence[str],
) -> int:
    """Mark entries of the blocklist removed; returns how many were on it."""
    _require_writer(actor)
    listed = find_blocklist(conn, actor, blocklist)
    wanted = list(dict.fromkeys(indicator_ids))
    if not wanted or len(wanted) > _MAX_IDS:
        raise InputError(f"give 1 to {_MAX_IDS} indicator ids", field="indicator_ids")
    e = blocklist_entries
    removed = conn.execute(
        update(e)
        .where(e.c.blocklist_id == listed.id, e.c.removed_at.is_(None), e.c.stix_id.in_(wanted))
        .values(removed_at=timestamps.now(), removed_by=actor.user_name)
    ).rowcount
    if removed:
        trail.record(
            conn,
            "blocklist.remove",
            f"blocklist {blocklist}",
            {"org_id": actor.org_id, "indicators": wanted},
        )
    return int(removed)


def list_entries(
    conn: Connection, actor: Actor, blocklist: str, *, include_removed: bool = False
) -> list[BlocklistEntry]:
    """The entries of the actor's organisation's blocklist, oldest first. Entries whose
    indicator the actor may no longer see are left out (a list never widens a view)."""
    listed = find_blocklist(conn, actor, blocklist)
    e = blocklist_entries
    visible = (
        select(intel_objects.c.stix_id)
        .where(
            intel_objects.c.stix_id == e.c.stix_id,
            intel_objects.c.is_current.is_(True),
            visible_filter(actor, intel_objects),
        )
        .exists()
    )
    query = select(e).where(e.c.blocklist_id == listed.id, visible).order_by(e.c.id)
    if not include_removed:
        query = query.where(e.c.removed_at.is_(None))
    return [
        BlocklistEntry(r.stix_id, r.added_at, r.added_by, r.reason, r.removed_at, r.removed_by)
        for r in conn.execute(query)
    ]
