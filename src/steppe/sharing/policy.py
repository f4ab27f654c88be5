"""Who may see what: one decision function and its SQL twin.

:func:`can_see` decides for one object and says why; :func:`visible_filter` is the
same rule as a SQL predicate over ``intel_objects``, for queries that must not load what
the actor may not see. Every read path uses one of them, and the tests compare the two
over generated worlds (``tests/sharing/test_policy_properties.py``).

The rule, in order:

1. A sensor account reads no intelligence.
2. Derived data is visible only if every source is (each by its own marking).
3. The owner organisation always sees its objects.
4. A peer center (organisation kind ``peer``) sees only ``federation`` objects marked
   TLP:CLEAR or TLP:GREEN — nothing else crosses to peers.
5. ``community`` and ``federation``: every organisation of this center.
6. ``groups``: organisations that are members of at least one of the object's groups.
7. ``organisation``: nobody but the owner.

Roles gate actions, not visibility: an admin of one member does not see another
member's organisation-only intel.

    >>> from steppe.sharing.model import Actor, ObjectRights, OrgKind, Role
    >>> analyst = Actor(1, "ana", org_id=7, org_kind=OrgKind.MEMBER,
    ...                 roles=frozenset({Role.ANALYST}), group_ids=frozenset({3}))
    >>> can_see(analyst, ObjectRights(9, Distribution.GROUPS, TlpLevel.AMBER, frozenset({3})))
    Decision(allowed=True, reason='member of sharing group 3')
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    exists,
    false,
    not_,
    or_,
    select,
    true,
)

from steppe.errors import Forbidden, MarkingConflict
from steppe.sharing.model import (
    FEDERATABLE_TLP,
    READ_ROLES,
    Actor,
    Decision,
    Distribution,
    GroupRoster,
    IncidentRights,
    ObjectRights,
    OrgKind,
    Role,
    TlpLevel,
)
from steppe.storage.schema import (
    group_members,
    incident_participants,
    object_groups,
    object_sources,
)

__all__ = [
    "can_manage_organisation",
    "can_read_telemetry",
    "can_see",
    "can_see_group",
    "can_see_incident",
    "can_see_lake_health",
    "can_see_playbook",
    "can_see_roster",
    "check_marking",
    "incident_filter",
    "require_reader",
    "visible_filter",
]


def require_reader(actor: Actor) -> None:
    """Refuse read paths to accounts that may not read intel at all (sensors)."""
    if not (actor.roles & READ_ROLES):
        raise Forbidden(f"{actor.user_name} is a sensor account: it may only submit telemetry")


def can_see(actor: Actor, obj: ObjectRights) -> Decision:
    """May ``actor`` see ``obj``? The reference decision every read path must agree with."""
    if not (actor.roles & READ_ROLES):
        return Decision(False, "sensor accounts may only submit telemetry")
    for index, source in enumerate(obj.sources):
        decision = _base_decision(actor, source)
        if not decision.allowed:
            return Decision(False, f"derived from source {index} the actor may not see")
    return _base_decision(actor, obj)


def _base_decision(actor: Actor, obj: ObjectRights) -> Decision:
    if obj.owner_org_id == actor.org_id:
        return Decision(True, "owner organisation")
    if actor.org_kind is OrgKind.PEER:
        if obj.distribution is Distribution.FEDERATION and obj.tlp in FEDERATABLE_TLP:
            return Decision(True, "federation distribution, TLP allows peers")
        return Decision(False, "peer centers see only federation objects marked CLEAR or GREEN")
    if obj.distribution is Distribution.COMMUNITY:
        return Decision(True, "community distribution")
    if obj.distribution is Distribution.FEDERATION:
        return Decision(True, "federation distribution")
    if obj.distribution is Distribution.GROUPS:
        shared = obj.group_ids & actor.group_ids
        if shared:
            return Decision(True, f"member of sharing group {min(shared)}")
        return Decision(False, "not a member of any of the object's sharing groups")
    return Decision(False, "organisation-only object of another organisation")


def visible_filter(actor: Actor, objects: FromClause) -> ColumnElement[bool]:
    """SQL twin of :func:`can_see` over an ``intel_objects``-shaped table.

    Group membership is read live from ``group_members`` rather than from
    ``actor.group_ids``, so a membership revoked a moment ago already counts.
    """
    if not (actor.roles & READ_ROLES):
        return false()
    base = _base_filter(actor, objects)
    source = objects.alias("src")
    hidden_source = exists(
        select(1)
        .select_from(object_sources.join(source, source.c.pk == object_sources.c.source_pk))
        .where(object_sources.c.object_pk == objects.c.pk, not_(_base_filter(actor, source)))
    )
    return and_(base, not_(hidden_source))


def _base_filter(actor: Actor, objects: FromClause) -> ColumnElement[bool]:
    c = objects.c
    owned = c.owner_org_id == actor.org_id
    if actor.org_kind is OrgKind.PEER:
        return or_(
            owned,
            and_(
                c.distribution == Distribution.FEDERATION.value,
                c.tlp.in_([t.value for t in FEDERATABLE_TLP]),
            ),
        )
    in_my_groups = exists(
        select(1)
        .select_from(
            object_groups.join(group_members, group_members.c.group_id == object_groups.c.group_id)
        )
        .where(object_groups.c.object_pk == c.pk, group_members.c.org_id == actor.org_id)
    )
    return or_(
        owned,
        c.distribution.in_([Distribution.COMMUNITY.value, Distribution.FEDERATION.value]),
        and_(c.distribution == Distribution.GROUPS.value, in_my_groups),
    )


#: Roles that make a user of the coordinator organisation the center's staff for telemetry.
_CENTER_STAFF_ROLES = frozenset({Role.COORDINATOR, Role.ADMIN})


def can_read_telemetry(actor: Actor, organisation_id: int) -> Decision:
    """May ``actor`` read the telemetry (event lake) of organisation ``organisation_id``?

    Telemetry is a member's own raw data, not shared intel: no distribution or TLP
    applies. Its own users with a read role see it; the center's staff (a user of the
    coordinator organisation with the coordinator or admin role) see every member's;
    peer centers and sensor accounts never read any.

    >>> from steppe.sharing.model import Actor, OrgKind, Role
    >>> staff = Actor(1, "cc", org_id=1, org_kind=OrgKind.COORDINATOR,
    ...               roles=frozenset({Role.COORDINATOR}))
    >>> can_read_telemetry(staff, 7)
    Decision(allowed=True, reason="center staff read every member's telemetry")
    """
    if not (actor.roles & READ_ROLES):
        return Decision(False, "sensor accounts may only submit telemetry")
    if actor.org_kind is OrgKind.PEER:
        return Decision(False, "peer centers never read members' telemetry")
    if actor.org_id == organisation_id:
        return Decision(True, "own organisation's telemetry")
    if actor.org_kind is OrgKind.COORDINATOR and actor.roles & _CENTER_STAFF_ROLES:
        return Decision(True, "center staff read every member's telemetry")
    return Decision(False, "telemetry of another organisation")


def can_see_lake_health(actor: Actor) -> Decision:
    """May ``actor`` see the event lake's plumbing (spool backlog, quarantined segments)?

    Counts over every member's telemetry, so the center's staff only.

    >>> from steppe.sharing.model import Actor, OrgKind, Role
    >>> can_see_lake_health(Actor(2, "a", org_id=7, org_kind=OrgKind.MEMBER,
    ...                           roles=frozenset({Role.ADMIN}))).allowed
    False
    """
    if actor.org_kind is OrgKind.COORDINATOR and actor.roles & _CENTER_STAFF_ROLES:
        return Decision(True, "center staff")
    return Decision(False, "the lake's plumbing is the center's")


def can_see_incident(actor: Actor, incident: IncidentRights) -> Decision:
    """May ``actor`` see the incident (its title, status, tasks, comments, timeline)?

    Users with a read role of the owner organisation or of a participant organisation
    may; so may the center's staff (a user of the coordinator organisation with the
    coordinator or admin role), who coordinate incidents across members. Peer centers
    and sensor accounts never do. The incident's evidence is decided item by item.

    >>> from steppe.sharing.model import Actor, IncidentRights, OrgKind, Role
    >>> bek = Actor(2, "bek", org_id=8, org_kind=OrgKind.MEMBER, roles=frozenset({Role.ANALYST}))
    >>> can_see_incident(bek, IncidentRights(7, frozenset({8})))
    Decision(allowed=True, reason='participant organisation')
    """
    if not (actor.roles & READ_ROLES):
        return Decision(False, "sensor accounts may only submit telemetry")
    if actor.org_kind is OrgKind.PEER:
        return Decision(False, "peer centers never see incidents")
    if incident.owner_org_id == actor.org_id:
        return Decision(True, "owner organisation")
    if actor.org_id in incident.participant_org_ids:
        return Decision(True, "participant organisation")
    if actor.org_kind is OrgKind.COORDINATOR and actor.roles & _CENTER_STAFF_ROLES:
        return Decision(True, "center staff coordinate every incident")
    return Decision(False, "neither the owner nor a participant of the incident")


def incident_filter(actor: Actor, incidents: FromClause) -> ColumnElement[bool]:
    """SQL twin of :func:`can_see_incident` over the ``incidents`` table (participants
    are read live from ``incident_participants``)."""
    if not (actor.roles & READ_ROLES) or actor.org_kind is OrgKind.PEER:
        return false()
    if actor.org_kind is OrgKind.COORDINATOR and actor.roles & _CENTER_STAFF_ROLES:
        return true()
    participant = exists(
        select(1).where(
            incident_participants.c.incident_id == incidents.c.id,
            incident_participants.c.org_id == actor.org_id,
        )
    )
    return or_(incidents.c.owner_org_id == actor.org_id, participant)


def can_manage_organisation(actor: Actor, organisation_id: int) -> Decision:
    """May ``actor`` read and change organisation ``organisation_id``'s own settings
    (such as whether its sightings may name it)?

    Instance admins may for any organisation; an org-admin for its own only.

    >>> from steppe.sharing.model import Actor, OrgKind, Role
    >>> boss = Actor(1, "oa", org_id=3, org_kind=OrgKind.MEMBER, roles=frozenset({Role.ORG_ADMIN}))
    >>> can_manage_organisation(boss, 4)
    Decision(allowed=False, reason="another organisation's settings")
    """
    if Role.ADMIN in actor.roles:
        return Decision(True, "instance admin")
    if actor.org_id != organisation_id:
        return Decision(False, "another organisation's settings")
    if Role.ORG_ADMIN in actor.roles:
        return Decision(True, "org-admin of the organisation")
    return Decision(False, "an organisation's settings are managed by its org-admins")


def can_see_roster(actor: Actor, group: GroupRoster) -> Decision:
    """May ``actor`` see who else is in ``group``?

    The owner organisation and instance admins (who manage the groups) always may;
    members may unless the roster is hidden (they still see that they are in it);
    others never. Seeing a roster never shows any intel.
    """
    if Role.ADMIN in actor.roles:
        return Decision(True, "instance admin")
    if group.owner_org_id == actor.org_id:
        return Decision(True, "owner of the group")
    if actor.org_id in group.member_org_ids:
        if group.hidden_roster:
            return Decision(False, "roster is hidden from members")
        return Decision(True, "member of the group")
    return Decision(False, "not a member of the group")


def can_see_group(actor: Actor, group: GroupRoster) -> Decision:
    """May ``actor`` know the group exists (its name, and that it is in it)?"""
    if Role.ADMIN in actor.roles:
        return Decision(True, "instance admin")
    if group.owner_org_id == actor.org_id:
        return Decision(True, "owner of the group")
    if actor.org_id in group.member_org_ids:
        return Decision(True, "member of the group")
    return Decision(False, "not a member of the group")


def check_marking(
    distribution: Distribution,
    tlp: TlpLevel,
    group_ids: Iterable[int] = (),
) -> None:
    """Reject distributions, groups and TLP that contradict each other.

    >>> check_marking(Distribution.COMMUNITY, TlpLevel.RED)
    Traceback (most recent call last):
    ...
    steppe.errors.MarkingConflict: TLP:RED is for a named audience: use distribution 'organisation' or 'groups', not 'community'
    """
    groups = set(group_ids)
    if distribution is Distribution.GROUPS and not groups:
        raise MarkingConflict("distribution 'groups' needs at least one sharing group")
    if distribution is not Distribution.GROUPS and groups:
        raise MarkingConflict(
            f"sharing groups were given but distribution is {distribution.value!r}; "
            "use distribution 'groups'"
        )
    if tlp is TlpLevel.RED and distribution in (Distribution.COMMUNITY, Distribution.FEDERATION):
        raise MarkingConflict(
            "TLP:RED is for a named audience: use distribution 'organisation' or 'groups', "
            f"not {distribution.value!r}"
        )
    if distribution is Distribution.FEDERATION and tlp not in FEDERATABLE_TLP:
        raise MarkingConflict(
            f"only TLP:CLEAR and TLP:GREEN may cross to peer centers; TLP:{tlp.value.upper()} "
            "cannot have distribution 'federation' (use 'community')"
        )


def can_see_playbook(actor: Actor, owner_org_id: int) -> Decision:
    """May ``actor`` see a playbook of organisation ``owner_org_id`` and its runs?

    A playbook is its organisation's own machinery: its users with a read role see it,
    and the center's staff oversee every organisation's (their progress and failures;
    what a run was about stays its organisation's, see
    :func:`steppe.response.playbooks.runs.get_run`).

    >>> from steppe.sharing.model import Actor, OrgKind, Role
    >>> other = Actor(2, "bek", org_id=8, org_kind=OrgKind.MEMBER, roles=frozenset({Role.ANALYST}))
    >>> can_see_playbook(other, 7)
    Decision(allowed=False, reason="another organisation's playbook")
    """
    if not (actor.roles & READ_ROLES):
        return Decision(False, "sensor accounts may only submit telemetry")
    if actor.org_kind is OrgKind.PEER:
        return Decision(False, "peer centers see no playbooks")
    if actor.org_id == owner_org_id:
        return Decision(True, "own organisation's playbook")
    if actor.org_kind is OrgKind.COORDINATOR and actor.roles & _CENTER_STAFF_ROLES:
        return Decision(True, "center staff oversee every playbook")
    return Decision(False, "another organisation's playbook")
