"""Organisations, sharing groups, users and API tokens: the coalition's directory.

Writes take a :class:`~steppe.audit.trail.AuditTrail` and record themselves in the audit
log inside the caller's transaction. Reads that show groups to a user go through
:mod:`steppe.sharing.policy` (hidden rosters).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from iso3166 import countries
from sqlalchemy import Connection, exists, insert, select
from sqlalchemy.exc import IntegrityError as DbIntegrityError

from steppe.audit.trail import AuditTrail
from steppe.errors import Conflict, Forbidden, InputError, NotFound
from steppe.sharing.model import Actor, GroupRoster, OrgKind, Role
from steppe.sharing.policy import can_see_group, can_see_roster
from steppe.storage import timestamps
from steppe.storage.schema import api_tokens, group_members, organisations, sharing_groups, users

__all__ = [
    "GroupView",
    "IssuedToken",
    "Organisation",
    "SharingGroup",
    "User",
    "add_group",
    "add_group_member",
    "add_organisation",
    "add_user",
    "authenticate_token",
    "check_may_create_group",
    "check_may_manage_group",
    "create_token",
    "find_group",
    "find_organisation",
    "get_organisation",
    "group_for_marking",
    "groups_visible_to",
    "list_groups",
    "list_organisations",
    "load_actor",
    "parse_country",
    "parse_roles",
    "visible_group",
]

TOKEN_PREFIX = "stp_"


@dataclass(frozen=True, slots=True)
class Organisation:
    id: int
    name: str
    country: str | None
    kind: OrgKind


@dataclass(frozen=True, slots=True)
class SharingGroup:
    id: int
    name: str
    description: str
    owner_org_id: int
    hidden_roster: bool
    member_org_ids: frozenset[int]

    def roster(self) -> GroupRoster:
        return GroupRoster(self.id, self.owner_org_id, self.hidden_roster, self.member_org_ids)


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group as one actor may see it: members is None when the roster is hidden to them."""

    id: int
    name: str
    description: str
    owner: str
    hidden_roster: bool
    members: tuple[str, ...] | None
    actor_is_member: bool


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    organisation_id: int
    roles: frozenset[Role]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token. ``token`` is shown once and never stored."""

    id: int
    user: str
    token: str
    prefix: str
    expires_at: str | None


def parse_country(text: str) -> str:
    """ISO 3166-1 alpha-2 code from a code or a name.

    >>> parse_country("Kazakhstan"), parse_country("kgz")
    ('KZ', 'KG')
    """
    try:
        return str(countries.get(text.strip()).alpha2)
    except KeyError:
        raise InputError(
            f"{text!r} is not an ISO 3166 country (use a code like KZ or KAZ, or its name)",
            field="country",
        ) from None


def parse_roles(text: str | Iterable[str]) -> frozenset[Role]:
    names = text.split(",") if isinstance(text, str) else list(text)
    roles: set[Role] = set()
    for name in (n.strip() for n in names):
        if not name:
            continue
        try:
            roles.add(Role(name))
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise InputError(f"unknown role {name!r}; roles are {allowed}", field="roles") from None
    if not roles:
        raise InputError("a user needs at least one role", field="roles")
    if Role.SENSOR in roles and len(roles) > 1:
        raise InputError("a sensor account holds only the sensor role", field="roles")
    return frozenset(roles)


def add_organisation(
    conn: Connection, trail: AuditTrail, name: str, country: str | None, kind: OrgKind
) -> Organisation:
    name = _clean_name(name, "organisation")
    code = parse_country(country) if country else None
    if kind is OrgKind.MEMBER and code is None:
        raise InputError("a member organisation needs its country", field="country")
    if (
        kind is OrgKind.COORDINATOR
        and conn.execute(
            select(exists().where(organisations.c.kind == OrgKind.COORDINATOR.value))
        ).scalar()
    ):
        raise Conflict("this center already has its coordinator organisation")
    try:
        with conn.begin_nested():
            org_id = conn.execute(
                insert(organisations)
                .values(name=name, country=code, kind=kind.value, created_at=timestamps.now())
                .returning(organisations.c.id)
            ).scalar_one()
    except DbIntegrityError:
        raise Conflict(f"organisation {name!r} already exists") from None
    trail.record(conn, "org.add", f"organisation {name}", {"country": code, "kind": kind.value})
    return Organisation(org_id, name, code, kind)


def list_organisations(conn: Connection) -> list[Organisation]:
    rows = conn.execute(select(organisations).order_by(organisations.c.name))
    return [Organisation(r.id, r.name, r.country, OrgKind(r.kind)) for r in rows]


def get_organisation(conn: Connection, org_id: int) -> Organisation:
    row = conn.execute(select(organisations).where(organisations.c.id == org_id)).one_or_none()
    if row is None:
        raise NotFound("organisation not found")
    return Organisation(row.id, row.name, row.country, OrgKind(row.kind))


def find_organisation(conn: Connection, name: str) -> Organisation:
    row = conn.execute(select(organisations).where(organisations.c.name == name)).one_or_none()
    if row is None:
        raise NotFound(f"no organisation named {name!r} (see `steppe org list`)")
    return Organisation(row.id, row.name, row.country, OrgKind(row.kind))


def add_group(
    conn: Connection,
    trail: AuditTrail,
    name: str,
    owner: Organisation,
    *,
    hidden_roster: bool = False,
    description: str = "",
) -> SharingGroup:
    name = _clean_name(name, "sharing group")
    if owner.kind is OrgKind.PEER:
        raise InputError("a peer center cannot own a sharing group", field="owner")
    try:
        with conn.begin_nested():
            group_id = conn.execute(
                insert(sharing_groups)
                .values(
                    name=name,
                    description=description,
                    owner_org_id=owner.id,
                    hidden_roster=hidden_roster,
                    created_at=timestamps.now(),
                )
                .returning(sharing_groups.c.id)
            ).scalar_one()
    except DbIntegrityError:
        raise Conflict(f"sharing group {name!r} already exists") from None
    trail.record(
        conn, "group.add", f"group {name}", {"owner": owner.name, "hidden_roster": hidden_roster}
    )
    return SharingGroup(group_id, name, description, owner.id, hidden_roster, frozenset())


def add_group_member(
    conn: Connection, trail: AuditTrail, group: SharingGroup, org: Organisation
) -> SharingGroup:
    if org.kind is OrgKind.PEER:
        raise InputError(
            f"{org.name!r} is a peer center; peers receive only federation intel, "
            "not sharing-group intel",
            field="organisation",
        )
    if org.id in group.member_org_ids:
        raise Conflict(f"{org.name!r} is already a member of {group.name!r}")
    conn.execute(insert(group_members).values(group_id=group.id, org_id=org.id))
    trail.record(conn, "group.add-member", f"group {group.name}", {"organisation": org.name})
    return find_group(conn, group.name)


def find_group(conn: Connection, name: str) -> SharingGroup:
    row = conn.execute(select(sharing_groups).where(sharing_groups.c.name == name)).one_or_none()
    if row is None:
        raise NotFound(f"no sharing group named {name!r} (see `steppe group list`)")
    return _group_from_row(conn, row)


def list_groups(conn: Connection) -> list[SharingGroup]:
    """Every group, for the instance operator."""
    rows = conn.execute(select(sharing_groups).order_by(sharing_groups.c.name)).all()
    return [_group_from_row(conn, r) for r in rows]


def groups_visible_to(conn: Connection, actor: Actor) -> list[GroupView]:
    """The groups ``actor`` may know of, each roster shown only where the policy allows."""
    names = {o.id: o.name for o in list_organisations(conn)}
    views = []
    for group in list_groups(conn):
        roster = group.roster()
        if not can_see_group(actor, roster):
            continue
        members = (
            tuple(sorted(names[i] for i in group.member_org_ids))
            if can_see_roster(actor, roster)
            else None
        )
        views.append(
            GroupView(
                group.id,
                group.name,
                group.description,
                names[group.owner_org_id],
                group.hidden_roster,
                members,
                actor.org_id in group.member_org_ids,
            )
        )
    return views


def add_user(
    conn: Connection, trail: AuditTrail, name: str, org: Organisation, roles: frozenset[Role]
) -> User:
    name = _clean_name(name, "user")
    if org.kind is not OrgKind.COORDINATOR and roles & {Role.ADMIN, Role.COORDINATOR}:
        raise Forbidden(
            "the admin and coordinator roles belong to the center's own staff "
            "(the coordinator organisation)"
        )
    try:
        with conn.begin_nested():
            user_id = conn.execute(
                insert(users)
                .values(
                    name=name,
                    organisation_id=org.id,
                    roles=",".join(sorted(r.value for r in roles)),
                    created_at=timestamps.now(),
                )
                .returning(users.c.id)
            ).scalar_one()
    except DbIntegrityError:
        raise Conflict(f"user {name!r} already exists") from None
    trail.record(
        conn, "user.add", f"user {name}", {"organisation": org.name, "roles": sorted(roles)}
    )
    return User(user_id, name, org.id, roles)


_ACTOR_COLUMNS = (
    users.c.id,
    users.c.name,
    users.c.roles,
    organisations.c.id.label("org_id"),
    organisations.c.kind,
)


def load_actor(conn: Connection, user_name: str) -> Actor:
    """The actor a user name stands for, with its organisation's groups as of now."""
    row = conn.execute(
        select(*_ACTOR_COLUMNS)
        .join(organisations, organisations.c.id == users.c.organisation_id)
        .where(users.c.name == user_name)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no user named {user_name!r}")
    return _actor(conn, row.id, row.name, row.roles, row.org_id, row.kind)


def create_token(
    conn: Connection,
    trail: AuditTrail,
    user_name: str,
    *,
    label: str = "",
    expires_days: int | None = None,
) -> IssuedToken:
    """A new API token for ``user_name``; only its SHA-256 is stored."""
    user = conn.execute(select(users.c.id).where(users.c.name == user_name)).scalar()
    if user is None:
        raise NotFound(f"no user named {user_name!r}")
    if expires_days is not None and expires_days <= 0:
        raise InputError("expiry must be a positive number of days", field="expires_days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    prefix = token[: len(TOKEN_PREFIX) + 6]
    expires_at = (
        timestamps.format_ts(datetime.now(UTC) + timedelta(days=expires_days))
        if expires_days
        else None
    )
    token_id = conn.execute(
        insert(api_tokens)
        .values(
            user_id=user,
            token_hash=_token_hash(token),
            prefix=prefix,
            label=label,
            created_at=timestamps.now(),
            expires_at=expires_at,
        )
        .returning(api_tokens.c.id)
    ).scalar_one()
    trail.record(conn, "token.create", f"user {user_name}", {"prefix": prefix, "label": label})
    return IssuedToken(token_id, user_name, token, prefix, expires_at)


def authenticate_token(conn: Connection, token: str) -> Actor:
    """The actor behind a bearer token; NotFound for unknown, revoked or expired ones."""
    row = conn.execute(
        select(*_ACTOR_COLUMNS, api_tokens.c.expires_at, api_tokens.c.revoked_at)
        .select_from(api_tokens.join(users).join(organisations))
        .where(api_tokens.c.token_hash == _token_hash(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        raise NotFound("unknown or revoked token")
    if row.expires_at is not None and row.expires_at <= timestamps.now():
        raise NotFound("token has expired")
    return _actor(conn, row.id, row.name, row.roles, row.org_id, row.kind)


def _actor(conn: Connection, user_id: int, name: str, roles: str, org_id: int, kind: str) -> Actor:
    group_ids = conn.execute(
        select(group_members.c.group_id).where(group_members.c.org_id == org_id)
    ).scalars()
    return Actor(
        user_id=user_id,
        user_name=name,
        org_id=org_id,
        org_kind=OrgKind(kind),
        roles=frozenset(Role(r) for r in roles.split(",") if r),
        group_ids=frozenset(group_ids),
    )


def _group_from_row(conn: Connection, row: object) -> SharingGroup:
    gid: int = row.id  # type: ignore[attr-defined]
    members = conn.execute(
        select(group_members.c.org_id).where(group_members.c.group_id == gid)
    ).scalars()
    return SharingGroup(
        gid,
        row.name,  # type: ignore[attr-defined]
        row.description,  # type: ignore[attr-defined]
        row.owner_org_id,  # type: ignore[attr-defined]
        bool(row.hidden_roster),  # type: ignore[attr-defined]
        frozenset(members),
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clean_name(name: str, what: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InputError(f"{what} name is empty", field="name")
    if len(cleaned) > 200:
        raise InputError(f"{what} name is longer than 200 characters", field="name")
    return cleaned


def visible_group(conn: Connection, actor: Actor, name: str) -> SharingGroup:
    """A group ``actor`` may know of; the same NotFound for unknown and invisible ones."""
    try:
        group = find_group(conn, name)
    except NotFound:
        raise NotFound(f"no sharing group named {name!r}") from None
    if can_see_group(actor, group.roster()):
        return group
    raise NotFound(f"no sharing group named {name!r}")


def group_for_marking(conn: Connection, actor: Actor, name: str, *, field: str) -> SharingGroup:
    """A group ``actor`` may mark intel for: one its organisation is in or owns. Others
    are answered as unknown (an InputError on ``field``), so a name confirms nothing."""
    unknown = InputError(f"no sharing group named {name!r}", field=field)
    try:
        group = find_group(conn, name)
    except NotFound:
        raise unknown from None
    if actor.org_id not in group.member_org_ids and actor.org_id != group.owner_org_id:
        raise unknown
    return group


def check_may_create_group(actor: Actor, owner_org_id: int) -> None:
    """Admins and coordinators create groups for any owner, org-admins for their own."""
    if not actor.roles & {Role.ADMIN, Role.COORDINATOR, Role.ORG_ADMIN}:
        raise Forbidden("this needs the admin, coordinator or org-admin role")
    if owner_org_id != actor.org_id and not actor.roles & {Role.ADMIN, Role.COORDINATOR}:
        raise Forbidden("org-admins create groups owned by their own organisation")


def check_may_manage_group(actor: Actor, group: SharingGroup) -> None:
    """Members are added by admins, or by org-admins of the owner organisation."""
    if Role.ADMIN in actor.roles:
        return
    if Role.ORG_ADMIN not in actor.roles or group.owner_org_id != actor.org_id:
        raise Forbidden("only the owner organisation's org-admins manage this group")
