"""The words of the trust model: organisations, roles, distributions, TLP, actors.

An :class:`Actor` is who asks (a user of a member organisation); :class:`ObjectRights`
is what the policy needs to know about a stored object to decide whether that actor may
see it. Both are plain values so the policy can be checked on generated worlds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from steppe.errors import InputError

__all__ = [
    "Actor",
    "Decision",
    "Distribution",
    "GroupRoster",
    "IncidentRights",
    "ObjectRights",
    "OrgKind",
    "Role",
    "TlpLevel",
    "parse_tlp",
]


class OrgKind(StrEnum):
    """What an organisation is to this center."""

    COORDINATOR = "coordinator"  # the center's own staff
    MEMBER = "member"  # a national CERT or agency of the coalition
    PEER = "peer"  # another center, reached by federation; sees only what may cross


class Role(StrEnum):
    ADMIN = "admin"  # runs the instance
    COORDINATOR = "coordinator"  # center staff coordinating incidents
    ORG_ADMIN = "org-admin"  # manages its own organisation's users and tokens
    ANALYST = "analyst"  # reads and writes intel for its organisation
    READER = "reader"  # reads only
    SENSOR = "sensor"  # a machine that may only submit telemetry for its organisation


#: Roles that may read intelligence at all. A sensor only submits telemetry.
READ_ROLES = frozenset({Role.ADMIN, Role.COORDINATOR, Role.ORG_ADMIN, Role.ANALYST, Role.READER})


class Distribution(StrEnum):
    """Who, inside and beyond this center, an object is meant for."""

    ORGANISATION = "organisation"  # the owner organisation only
    GROUPS = "groups"  # members of one or more sharing groups
    COMMUNITY = "community"  # every member of this center
    FEDERATION = "federation"  # also peer centers reached by sync/TAXII


class TlpLevel(StrEnum):
    """FIRST Traffic Light Protocol 2.0."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"

    @classmethod
    def parse(cls, text: str) -> TlpLevel:
        """Accept ``TLP:AMBER+STRICT``, ``amber+strict``, ``white`` (TLP 1.0 for CLEAR)…

        >>> TlpLevel.parse("TLP:WHITE")
        <TlpLevel.CLEAR: 'clear'>
        """
        key = text.strip().lower().removeprefix("tlp:").replace("_", "+")
        if key == "white":
            key = "clear"
        return cls(key)


def parse_tlp(text: str, field: str) -> TlpLevel:
    """:meth:`TlpLevel.parse` for user input: an unknown level is an :class:`InputError`
    on ``field`` that lists the levels.

    >>> parse_tlp("purple", "--tlp")
    Traceback (most recent call last):
    ...
    steppe.errors.InputError: --tlp: unknown TLP 'purple'; use clear, green, amber, amber+strict or red
    """
    try:
        return TlpLevel.parse(text)
    except ValueError:
        raise InputError(
            f"unknown TLP {text!r}; use clear, green, amber, amber+strict or red", field=field
        ) from None


#: TLP levels that may cross to peer centers.
FEDERATABLE_TLP = frozenset({TlpLevel.CLEAR, TlpLevel.GREEN})


@dataclass(frozen=True, slots=True)
class Actor:
    """Someone reading: a user, with their organisation and its sharing groups."""

    user_id: int
    user_name: str
    org_id: int
    org_kind: OrgKind
    roles: frozenset[Role]
    group_ids: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class ObjectRights:
    """What decides who may see an object.

    ``sources`` are the objects a derived object (a correlation, a sighting summary…)
    was computed from; it is visible only to those who see every one of them. Writers of
    derived data list every ultimate source, so sources are judged by their own marking.
    """

    owner_org_id: int
    distribution: Distribution
    tlp: TlpLevel
    group_ids: frozenset[int] = frozenset()
    sources: tuple[ObjectRights, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class GroupRoster:
    """A sharing group as the roster policy needs it."""

    group_id: int
    owner_org_id: int
    hidden_roster: bool
    member_org_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer of the policy, with the reason a person can read."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True, slots=True)
class IncidentRights:
    """What decides who may see an incident: its owner and its participants.

    Evidence inside an incident keeps its own rights (alerts, intel, marked notes): seeing
    the incident does not mean seeing all of it.
    """

    owner_org_id: int
    participant_org_ids: frozenset[int] = frozenset()
