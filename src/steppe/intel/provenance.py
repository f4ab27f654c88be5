"""Provenance: which feeds said a value, since when, until when, with what confidence.

One observable, many sources: the same address may be listed by the center's ipsum
feed and by a member's own blocklist. Each listing is a ``feed_entries`` row tied to the
indicator the feed made of it (whose row and observable hold the listing's value,
confidence, first seen and expiry), and it is shown to an actor only when the actor may see
that indicator (:func:`steppe.sharing.policy.visible_filter`): a group-only feed's
listing stays invisible outside its groups, exactly like the indicator.

    >>> sources_of_values(conn, actor, [("ipv4", "198.51.100.7")])  # doctest: +SKIP
    {('ipv4', '198.51.100.7'): [Source(feed='ipsum', owner='Regional Center', ...)]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, FromClause, Select, and_, case, func, select

from steppe.sharing.model import Actor
from steppe.sharing.policy import require_reader, visible_filter
from steppe.storage.schema import feed_entries, feeds, intel_objects, observables, organisations

__all__ = ["Source", "sources_of_objects", "sources_of_values"]


@dataclass(frozen=True, slots=True)
class Source:
    """One feed's listing of a value."""

    type: str
    value: str
    feed: str
    owner: str
    stix_id: str
    confidence: int | None
    first_seen: str
    last_seen: str
    expired_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _query(actor: Actor, listed: FromClause) -> Select[Any]:
    """Visible listings; ``listed`` is the alias of ``observables`` their values come from.

    An entry's confidence, first seen (``valid_from``) and expiry (``valid_until``) are
    its current version's; while it is listed it was last seen at the feed's latest pull
    (``last_version_at``, or the version's ``modified`` before any recorded pull), once
    expired at the pull before (``feed_entries.last_seen``).
    """
    o = intel_objects
    return (
        select(
            listed.c.type,
            listed.c.value,
            feeds.c.name.label("feed"),
            organisations.c.name.label("owner"),
            o.c.stix_id,
            o.c.confidence,
            o.c.valid_from.label("first_seen"),
            case(
                (o.c.valid_until.is_(None), func.coalesce(feeds.c.last_version_at, o.c.modified)),
                else_=func.coalesce(feed_entries.c.last_seen, o.c.valid_until),
            ).label("last_seen"),
            o.c.valid_until.label("expired_at"),
        )
        .select_from(
            feed_entries.join(o, o.c.pk == feed_entries.c.object_pk)
            .join(listed, listed.c.object_pk == feed_entries.c.object_pk)
            .join(feeds, feeds.c.id == feed_entries.c.feed_id)
            .join(organisations, organisations.c.id == feeds.c.owner_org_id)
        )
        .where(visible_filter(actor, o))
    )


def _source(r: Any) -> Source:
    return Source(
        r.type,
        r.value,
        r.feed,
        r.owner,
        r.stix_id,
        r.confidence,
        r.first_seen,
        r.last_seen,
        r.expired_at,
    )


def sources_of_values(
    conn: Connection, actor: Actor, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[Source]]:
    """The listings ``actor`` may see of each ``(type, canonical value)``."""
    require_reader(actor)
    found: dict[tuple[str, str], list[Source]] = {}
    for kind, value in dict.fromkeys(keys):
        # Through observables (indexed by value): feed_entries is keyed by object only.
        listed = observables.alias("listed")
        rows = conn.execute(
            _query(actor, listed)
            .where(listed.c.value == value, listed.c.type == kind)
            .order_by(intel_objects.c.valid_from, feeds.c.name)
        )
        found[(kind, value)] = [_source(r) for r in rows]
    return found


def sources_of_objects(
    conn: Connection, actor: Actor, object_pks: Sequence[int]
) -> dict[int, list[Source]]:
    """For each object, the visible listings of the values it carries (its observables)."""
    require_reader(actor)
    out: dict[int, list[Source]] = {pk: [] for pk in object_pks}
    if not object_pks:
        return out
    carried = observables.alias("carried")  # the values of the objects asked about
    listed = observables.alias("listed")  # the same values in the feeds' indicators
    query = (
        _query(actor, listed)
        .add_columns(carried.c.object_pk.label("for_pk"))
        .join(
            carried,
            and_(carried.c.value == listed.c.value, carried.c.type == listed.c.type),
        )
        .where(carried.c.object_pk.in_(list(object_pks)))
        .order_by(intel_objects.c.valid_from, feeds.c.name)
    )
    for r in conn.execute(query):
        out[r.for_pk].append(_source(r))
    return out
