"""The feed registry: which sources are pulled, for whom, how often, and how they fared.

A feed names a URL (``http(s)://`` or ``file://``), its format, the organisation that
owns what it brings in, and the audience (distribution, sharing groups, TLP) of its
indicators. Whether an actor may know a feed exists is the policy's decision for an
object with the feed's owner and audience (:func:`steppe.sharing.policy.can_see`); who
may change it: instance admins, and the owner organisation's org-admins and analysts.

    >>> parse_every("90m")
    5400
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, Forbidden, InputError, NotFound
from steppe.sharing.directory import Organisation, SharingGroup
from steppe.sharing.model import Actor, Distribution, ObjectRights, OrgKind, Role, TlpLevel
from steppe.sharing.policy import can_see, check_marking
from steppe.storage import timestamps
from steppe.storage.schema import feed_groups, feeds, organisations, sharing_groups

__all__ = [
    "MANAGER_ROLES",
    "PRESETS",
    "Feed",
    "FeedFormat",
    "FeedSpec",
    "add_feed",
    "can_manage",
    "delete_feed_row",
    "due_feeds",
    "find_feed",
    "list_feeds",
    "parse_every",
    "record_pull",
    "require_manager",
]

#: Roles of the owner organisation that may add, pull and remove its feeds.
MANAGER_ROLES = frozenset({Role.ORG_ADMIN, Role.ANALYST})

#: Preset column mappings of well-known list feeds (``--preset``).
PRESETS = ("ipsum", "signature-base", "plain")


class FeedFormat(StrEnum):
    CSV = "csv"  # delimited rows, with a mapping or a preset
    PLAIN = "plain"  # one value per line
    MISP_FEED = "misp-feed"  # a MISP feed folder: manifest.json + <uuid>.json
    MISP_EVENT = "misp-event"  # one MISP event JSON
    STIX = "stix"  # a STIX 2.1 bundle
    TEXT = "text"  # free text: values are extracted (refanged)


#: Formats whose entries take the fast path (rows built directly); the others are
#: STIX after reading and go through ``import_objects``.
LIST_FORMATS = frozenset({FeedFormat.CSV, FeedFormat.PLAIN, FeedFormat.TEXT})

_EVERY = re.compile(r"([0-9]+)\s*([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_URL = re.compile(r"(https?|file)://\S+")


def parse_every(text: str) -> int:
    """Seconds of an interval like ``30m``, ``1h``, ``1d``; at least a minute."""
    m = _EVERY.fullmatch(text.strip().lower())
    if m is None:
        raise InputError(f"{text!r} is not an interval like 30m, 1h or 1d", field="every")
    seconds = int(m.group(1)) * _UNIT[m.group(2)]
    if seconds < 60:
        raise InputError("pull at most once a minute", field="every")
    return seconds


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """What a new feed needs (checked by :func:`add_feed`)."""

    name: str
    url: str
    format: FeedFormat
    owner: Organisation
    distribution: Distribution = Distribution.ORGANISATION
    tlp: TlpLevel = TlpLevel.AMBER
    groups: tuple[SharingGroup, ...] = ()
    every_seconds: int | None = None
    preset: str | None = None
    mapping: dict[str, Any] | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed as stored, with the state of its last pull."""

    id: int
    name: str
    owner_org_id: int
    owner: str
    distribution: Distribution
    tlp: TlpLevel
    group_ids: frozenset[int]
    groups: tuple[str, ...]
    format: FeedFormat
    preset: str | None
    mapping: dict[str, Any] | None
    url: str
    every_seconds: int | None
    enabled: bool
    created_at: str
    etag: str | None = None
    last_modified: str | None = None
    last_pull_at: str | None = None
    last_version_at: str | None = None
    last_success_at: str | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_stats: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    group_map: tuple[tuple[int, str], ...] = ()  # (group id, name) of its groups

    @property
    def rights(self) -> ObjectRights:
        """The feed's audience, as the policy judges objects."""
        return ObjectRights(self.owner_org_id, self.distribution, self.tlp, self.group_ids)

    def is_due(self, now: str) -> bool:
        if not self.enabled or self.every_seconds is None:
            return False
        if self.last_pull_at is None:
            return True
        elapsed = timestamps.parse(now) - timestamps.parse(self.last_pull_at)
        return elapsed.total_seconds() >= self.every_seconds

    @property
    def health(self) -> str:
        """``ok``, ``never pulled``, ``failing`` (last pull failed), ``disabled``."""
        if not self.enabled:
            return "disabled"
        if self.last_status is None:
            return "never pulled"
        if self.last_status == "error":
            return "failing"
        bad = int(self.last_stats.get("bad_rows", 0))
        return f"ok ({bad} bad rows)" if bad else "ok"


def can_manage(actor: Actor, feed: Feed | ObjectRights) -> bool:
    owner = feed.owner_org_id
    if Role.ADMIN in actor.roles:
        return True
    return actor.org_id == owner and bool(actor.roles & MANAGER_ROLES)


def require_manager(actor: Actor, owner_org_id: int) -> None:
    if Role.ADMIN in actor.roles:
        return
    if actor.org_id != owner_org_id or not actor.roles & MANAGER_ROLES:
        raise Forbidden("feeds are managed by admins and the owner's org-admins and analysts")


def add_feed(conn: Connection, trail: AuditTrail, spec: FeedSpec) -> Feed:
    """Register a feed; its name must be new. Audited as ``feed.add``."""
    name = spec.name.strip()
    if not name or len(name) > 200 or any(c in name for c in "/\x00\n"):
        raise InputError("must be 1-200 characters, without '/' or control", field="name")
    if _URL.fullmatch(spec.url) is None:
        raise InputError("must be an http://, https:// or file:// URL", field="url")
    if spec.owner.kind is OrgKind.PEER:
        raise Forbidden("peer centers deliver intel by federation sync, not by feeds")
    check_marking(spec.distribution, spec.tlp, [g.id for g in spec.groups])
    for group in spec.groups:
        if spec.owner.id not in group.member_org_ids and spec.owner.id != group.owner_org_id:
            raise InputError(f"{spec.owner.name!r} is not in sharing group {group.name!r}")
    if conn.execute(select(feeds.c.id).where(feeds.c.name == name)).first() is not None:
        raise Conflict(f"a feed named {name!r} exists")
    feed_id = conn.execute(
        insert(feeds)
        .values(
            name=name,
            owner_org_id=spec.owner.id,
            distribution=spec.distribution.value,
            tlp=spec.tlp.value,
            format=spec.format.value,
            preset=spec.preset,
            mapping=None if spec.mapping is None else orjson.dumps(spec.mapping).decode(),
            url=spec.url,
            every_seconds=spec.every_seconds,
            enabled=spec.enabled,
            created_at=timestamps.now(),
            totals="{}",
        )
        .returning(feeds.c.id)
    ).scalar_one()
    for group in spec.groups:
        conn.execute(insert(feed_groups).values(feed_id=feed_id, group_id=group.id))
    trail.record(
        conn,
        "feed.add",
        f"feed {name}",
        {
            "url": spec.url,
            "format": spec.format.value,
            "owner": spec.owner.name,
            "distribution": spec.distribution.value,
            "groups": [g.name for g in spec.groups],
            "tlp": spec.tlp.value,
            "every_seconds": spec.every_seconds,
        },
    )
    return find_feed(conn, name)


def list_feeds(conn: Connection, actor: Actor | None = None) -> list[Feed]:
    """Every feed (``actor`` None: the local operator), or those ``actor`` may know of."""
    found = _load(conn)
    if actor is None:
        return found
    return [f for f in found if can_manage(actor, f) or can_see(actor, f.rights)]


def find_feed(conn: Connection, name: str, actor: Actor | None = None) -> Feed:
    """The feed called ``name``; NotFound too when ``actor`` may not know it exists."""
    found = _load(conn, name)
    if not found or (
        actor is not None and not (can_manage(actor, found[0]) or can_see(actor, found[0].rights))
    ):
        raise NotFound(f"no feed named {name!r}")
    return found[0]


def due_feeds(conn: Connection, now: str | None = None) -> list[Feed]:
    moment = now or timestamps.now()
    return [f for f in _load(conn) if f.is_due(moment)]


def record_pull(
    conn: Connection,
    feed: Feed,
    *,
    at: str,
    status: str,
    error: str | None = None,
    stats: dict[str, Any] | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    version_at: str | None = None,
    state: dict[str, Any] | None = None,
) -> None:
    """Store the outcome of a pull: status, error, stats; totals add the stats up."""
    values: dict[str, Any] = {"last_pull_at": at, "last_status": status, "last_error": error}
    if status != "error":
        values["last_success_at"] = at
        values["etag"] = etag
        values["last_modified"] = last_modified
    if stats is not None:
        values["last_stats"] = orjson.dumps(stats).decode()
        totals = dict(feed.totals)
        totals["pulls"] = int(totals.get("pulls", 0)) + 1
        for key, number in stats.items():
            if isinstance(number, int) and key != "entries":
                totals[key] = int(totals.get(key, 0)) + number
        values["totals"] = orjson.dumps(totals).decode()
    elif status == "error":
        totals = dict(feed.totals)
        totals["errors"] = int(totals.get("errors", 0)) + 1
        values["totals"] = orjson.dumps(totals).decode()
    if version_at is not None:
        values["last_version_at"] = version_at
    if state is not None:
        values["state"] = orjson.dumps(state).decode()
    conn.execute(update(feeds).where(feeds.c.id == feed.id).values(**values))


def delete_feed_row(conn: Connection, feed: Feed) -> None:
    conn.execute(delete(feed_groups).where(feed_groups.c.feed_id == feed.id))
    conn.execute(delete(feeds).where(feeds.c.id == feed.id))


def _load(conn: Connection, name: str | None = None) -> list[Feed]:
    query = select(feeds, organisations.c.name.label("owner")).join(
        organisations, organisations.c.id == feeds.c.owner_org_id
    )
    if name is not None:
        query = query.where(feeds.c.name == name)
    rows = conn.execute(query.order_by(feeds.c.name)).all()
    if not rows:
        return []
    groups: dict[int, list[tuple[int, str]]] = {}
    for feed_id, group_id, group_name in conn.execute(
        select(feed_groups.c.feed_id, sharing_groups.c.id, sharing_groups.c.name).join(
            sharing_groups, sharing_groups.c.id == feed_groups.c.group_id
        )
    ):
        groups.setdefault(feed_id, []).append((group_id, group_name))
    return [_feed(r, groups.get(r.id, [])) for r in rows]


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    loaded = orjson.loads(text)
    return loaded if isinstance(loaded, dict) else {}


def _feed(r: Any, groups: list[tuple[int, str]]) -> Feed:
    return Feed(
        id=r.id,
        name=r.name,
        owner_org_id=r.owner_org_id,
        owner=r.owner,
        distribution=Distribution(r.distribution),
        tlp=TlpLevel(r.tlp),
        group_ids=frozenset(g for g, _n in groups),
        groups=tuple(sorted(n for _g, n in groups)),
        format=FeedFormat(r.format),
        preset=r.preset,
        mapping=_json(r.mapping) or None,
        url=r.url,
        every_seconds=r.every_seconds,
        enabled=bool(r.enabled),
        created_at=r.created_at,
        etag=r.etag,
        last_modified=r.last_modified,
        last_pull_at=r.last_pull_at,
        last_version_at=r.last_version_at,
        last_success_at=r.last_success_at,
        last_status=r.last_status,
        last_error=r.last_error,
        last_stats=_json(r.last_stats),
        totals=_json(r.totals),
        state=_json(r.state),
        group_map=tuple(sorted(groups)),
    )
