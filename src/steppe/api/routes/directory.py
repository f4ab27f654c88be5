"""/organisations, /groups, /users, /me: the coalition's directory over HTTP.

``/organisations/{org}/sighting-preference`` says whether the organisation's sightings
name it to the producers of the intel it sighted (see docs/api.md).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from sqlalchemy import Connection, select
from starlette.responses import Response

from steppe.alerts.store import set_named, sighting_preference
from steppe.api.deps import ActorDep, ConnDep, require_role, services, trail_for
from steppe.api.idempotency import request_fingerprint, run_idempotent
from steppe.api.schemas import (
    GroupIn,
    GroupOut,
    MemberIn,
    MeOut,
    OrganisationIn,
    OrganisationOut,
    SightingPreferenceIn,
    SightingPreferenceOut,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
)
from steppe.errors import Forbidden, NotFound
from steppe.sharing import directory
from steppe.sharing.model import READ_ROLES, Actor, OrgKind, Role
from steppe.sharing.policy import can_manage_organisation
from steppe.storage.engine import writing
from steppe.storage.schema import organisations, users

__all__ = ["router"]

router = APIRouter(tags=["directory"])

FingerprintDep = Annotated[str, Depends(request_fingerprint)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retry-safe key: a repeat is answered once"),
]
Name = Annotated[str, Path(min_length=1, max_length=200)]
#: Roles an org-admin may hand out inside its own organisation.
ORG_ADMIN_GRANTS = frozenset({Role.ORG_ADMIN, Role.ANALYST, Role.READER, Role.SENSOR})


@router.get("/me", response_model=MeOut, summary="Who the token belongs to")
def me(conn: ConnDep, actor: ActorDep) -> MeOut:
    org = directory.get_organisation(conn, actor.org_id)
    groups = [g.name for g in directory.groups_visible_to(conn, actor) if g.actor_is_member]
    return MeOut(
        user=actor.user_name,
        organisation=org.name,
        organisation_kind=org.kind,
        roles=sorted(actor.roles),
        groups=groups,
    )


@router.get("/organisations", response_model=list[OrganisationOut])
def list_organisations(conn: ConnDep, actor: ActorDep) -> list[OrganisationOut]:
    """Every organisation of the center (a peer center sees only itself)."""
    require_role(actor, *READ_ROLES)
    orgs = directory.list_organisations(conn)
    if actor.org_kind is OrgKind.PEER:
        orgs = [o for o in orgs if o.id == actor.org_id]
    return [OrganisationOut(name=o.name, country=o.country, kind=o.kind) for o in orgs]


@router.post("/organisations", status_code=201, response_model=OrganisationOut)
def add_organisation(
    request: Request,
    actor: ActorDep,
    body: OrganisationIn,
    fingerprint: FingerprintDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Add an organisation (admins)."""
    require_role(actor, Role.ADMIN)

    def action(conn: Connection) -> tuple[int, Any]:
        org = directory.add_organisation(
            conn, trail_for(request, actor), body.name, body.country, body.kind
        )
        return 201, OrganisationOut(name=org.name, country=org.country, kind=org.kind).model_dump()

    return run_idempotent(services(request).engine, actor, idempotency_key, fingerprint, action)


_ORG_ID = re.compile(r"[0-9]{1,18}")
OrgKey = Annotated[
    str, Path(min_length=1, max_length=200, description="The organisation's name or id")
]


@router.get(
    "/organisations/{org}/sighting-preference",
    response_model=SightingPreferenceOut,
    summary="Whether the organisation's sightings name it (its org-admins and admins)",
)
def get_sighting_preference(conn: ConnDep, actor: ActorDep, org: OrgKey) -> SightingPreferenceOut:
    found = _managed_organisation(conn, actor, org)
    preference = sighting_preference(conn, found.id)
    return SightingPreferenceOut(
        organisation=found.name, named=preference.named, updated_at=preference.updated_at
    )


@router.put(
    "/organisations/{org}/sighting-preference",
    response_model=SightingPreferenceOut,
    summary="Let (or stop letting) the organisation's sightings name it",
)
def put_sighting_preference(
    request: Request, actor: ActorDep, org: OrgKey, body: SightingPreferenceIn
) -> SightingPreferenceOut:
    with writing(services(request).engine) as conn:
        found = _managed_organisation(conn, actor, org)
        set_named(conn, trail_for(request, actor), found.id, body.named)
        preference = sighting_preference(conn, found.id)
    return SightingPreferenceOut(
        organisation=found.name, named=preference.named, updated_at=preference.updated_at
    )


def _managed_organisation(conn: Connection, actor: Actor, key: str) -> directory.Organisation:
    """The organisation named (or numbered) ``key``, if ``actor`` may manage its settings.

    404 for an unknown one, and for any other than its own to a peer center (which does
    not see the others, as in the listing); 403 for a known one it may not manage.
    """
    try:
        org = (  # an id: ASCII digits that fit a 64-bit column ("²" is a digit to Python)
            directory.get_organisation(conn, int(key))
            if _ORG_ID.fullmatch(key)
            else directory.find_organisation(conn, key)
        )
    except NotFound:
        raise NotFound(f"no organisation {key!r}") from None
    if actor.org_kind is OrgKind.PEER and org.id != actor.org_id:
        raise NotFound(f"no organisation {key!r}")
    decision = can_manage_organisation(actor, org.id)
    if not decision:
        raise Forbidden(decision.reason)
    return org


@router.get("/groups", response_model=list[GroupOut])
def list_groups(conn: ConnDep, actor: ActorDep) -> list[GroupOut]:
    """The groups the caller may know of; hidden rosters stay hidden."""
    require_role(actor, *READ_ROLES)
    return [_group_out(v) for v in directory.groups_visible_to(conn, actor)]


@router.post("/groups", status_code=201, response_model=GroupOut)
def add_group(
    request: Request,
    actor: ActorDep,
    body: GroupIn,
    fingerprint: FingerprintDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a sharing group: admins and coordinators for any owner, org-admins for their own."""
    require_role(actor, Role.ADMIN, Role.COORDINATOR, Role.ORG_ADMIN)

    def action(conn: Connection) -> tuple[int, Any]:
        trail = trail_for(request, actor)
        owner = (
            directory.find_organisation(conn, body.owner)
            if body.owner
            else directory.get_organisation(conn, actor.org_id)
        )
        directory.check_may_create_group(actor, owner.id)
        group = directory.add_group(
            conn,
            trail,
            body.name,
            owner,
            hidden_roster=body.hidden_roster,
            description=body.description,
        )
        for name in body.members:
            group = directory.add_group_member(
                conn, trail, group, directory.find_organisation(conn, name)
            )
        return 201, _group_out(_view(conn, actor, group.name)).model_dump()

    return run_idempotent(services(request).engine, actor, idempotency_key, fingerprint, action)


@router.post("/groups/{name}/members", status_code=201, response_model=GroupOut)
def add_group_member(
    request: Request,
    actor: ActorDep,
    name: Name,
    body: MemberIn,
    fingerprint: FingerprintDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Add an organisation to a group (admins, or org-admins of the owner organisation)."""
    require_role(actor, Role.ADMIN, Role.ORG_ADMIN)

    def action(conn: Connection) -> tuple[int, Any]:
        group = directory.visible_group(conn, actor, name)
        directory.check_may_manage_group(actor, group)
        org = directory.find_organisation(conn, body.organisation)
        directory.add_group_member(conn, trail_for(request, actor), group, org)
        return 201, _group_out(_view(conn, actor, name)).model_dump()

    return run_idempotent(services(request).engine, actor, idempotency_key, fingerprint, action)


@router.get("/users", response_model=list[UserOut])
def list_users(conn: ConnDep, actor: ActorDep) -> list[UserOut]:
    """Admins see every user, org-admins their organisation's, others themselves."""
    query = select(users.c.name, users.c.roles, organisations.c.name.label("org")).join(
        organisations, organisations.c.id == users.c.organisation_id
    )
    if Role.ADMIN not in actor.roles:
        if Role.ORG_ADMIN in actor.roles:
            query = query.where(users.c.organisation_id == actor.org_id)
        else:
            query = query.where(users.c.id == actor.user_id)
    rows = conn.execute(query.order_by(users.c.name))
    return [
        UserOut(name=r.name, organisation=r.org, roles=sorted(Role(x) for x in r.roles.split(",")))
        for r in rows
    ]


@router.post("/users", status_code=201, response_model=UserOut)
def add_user(
    request: Request,
    actor: ActorDep,
    body: UserIn,
    fingerprint: FingerprintDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Add a user: admins anywhere, org-admins in their own organisation."""
    require_role(actor, Role.ADMIN, Role.ORG_ADMIN)
    roles = directory.parse_roles([r.value for r in body.roles])

    def action(conn: Connection) -> tuple[int, Any]:
        org = (
            directory.find_organisation(conn, body.organisation)
            if body.organisation
            else directory.get_organisation(conn, actor.org_id)
        )
        if Role.ADMIN not in actor.roles:
            if org.id != actor.org_id:
                raise Forbidden("org-admins add users to their own organisation only")
            if not roles <= ORG_ADMIN_GRANTS:
                raise Forbidden("org-admins may grant org-admin, analyst, reader and sensor")
        user = directory.add_user(conn, trail_for(request, actor), body.name, org, roles)
        return 201, UserOut(
            name=user.name, organisation=org.name, roles=sorted(user.roles)
        ).model_dump()

    return run_idempotent(services(request).engine, actor, idempotency_key, fingerprint, action)


@router.post("/users/{name}/tokens", status_code=201, response_model=TokenOut)
def create_token(
    request: Request,
    actor: ActorDep,
    name: Name,
    body: TokenIn,
    fingerprint: FingerprintDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A new API token, shown once: for yourself, or (org-)admins for their users."""

    def action(conn: Connection) -> tuple[int, Any]:
        target = conn.execute(
            select(users.c.id, users.c.organisation_id).where(users.c.name == name)
        ).one_or_none()
        allowed = target is not None and (
            target.id == actor.user_id
            or Role.ADMIN in actor.roles
            or (Role.ORG_ADMIN in actor.roles and target.organisation_id == actor.org_id)
        )
        if not allowed:
            raise NotFound(f"no user named {name!r}")  # no hint about other members' users
        issued = directory.create_token(
            conn,
            trail_for(request, actor),
            name,
            label=body.label,
            expires_days=body.expires_days,
        )
        return 201, TokenOut(
            token=issued.token,
            prefix=issued.prefix,
            user=issued.user,
            expires_at=issued.expires_at,
        ).model_dump()

    return run_idempotent(services(request).engine, actor, idempotency_key, fingerprint, action)


def _group_out(view: directory.GroupView) -> GroupOut:
    return GroupOut(
        name=view.name,
        description=view.description,
        owner=view.owner,
        hidden_roster=view.hidden_roster,
        members=list(view.members) if view.members is not None else None,
        you_are_member=view.actor_is_member,
    )


def _view(conn: Connection, actor: Actor, name: str) -> directory.GroupView:
    for view in directory.groups_visible_to(conn, actor):
        if view.name == name:
            return view
    raise NotFound(f"no sharing group named {name!r}")
