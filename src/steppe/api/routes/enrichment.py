"""Sightings, score, related objects, tags and ATT&CK techniques of intel objects.

Every read goes through the policy: an object the caller may not see answers 404, and
what is derived from objects (correlations, sightings) shows only what the caller may
see of both sides.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from steppe.api.deps import ActorDep, ConnDep, require_role, services, trail_for
from steppe.errors import InputError
from steppe.intel import attack, taxonomies
from steppe.intel.config import IntelConfig
from steppe.intel.correlation import over_correlating, related
from steppe.intel.queries import get_stored, list_objects
from steppe.intel.sightings import (
    SIGHTING_ROLES,
    SightingType,
    SightingView,
    list_sightings,
    record_sighting,
    scores_for,
)
from steppe.intel.tagging import TAGGING_ROLES, add_tag
from steppe.sharing.model import Role
from steppe.storage import timestamps
from steppe.storage.engine import writing

__all__ = ["router"]

router = APIRouter(tags=["intel"])
READERS = (Role.ANALYST, Role.ORG_ADMIN, Role.COORDINATOR, Role.ADMIN, Role.READER)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SightingIn(_In):
    type: SightingType = SightingType.SEEN
    count: int = Field(default=1, ge=1, lt=2**31)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    source: str | None = Field(default=None, max_length=500, description="e.g. an alert id")
    named: bool = Field(
        default=False, description="Whether others who see the object may learn who sighted it"
    )


class SightingOut(BaseModel):
    id: int
    type: str
    count: int
    first_seen: str
    last_seen: str
    organisation: str | None = Field(description="None when the organisation is not named")
    source: str | None
    created_at: str


class SightingsOut(BaseModel):
    stix_id: str
    owner: str
    totals: dict[str, int]
    items: list[SightingOut]


class ScoreOut(BaseModel):
    stix_id: str
    score: float
    base: float
    expired: bool
    reason: str


class ValueOut(BaseModel):
    type: str
    value: str


class RelatedOut(BaseModel):
    stix_id: str
    type: str
    name: str | None
    owner: str
    tlp: str
    shared: list[ValueOut] = Field(description="The values both objects carry")


class TagIn(_In):
    tag: str = Field(min_length=1, max_length=200)


class TagsOut(BaseModel):
    stix_id: str
    labels: list[str]


class TaxonomyTagOut(BaseModel):
    tag: str
    description: str


class TechniqueOut(BaseModel):
    id: str
    name: str
    tactics: list[str]
    url: str | None
    attack_pattern: str | None = Field(description="STIX id of its attack-pattern, if stored")
    tag: str
    objects: list[str] = Field(description="Visible objects tagged with it or a sub-technique")


def _config(request: Request) -> IntelConfig:
    return IntelConfig.from_settings(services(request).settings)


def _ts(moment: datetime | None, field: str) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InputError("needs a time zone (e.g. 2026-01-01T00:00:00Z)", field=field)
    try:
        return timestamps.format_ts(moment)
    except OverflowError:
        raise InputError("is out of range", field=field) from None


@router.post(
    "/intel/objects/{stix_id}/sightings",
    status_code=201,
    response_model=SightingOut,
    summary="Report a sighting (seen, false-positive, expired) by the caller's organisation",
)
def post_sighting(request: Request, actor: ActorDep, stix_id: str, body: SightingIn) -> SightingOut:
    require_role(actor, *SIGHTING_ROLES)
    with writing(services(request).engine) as conn:
        sighting_id = record_sighting(
            conn,
            trail_for(request, actor),
            actor,
            stix_id,
            body.type,
            count=body.count,
            first_seen=_ts(body.first_seen, "body.first_seen"),
            last_seen=_ts(body.last_seen, "body.last_seen"),
            source=body.source,
            named=body.named,
        )
        found = list_sightings(conn, actor, stix_id)
    mine = next(s for s in found.items if s.id == sighting_id)
    return _sighting_out(mine)


@router.get(
    "/intel/objects/{stix_id}/sightings",
    response_model=SightingsOut,
    summary="Sightings of an object; organisations named only if they allow it",
)
def get_sightings(conn: ConnDep, actor: ActorDep, stix_id: str) -> SightingsOut:
    require_role(actor, *READERS)
    found = list_sightings(conn, actor, stix_id)
    return SightingsOut(
        stix_id=found.stix_id,
        owner=found.owner,
        totals=found.totals,
        items=[_sighting_out(s) for s in found.items],
    )


@router.get(
    "/intel/objects/{stix_id}/score",
    response_model=ScoreOut,
    summary="Current decay score of an object, and whether it has expired",
)
def get_score(request: Request, conn: ConnDep, actor: ActorDep, stix_id: str) -> ScoreOut:
    require_role(actor, *READERS)
    stored = get_stored(conn, actor, stix_id)
    score = scores_for(conn, [stored.pk], config=_config(request).decay)[stored.pk]
    return ScoreOut(
        stix_id=stix_id,
        score=round(score.score, 2),
        base=score.base,
        expired=score.expired,
        reason=score.reason,
    )


@router.get(
    "/intel/objects/{stix_id}/related",
    response_model=list[RelatedOut],
    summary="Objects sharing a value with this one, among those the caller may see",
)
def get_related(
    request: Request,
    conn: ConnDep,
    actor: ActorDep,
    stix_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RelatedOut]:
    require_role(actor, *READERS)
    exclusions = _config(request).correlation.exclusions
    found = related(conn, actor, stix_id, exclusions=exclusions, limit=limit)
    return [
        RelatedOut(stix_id=r.stix_id, type=r.type, name=r.name, owner=r.owner, tlp=r.tlp,
                   shared=[ValueOut(type=t, value=v) for t, v in r.shared])
        for r in found
    ]  # fmt: skip


@router.get(
    "/intel/over-correlating",
    response_model=list[ValueOut],
    summary="Values over the correlation cap, among those the caller sees in some object",
)
def get_over_correlating(
    conn: ConnDep, actor: ActorDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[ValueOut]:
    require_role(actor, *READERS)
    return [ValueOut(type=t, value=v) for t, v in over_correlating(conn, actor, limit)]


@router.post(
    "/intel/objects/{stix_id}/tags",
    response_model=TagsOut,
    summary="Tag one of the caller's organisation's objects (taxonomy, galaxy, ATT&CK, free)",
)
def post_tag(request: Request, actor: ActorDep, stix_id: str, body: TagIn) -> TagsOut:
    require_role(actor, *TAGGING_ROLES)
    with writing(services(request).engine) as conn:
        labels = add_tag(
            conn, trail_for(request, actor), actor, stix_id, body.tag, _config(request)
        )
    return TagsOut(stix_id=stix_id, labels=labels)


@router.get(
    "/tags",
    response_model=list[TaxonomyTagOut],
    summary="MISP taxonomy tags, all or of one namespace",
)
def get_tags(
    actor: ActorDep,
    namespace: Annotated[str | None, Query(max_length=200)] = None,
) -> list[TaxonomyTagOut]:
    require_role(actor, *READERS)
    return [
        TaxonomyTagOut(tag=t.tag, description=t.description)
        for t in taxonomies.list_tags(namespace)
    ]


@router.get(
    "/attack/{technique_id}",
    response_model=TechniqueOut,
    summary="An ATT&CK technique and the visible objects tagged with it",
)
def get_technique(
    conn: ConnDep,
    actor: ActorDep,
    technique_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TechniqueOut:
    require_role(actor, *READERS)
    found = attack.technique(technique_id)
    objects = list_objects(conn, actor, technique=found.id, limit=limit)
    pattern = next((o.stix_id for o in objects if o.stix_id == found.stix_id), None)
    return TechniqueOut(
        id=found.id,
        name=found.name,
        tactics=list(found.tactics),
        url=found.url,
        attack_pattern=pattern,
        tag=found.label,
        objects=[o.stix_id for o in objects],
    )


def _sighting_out(s: SightingView) -> SightingOut:
    return SightingOut.model_validate(s, from_attributes=True)
