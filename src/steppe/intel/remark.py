"""Re-marking an object: share it wider (or narrower) by storing a new version.

Only the owner organisation re-marks its objects. The change is a new version (its
``modified`` just after the current one), so history keeps who could see what when,
and everything that follows versions — TAXII, node sync, the IOC index's refresh — sees
the change as it sees any other. The new TLP replaces the object's own TLP marking.

    >>> share_object(conn, trail, analyst, "indicator--…", distribution=Distribution.GROUPS,
    ...              tlp=TlpLevel.AMBER, groups=("CSTO",))               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import orjson
from sqlalchemy import Connection, select

from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, Forbidden
from steppe.intel.config import IntelConfig
from steppe.intel.importer import Marking, import_objects
from steppe.intel.queries import StoredObject, get_own_current, get_stored
from steppe.intel.stix import TLP_MARKING_IDS, tlp_marking_id
from steppe.sharing import directory
from steppe.sharing.model import Actor, Distribution, Role, TlpLevel
from steppe.sharing.policy import check_marking
from steppe.storage import timestamps
from steppe.storage.schema import object_groups, sharing_groups

__all__ = ["groups_of_object", "share_object"]

_WRITERS = frozenset({Role.ANALYST, Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN})


def groups_of_object(conn: Connection, pk: int) -> list[str]:
    """Names of the sharing groups a stored version is for (distribution ``groups``)."""
    return list(
        conn.scalars(
            select(sharing_groups.c.name)
            .join(object_groups, object_groups.c.group_id == sharing_groups.c.id)
            .where(object_groups.c.object_pk == pk)
            .order_by(sharing_groups.c.name)
        )
    )


def _groups(
    conn: Connection, actor: Actor, names: Sequence[str]
) -> tuple[directory.SharingGroup, ...]:
    """Groups named by the actor: only those its organisation is in or owns (others are
    answered as unknown, so a name does not confirm a group exists)."""
    return tuple(directory.group_for_marking(conn, actor, n, field="groups") for n in names)


def share_object(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    stix_id: str,
    *,
    distribution: Distribution,
    tlp: TlpLevel,
    groups: Sequence[str] = (),
    config: IntelConfig | None = None,
) -> StoredObject:
    """Store a new version of ``stix_id`` (the actor's organisation's) with this marking."""
    if not actor.roles & _WRITERS:
        raise Forbidden("re-marking intel needs the analyst, org-admin or admin role")
    current = get_own_current(conn, actor, stix_id)
    chosen = _groups(conn, actor, groups)
    check_marking(distribution, tlp, [g.id for g in chosen])
    obj = dict(current.body)
    refs = [r for r in obj.get("object_marking_refs") or () if r not in TLP_MARKING_IDS]
    obj["object_marking_refs"] = [*refs, tlp_marking_id(tlp)]
    # Now, or just after the current version if that one is dated in the future.
    later = timestamps.parse(current.modified) + timedelta(milliseconds=1)
    obj["modified"] = max(timestamps.now(), timestamps.format_ts(later))[:23] + "Z"
    data = orjson.dumps(obj)
    report = import_objects(
        conn,
        trail,
        data,
        [obj],
        owner=directory.get_organisation(conn, actor.org_id),
        marking=Marking(distribution, tlp, chosen),
        source="re-marking",
        config=config,
    )
    if report.new_versions != 1:
        raise Conflict(f"{stix_id} was not stored as a new version")
    trail.record(
        conn,
        "intel.share",
        stix_id,
        {"distribution": distribution.value, "tlp": tlp.value, "groups": [g.name for g in chosen]},
    )
    return get_stored(conn, actor, stix_id)
