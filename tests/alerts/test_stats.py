"""The dashboard's alert figures count only what each reader may read, and name only
the indicators it may see — checked against the policy's oracle for every actor."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from alert_world import NOW, dns
from intel_world import World
from steppe.alerts.stats import situation
from steppe.alerts.store import store_ioc_alerts
from steppe.detection.ioc import IocMatcher, build_index
from steppe.sharing.model import Distribution, ObjectRights, TlpLevel
from steppe.sharing.policy import can_read_telemetry, can_see
from steppe.storage.schema import alerts, intel_objects


def _detect(world: World, org: str, events: list[dict[str, object]]) -> None:
    with world.engine.connect() as conn:
        matcher = IocMatcher(build_index(conn, NOW))
    org_id = world.orgs[org].id
    with world.engine.begin() as conn:
        store_ioc_alerts(conn, world.trail, org_id, matcher.match_events(events, org_id, NOW))


def test_figures_follow_the_policy_for_every_actor(world: World) -> None:
    _detect(world, "kg", [dns("c2.evil.example", 1), dns("x.evil.example", 2)])
    _detect(world, "kz", [dns("c2.evil.example", 3, ip="91.92.93.94")])
    _detect(world, "uz", [dns("quiet.example", 4, ip="91.92.93.94")])
    with world.engine.connect() as conn:
        rows = conn.execute(select(alerts.c.org_id, alerts.c.indicator_pk, alerts.c.severity)).all()
        rights = {}
        for row in conn.execute(select(intel_objects)):
            groups = frozenset({world.group.id}) if row.distribution == "groups" else frozenset()
            rights[row.pk] = ObjectRights(
                row.owner_org_id, Distribution(row.distribution), TlpLevel(row.tlp), groups
            )
        # KG: 2 names of one indicator on one host in one hour (one aggregated alert); KZ:
        # the name and the address; UZ: the address.
        assert len(rows) == 4
        for name, actor in world.actors.items():
            figures = situation(conn, actor, days=14, now=NOW)
            readable = [r for r in rows if can_read_telemetry(actor, r.org_id)]
            assert figures.total == len(readable), name
            assert sum(d.total for d in figures.per_day) == len(readable), name
            assert Counter({m.org_id: m.alerts for m in figures.by_member}) == Counter(
                r.org_id for r in readable
            ), name
            named = Counter(
                r.indicator_pk for r in readable if can_see(actor, rights[r.indicator_pk])
            )
            hidden = len(readable) - sum(named.values())
            shown = {i.ref: i.alerts for i in figures.top_indicators if i.ref is not None}
            pk_of = {
                conn.scalar(select(intel_objects.c.stix_id).where(intel_objects.c.pk == pk)): n
                for pk, n in named.items()
            }
            assert shown == pk_of, name
            hidden_rows = [i.alerts for i in figures.top_indicators if i.ref is None]
            assert hidden_rows == ([hidden] if hidden else []), name


def test_days_without_alerts_are_zero_and_old_alerts_are_left_out(world: World) -> None:
    _detect(world, "kz", [dns("c2.evil.example", 1)])  # first seen 2026-01-09
    with world.engine.connect() as conn:
        recent = situation(conn, world.actors["ana"], days=3, now=NOW)
        later = situation(conn, world.actors["ana"], days=3, now="2026-02-01T00:00:00.000000Z")
    assert [d.day for d in recent.per_day] == ["2026-01-08", "2026-01-09", "2026-01-10"]
    assert [d.total for d in recent.per_day] == [0, 1, 0]
    assert later.total == 0 and later.by_member == [] and later.top_indicators == []
