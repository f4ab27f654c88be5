"""Adding a tag to a stored object: a new version of it, with the label, by its owner.

Objects are versioned per owner (docs/sharing.md), so a tag is a change like any other:
only the owner organisation may make it, and it lands as a new version through the
importer — checked (:mod:`steppe.intel.taxonomies`), audited, its ATT&CK attack-pattern
created, with the current version's audience kept.

    >>> add_tag(conn, trail, actor, "indicator--…", "PAP:AMBER")  # doctest: +SKIP
    ['PAP:AMBER']
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, select

from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, Forbidden
from steppe.intel import taxonomies
from steppe.intel.config import IntelConfig
from steppe.intel.importer import Marking, import_objects
from steppe.intel.queries import get_own_current
from steppe.sharing import directory
from steppe.sharing.model import Actor, Distribution, Role, TlpLevel
from steppe.storage import timestamps
from steppe.storage.schema import object_groups, sharing_groups

__all__ = ["TAGGING_ROLES", "add_tag"]

TAGGING_ROLES = frozenset({Role.ANALYST, Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN})


def add_tag(
    conn: Connection,
    trail: AuditTrail,
    actor: Actor,
    stix_id: str,
    tag: str,
    config: IntelConfig | None = None,
) -> list[str]:
    """Tag the actor's organisation's object ``stix_id``; returns the labels it now has.

    NotFound when the actor may not see the object, Forbidden when it is another
    organisation's, InvalidTag / MarkingConflict for a bad tag.
    """
    cfg = config or IntelConfig()
    if not actor.roles & TAGGING_ROLES:
        raise Forbidden("tagging needs the analyst, org-admin or coordinator role")
    current = get_own_current(conn, actor, stix_id)
    tlp = TlpLevel(current.tlp)
    new = taxonomies.normalise_tags([tag], tlp, cfg.free_tags)
    obj: dict[str, Any] = dict(current.body)
    labels = list(obj.get("labels") or [])
    if all(label in labels for label in new):
        return labels  # already tagged: no new version
    obj["labels"] = labels + [label for label in new if label not in labels]
    later = timestamps.parse(current.modified) + timedelta(milliseconds=1)
    obj["modified"] = max(timestamps.now(), timestamps.format_ts(later))[:23] + "Z"
    groups = tuple(
        directory.find_group(conn, name)
        for name in conn.execute(
            select(sharing_groups.c.name)
            .join(object_groups, object_groups.c.group_id == sharing_groups.c.id)
            .where(object_groups.c.object_pk == current.pk)
        ).scalars()
    )
    report = import_objects(
        conn,
        trail,
        orjson.dumps(obj),
        [obj],
        owner=directory.get_organisation(conn, actor.org_id),
        marking=Marking(Distribution(current.distribution), tlp, groups),
        source=f"tag {tag}",
        config=cfg,
    )
    if report.new_versions != 1:
        raise Conflict("the tag was not stored as a new version")
    stored: list[str] = obj["labels"]
    return stored
