"""Request and response bodies of the REST API (they make its OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from steppe.intel.observables import ObservableType
from steppe.sharing.model import OrgKind, Role

__all__ = [
    "AuditEntryOut",
    "AuditPage",
    "AuditVerifyOut",
    "GroupIn",
    "GroupOut",
    "ImportOut",
    "IntelPage",
    "IntelRef",
    "LookupIn",
    "LookupInvalid",
    "LookupMatchOut",
    "LookupOut",
    "MeOut",
    "MemberIn",
    "OrganisationIn",
    "OrganisationOut",
    "SourceOut",
    "StoredObjectOut",
    "TokenIn",
    "TokenOut",
    "UserIn",
    "UserOut",
]

MAX_LOOKUP = 10_000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        # JSON may carry lone surrogates ("\ud800"); they cannot be stored or echoed.
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError("must be valid Unicode (no lone surrogates)") from None
        return value


class OrganisationOut(BaseModel):
    name: str
    country: str | None = Field(description="ISO 3166-1 alpha-2; none for the center or a peer")
    kind: OrgKind


class SightingPreferenceOut(BaseModel):
    organisation: str
    named: bool = Field(
        description="Whether producers of intel this organisation sights learn its name"
    )
    updated_at: str | None = Field(description="When it was last set; null: never (not named)")


class SightingPreferenceIn(_In):
    named: bool


class OrganisationIn(_In):
    name: str = Field(min_length=1, max_length=200)
    country: str | None = Field(default=None, description="ISO code (KZ, KAZ) or name")
    kind: OrgKind = OrgKind.MEMBER


class GroupOut(BaseModel):
    name: str
    description: str
    owner: str
    hidden_roster: bool
    members: list[str] | None = Field(
        description="Member organisations; null when the roster is hidden from the caller"
    )
    you_are_member: bool


class GroupIn(_In):
    name: str = Field(min_length=1, max_length=200)
    owner: str | None = Field(default=None, description="Owner organisation (default: yours)")
    members: list[str] = Field(default_factory=list, max_length=1000)
    hidden_roster: bool = False
    description: str = Field(default="", max_length=2000)


class MemberIn(_In):
    organisation: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    name: str
    organisation: str
    roles: list[Role]


class UserIn(_In):
    name: str = Field(min_length=1, max_length=200)
    organisation: str | None = Field(default=None, description="Default: yours")
    roles: list[Role] = Field(min_length=1)


class TokenIn(_In):
    label: str = Field(default="", max_length=200)
    expires_days: int | None = Field(default=None, gt=0, le=3650)


class TokenOut(BaseModel):
    token: str = Field(description="Shown once; only its hash is stored")
    prefix: str
    user: str
    expires_at: str | None


class MeOut(BaseModel):
    user: str
    organisation: str
    organisation_kind: OrgKind
    roles: list[Role]
    groups: list[str]


class ImportOut(BaseModel):
    objects: int
    created: int
    new_versions: int
    unchanged: int
    older_versions: int
    matchable: int
    not_matchable: int
    observables: int
    sha256: str


class SourceOut(BaseModel):
    """A feed's listing of a value the object carries (provenance)."""

    type: str
    value: str
    feed: str
    owner: str
    stix_id: str = Field(description="The indicator the feed made of the value")
    confidence: int | None
    first_seen: str
    last_seen: str
    expired_at: str | None


class StoredObjectOut(BaseModel):
    stix_id: str
    type: str
    name: str | None
    owner: str
    distribution: str
    tlp: str
    confidence: int | None
    created: str | None
    modified: str
    valid_from: str | None
    valid_until: str | None
    revoked: bool
    matchable: bool | None
    pattern_note: str | None
    object: dict[str, Any] = Field(description="The STIX 2.1 object, with its TLP marking ref")
    sources: list[SourceOut] = Field(
        default_factory=list,
        description="Feeds listing the values it carries, as far as the caller may see them",
    )


class IntelPage(BaseModel):
    items: list[StoredObjectOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class LookupIn(_In):
    values: list[str] = Field(min_length=1, max_length=MAX_LOOKUP)
    type: ObservableType | None = Field(
        default=None, description="Type of every value (default: guessed per value)"
    )


class IntelRef(BaseModel):
    stix_id: str
    type: str
    name: str | None
    owner: str
    distribution: str
    tlp: str
    confidence: int | None
    valid_until: str | None
    revoked: bool


class LookupMatchOut(BaseModel):
    index: int
    value: str
    type: ObservableType
    canonical: str
    objects: list[IntelRef]


class LookupInvalid(BaseModel):
    index: int
    value: str
    reason: str


class LookupOut(BaseModel):
    matches: list[LookupMatchOut]
    invalid: list[LookupInvalid]
    unmatched: int


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    object: str
    detail: dict[str, Any]
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_after: int | None


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str | None
