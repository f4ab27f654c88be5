"""Sightings as STIX 2.1 ``sighting`` objects, for the exports of one reader.

The reader gets a sighting when it may see the object sighted (the current version, by
the policy's :func:`~steppe.sharing.policy.visible_filter`), marked with that object's
TLP (derived data never travels wider than its source). ``where_sighted_refs`` names
the sighting organisation only where :func:`~steppe.intel.sightings.sighter_shown`
allows it — the organisation allowed naming, or the reader is that organisation —
and then the organisation's ``identity`` object comes along; otherwise the property is
left out. Steppe's sighting type (seen, false-positive, expired) has no STIX property:
it travels as ``x_steppe_sighting_type``.

Ids are deterministic (uuid5 of the stored sighting, and of the organisation's name), so
exporting twice gives the same objects and a consumer deduplicates them.

    >>> objects = list(sighting_objects(conn, actor))  # doctest: +SKIP
    >>> export_bundle(conn, actor, out, bundle_id=…, extra=objects)  # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, and_, select

from steppe.intel.sightings import sighter_shown
from steppe.intel.stix import tlp_marking_id
from steppe.sharing.model import Actor, TlpLevel
from steppe.sharing.policy import require_reader, visible_filter
from steppe.storage.schema import intel_objects, organisations, sightings

__all__ = ["SIGHTING_NAMESPACE", "organisation_identity_id", "sighting_objects"]

#: Namespace of the uuid5 ids of exported sightings and organisation identities.
SIGHTING_NAMESPACE = uuid.UUID("3c9b2a51-7e0d-4c6f-a8b4-1d2e3f405162")


def organisation_identity_id(name: str) -> str:
    """The STIX ``identity`` id standing for the organisation called ``name``."""
    return f"identity--{uuid.uuid5(SIGHTING_NAMESPACE, f'organisation:{name}')}"


def sighting_objects(conn: Connection, actor: Actor) -> Iterator[dict[str, Any]]:
    """STIX ``sighting`` objects (and the ``identity`` of each organisation named) of
    every sighting ``actor`` may see, oldest first."""
    require_reader(actor)
    o, s = intel_objects, sightings
    query = (
        select(
            s.c.id,
            s.c.stix_id,
            s.c.org_id,
            s.c.type,
            s.c["count"],
            s.c.first_seen,
            s.c.last_seen,
            s.c.named,
            s.c.created_at,
            o.c.tlp,
            organisations.c.name.label("org_name"),
            organisations.c.created_at.label("org_created_at"),
        )
        .join(
            o,
            and_(
                o.c.stix_id == s.c.stix_id,
                o.c.owner_org_id == s.c.owner_org_id,
                o.c.is_current.is_(True),
            ),
        )
        .join(organisations, organisations.c.id == s.c.org_id)
        .where(visible_filter(actor, o))
        .order_by(s.c.id)
    )
    named: set[int] = set()
    for row in conn.execute(query).yield_per(2000):
        marking = tlp_marking_id(TlpLevel(row.tlp))
        sighting: dict[str, Any] = {
            "type": "sighting",
            "spec_version": "2.1",
            "id": f"sighting--{uuid.uuid5(SIGHTING_NAMESPACE, f'sighting:{row.id}:{row.created_at}')}",
            "created": row.created_at,
            "modified": row.created_at,
            "sighting_of_ref": row.stix_id,
            "count": row._mapping["count"],  # row.count is the tuple method
            "first_seen": row.first_seen,
            "last_seen": row.last_seen,
            "object_marking_refs": [marking],
            "x_steppe_sighting_type": row.type,
        }
        if sighter_shown(actor, row.org_id, bool(row.named)):
            identity = organisation_identity_id(row.org_name)
            sighting["where_sighted_refs"] = [identity]
            if row.org_id not in named:
                named.add(row.org_id)
                yield {
                    "type": "identity",
                    "spec_version": "2.1",
                    "id": identity,
                    "created": row.org_created_at,
                    "modified": row.org_created_at,
                    "name": row.org_name,
                    "identity_class": "organization",
                    "object_marking_refs": [tlp_marking_id(TlpLevel.CLEAR)],
                }
        yield sighting
