"""The per-organisation audience masks agree with can_see, for every organisation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from steppe.detection.ioc.audience import Coalition, audience_mask, bit, org_ids
from steppe.sharing.model import Actor, Distribution, ObjectRights, OrgKind, Role, TlpLevel
from steppe.sharing.policy import can_see


@st.composite
def rights(draw: st.DrawFn, n_orgs: int, n_groups: int) -> ObjectRights:
    groups = frozenset(draw(st.sets(st.integers(0, n_groups - 1), max_size=n_groups)))
    distribution = draw(st.sampled_from(list(Distribution)))
    return ObjectRights(
        draw(st.integers(0, n_orgs - 1)),
        distribution,
        draw(st.sampled_from(list(TlpLevel))),
        groups if distribution is Distribution.GROUPS else frozenset(),
    )


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Coalition, list[ObjectRights]]:
    n_orgs = draw(st.integers(1, 7))
    n_groups = draw(st.integers(1, 4))
    kinds = {o: draw(st.sampled_from(list(OrgKind))) for o in range(n_orgs)}
    groups = {
        g: frozenset(draw(st.sets(st.integers(0, n_orgs - 1), max_size=n_orgs)))
        for g in range(n_groups)
    }
    objects = []
    for _ in range(draw(st.integers(1, 8))):
        obj = draw(rights(n_orgs, n_groups))
        sources = tuple(draw(st.lists(rights(n_orgs, n_groups), max_size=2)))
        objects.append(
            ObjectRights(obj.owner_org_id, obj.distribution, obj.tlp, obj.group_ids, sources)
        )
    return Coalition(kinds, groups), objects


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_audience_mask_is_can_see_for_every_organisation(
    world: tuple[Coalition, list[ObjectRights]],
) -> None:
    coalition, objects = world
    for obj in objects:
        mask = audience_mask(obj, coalition)
        for org_id, kind in coalition.kinds.items():
            in_groups = frozenset(g for g, m in coalition.group_orgs.items() if org_id in m)
            reader = Actor(0, "r", org_id, kind, frozenset({Role.READER}), in_groups)
            assert bool(mask & bit(org_id)) == can_see(reader, obj).allowed, (org_id, obj)


def test_org_ids_lists_the_bits() -> None:
    assert org_ids(bit(3) | bit(40) | bit(0)) == [0, 3, 40]
    assert org_ids(0) == []
