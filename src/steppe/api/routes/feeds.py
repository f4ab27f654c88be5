"""/feeds: register, list, pull and remove intel feeds.

Who may know a feed exists is the policy's call for an object with the feed's owner and
audience; who may change or pull it: admins, and the owner organisation's org-admins
and analysts. A feed's URL, error and state are shown only to those who manage it (a URL
may carry a key). ``file://`` feeds read the server's own disk, so only admins add them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from steppe.api.deps import ActorDep, ConnDep, require_role, services, trail_for
from steppe.api.schemas import _In
from steppe.errors import Forbidden, InputError, NotFound
from steppe.ingest.feeds.fetch import limits_from
from steppe.ingest.feeds.hosts import HostPolicy
from steppe.ingest.feeds.pull import pull_feed, register_feed
from steppe.intel.config import IntelConfig
from steppe.intel.feed_ingest import remove_feed
from steppe.intel.feeds import (
    Feed,
    FeedFormat,
    FeedSpec,
    can_manage,
    find_feed,
    list_feeds,
    parse_every,
    require_manager,
)
from steppe.sharing import directory
from steppe.sharing.model import READ_ROLES, Actor, Distribution, Role, TlpLevel, parse_tlp
from steppe.storage.engine import writing

__all__ = ["router"]

router = APIRouter(prefix="/feeds", tags=["feeds"])

Name = Annotated[str, Path(min_length=1, max_length=200)]


class FeedIn(_In):
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=4096, description="http(s):// or file:// URL")
    format: FeedFormat
    owner: str | None = Field(
        default=None, description="Owner organisation (default: the caller's; others: admins)"
    )
    distribution: Distribution = Distribution.ORGANISATION
    groups: list[str] = Field(default_factory=list, max_length=100)
    tlp: str = "amber"
    every: str | None = Field(default=None, description="Pull interval: 30m, 1h, 1d")
    preset: str | None = Field(default=None, description="ipsum, signature-base or plain")
    mapping: dict[str, Any] | None = Field(default=None, description="CSV column mapping")
    enabled: bool = True


class FeedOut(BaseModel):
    name: str
    owner: str
    format: FeedFormat
    preset: str | None
    distribution: Distribution
    groups: list[str] = Field(description="The feed's groups the caller is in (all: managers)")
    tlp: TlpLevel
    every_seconds: int | None
    enabled: bool
    health: str
    last_pull_at: str | None
    last_status: str | None
    managed: bool = Field(description="Whether the caller may change, pull and remove it")
    url: str | None = Field(description="Managers only")
    mapping: dict[str, Any] | None = Field(description="Managers only")
    last_success_at: str | None = Field(description="Managers only")
    last_error: str | None = Field(description="Managers only")
    last_stats: dict[str, Any] = Field(description="Managers only")
    totals: dict[str, Any] = Field(description="Managers only")


class PullOut(BaseModel):
    feed: str
    status: str = Field(description="ok, not-modified or error")
    stats: dict[str, Any] | None
    error: str | None
    problems: list[str] = Field(description="Bad rows (file:line: message), the first 100")


class RemovedOut(BaseModel):
    feed: str
    revoked: int = Field(description="Indicators of the feed now revoked")


@router.get("", response_model=list[FeedOut], summary="Feeds the caller may know of")
def feeds_list(conn: ConnDep, actor: ActorDep) -> list[FeedOut]:
    require_role(actor, *READ_ROLES)
    return [_out(f, actor) for f in list_feeds(conn, actor)]


@router.post("", status_code=201, response_model=FeedOut, summary="Register a feed")
def feeds_add(request: Request, actor: ActorDep, body: FeedIn) -> FeedOut:
    require_role(actor, Role.ADMIN, Role.ORG_ADMIN, Role.ANALYST)
    if body.url.startswith("file:") and Role.ADMIN not in actor.roles:
        raise Forbidden("file:// feeds read the server's disk: only admins add them")
    level = parse_tlp(body.tlp, "tlp")
    with writing(services(request).engine) as conn:
        if body.owner is None:
            owner = directory.get_organisation(conn, actor.org_id)
        else:
            try:
                owner = directory.find_organisation(conn, body.owner)
            except NotFound:
                raise InputError(f"no organisation named {body.owner!r}", field="owner") from None
        require_manager(actor, owner.id)
        groups = []
        for name in body.groups:
            try:
                groups.append(directory.find_group(conn, name))
            except NotFound:
                raise InputError(f"no sharing group named {name!r}", field="groups") from None
        spec = FeedSpec(
            name=body.name,
            url=body.url,
            format=body.format,
            owner=owner,
            distribution=body.distribution,
            tlp=level,
            groups=tuple(groups),
            every_seconds=None if body.every is None else parse_every(body.every),
            preset=body.preset,
            mapping=body.mapping,
            enabled=body.enabled,
        )
        hosts = HostPolicy.from_settings(services(request).settings)
        feed = register_feed(conn, trail_for(request, actor), spec, hosts=hosts)
    return _out(feed, actor)


@router.get("/{name}", response_model=FeedOut, summary="One feed (404 when not visible)")
def feeds_read(conn: ConnDep, actor: ActorDep, name: Name) -> FeedOut:
    require_role(actor, *READ_ROLES)
    return _out(find_feed(conn, name, actor), actor)


@router.delete(
    "/{name}", response_model=RemovedOut, summary="Remove a feed; its indicators are revoked"
)
def feeds_remove(request: Request, actor: ActorDep, name: Name) -> RemovedOut:
    require_role(actor, *READ_ROLES)
    with writing(services(request).engine) as conn:
        feed = find_feed(conn, name, actor)
        require_manager(actor, feed.owner_org_id)
        revoked = remove_feed(conn, trail_for(request, actor), feed)
    return RemovedOut(feed=name, revoked=revoked)


@router.post("/{name}/pull", response_model=PullOut, summary="Pull a feed now")
def feeds_pull(request: Request, actor: ActorDep, name: Name) -> PullOut:
    require_role(actor, *READ_ROLES)
    svc = services(request)
    with svc.engine.connect() as conn:
        feed = find_feed(conn, name, actor)
    require_manager(actor, feed.owner_org_id)
    limits = limits_from(svc.settings)
    result = pull_feed(
        svc.engine,
        trail_for(request, actor),
        name,
        limits=limits,
        config=IntelConfig.from_settings(svc.settings),
    )
    return PullOut(**result.as_dict())


def _out(feed: Feed, actor: Actor) -> FeedOut:
    managed = can_manage(actor, feed)
    groups = list(feed.groups)
    if not managed:
        groups = sorted(n for g, n in feed.group_map if g in actor.group_ids)
    return FeedOut(
        name=feed.name,
        owner=feed.owner,
        format=feed.format,
        preset=feed.preset,
        distribution=feed.distribution,
        groups=groups,
        tlp=feed.tlp,
        every_seconds=feed.every_seconds,
        enabled=feed.enabled,
        health=feed.health,
        last_pull_at=feed.last_pull_at,
        last_status=feed.last_status,
        managed=managed,
        url=feed.url if managed else None,
        mapping=feed.mapping if managed else None,
        last_success_at=feed.last_success_at if managed else None,
        last_error=feed.last_error if managed else None,
        last_stats=feed.last_stats if managed else {},
        totals=feed.totals if managed else {},
    )
