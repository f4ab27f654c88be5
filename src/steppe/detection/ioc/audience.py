"""Which organisations may see an indicator, as one integer bitmask per object.

The matcher needs, for every value, "may organisation X see it?" millions of times a
second; asking :func:`steppe.sharing.policy.can_see` per event would be far too slow.
So the audience of each indicator is computed once, as a Python int with bit ``org_id``
set for every organisation that may see it, by the same rule as ``can_see`` applied to
a *reader of that organisation* (roles gate actions, not visibility). The tests compare
:func:`audience_mask` with ``can_see`` for every organisation over generated worlds.

    >>> orgs = Coalition({1: OrgKind.COORDINATOR, 2: OrgKind.MEMBER, 3: OrgKind.PEER}, {})
    >>> bin(audience_mask(ObjectRights(2, Distribution.COMMUNITY, TlpLevel.AMBER), orgs))
    '0b110'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from steppe.sharing.model import FEDERATABLE_TLP, Distribution, ObjectRights, OrgKind
from steppe.storage.schema import group_members, organisations

__all__ = ["Coalition", "audience_mask", "bit", "load_coalition", "org_ids"]


def bit(org_id: int) -> int:
    """The bit of one organisation in an audience mask."""
    return 1 << org_id


def org_ids(mask: int) -> list[int]:
    """The organisations in ``mask``, ascending.

    >>> org_ids(0b10110)
    [1, 2, 4]
    """
    found = []
    while mask:
        low = mask & -mask
        found.append(low.bit_length() - 1)
        mask ^= low
    return found


@dataclass(frozen=True)
class Coalition:
    """The organisations (with their kind) and the members of each sharing group."""

    kinds: Mapping[int, OrgKind]
    group_orgs: Mapping[int, frozenset[int]]
    _members: int = field(init=False)
    _peers: int = field(init=False)
    _groups: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        peers = sum(bit(o) for o, k in self.kinds.items() if k is OrgKind.PEER)
        members = sum(bit(o) for o, k in self.kinds.items() if k is not OrgKind.PEER)
        object.__setattr__(self, "_peers", peers)
        object.__setattr__(self, "_members", members)
        groups = {g: sum(bit(o) for o in orgs) & members for g, orgs in self.group_orgs.items()}
        object.__setattr__(self, "_groups", groups)

    def base_mask(self, obj: ObjectRights) -> int:
        """Rules 3-7 of the policy, for every organisation at once."""
        mask = bit(obj.owner_org_id)
        if obj.distribution in (Distribution.COMMUNITY, Distribution.FEDERATION):
            mask |= self._members
        if obj.distribution is Distribution.FEDERATION and obj.tlp in FEDERATABLE_TLP:
            mask |= self._peers
        if obj.distribution is Distribution.GROUPS:
            for group_id in obj.group_ids:
                mask |= self._groups.get(group_id, 0)
        return mask


def audience_mask(obj: ObjectRights, coalition: Coalition) -> int:
    """Organisations whose readers ``can_see(obj)``: derived objects need every source."""
    mask = coalition.base_mask(obj)
    for source in obj.sources:
        mask &= coalition.base_mask(source)
    return mask


def load_coalition(conn: Connection) -> Coalition:
    """The organisations and group rosters, read now (two small queries)."""
    kinds = {
        row.id: OrgKind(row.kind)
        for row in conn.execute(select(organisations.c.id, organisations.c.kind))
    }
    rosters: dict[int, set[int]] = {}
    for row in conn.execute(select(group_members.c.group_id, group_members.c.org_id)):
        rosters.setdefault(row.group_id, set()).add(row.org_id)
    return Coalition(kinds, {g: frozenset(m) for g, m in rosters.items()})
