"""IOC alerts: owned by the matched organisation, idempotent, sightings for the producer,
read only through the policy."""

from __future__ import annotations

from sqlalchemy import func, select

from alert_world import NOW, dns
from intel_world import World
from steppe.alerts.queries import get_alert, list_alerts
from steppe.alerts.store import AlertStore, set_named, store_ioc_alerts
from steppe.detection.ioc import IocMatcher, build_index
from steppe.detection.sigma.hits import SigmaHit
from steppe.errors import NotFound
from steppe.intel.sightings import list_sightings
from steppe.sharing.model import Distribution, ObjectRights, TlpLevel
from steppe.sharing.policy import can_read_telemetry, can_see
from steppe.storage.schema import alerts, intel_objects, sightings

EVIL = "indicator--00000000-0000-4000-8000-000000000001"
IP = "indicator--00000000-0000-4000-8000-000000000002"


def _detect(world: World, org: str, events: list[dict[str, object]]) -> tuple[int, int]:
    with world.engine.connect() as conn:
        matcher = IocMatcher(build_index(conn, NOW))
    org_id = world.orgs[org].id
    with world.engine.begin() as conn:
        result = store_ioc_alerts(
            conn, world.trail, org_id, matcher.match_events(events, org_id, NOW)
        )
    return result.new, result.duplicates


def test_outside_the_group_no_alert_and_no_hint(world: World) -> None:
    events = [dns("c2.evil.example", 1), dns("www.evil.example", 2)]
    assert _detect(world, "uz", events) == (0, 0)
    # Both queries came from one host (10.0.0.1) within the hour: one alert of 2 events.
    assert _detect(world, "kg", events) == (1, 0)
    with world.engine.connect() as conn:
        assert conn.scalar(select(alerts.c.count)) == 2
        owners = set(conn.scalars(select(alerts.c.org_id)))
        uz_view = list_alerts(conn, world.actors["uzi"])
    assert owners == {world.orgs["kg"].id}
    assert uz_view.items == [] and uz_view.total == 0


def test_rerunning_detection_duplicates_nothing(world: World) -> None:
    events = [dns("c2.evil.example", 1, ip="91.92.93.94")]
    assert _detect(world, "kz", events) == (2, 0)  # the domain and the address
    assert _detect(world, "kz", events) == (0, 2)
    with world.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(alerts)) == 2
        assert conn.scalar(select(func.count()).select_from(sightings)) == 2


def test_producer_learns_seen_and_the_sighter_only_if_it_allows(world: World) -> None:
    with world.engine.begin() as conn:
        set_named(conn, world.trail, world.orgs["uz"].id, True)
    _detect(world, "kg", [dns("a.evil.example", 1), dns("b.evil.example", 2)])
    _detect(world, "uz", [dns("x", 1, ip="91.92.93.94")])
    with world.engine.connect() as conn:
        seen = list_sightings(conn, world.actors["ana"], EVIL)
        ip_seen = list_sightings(conn, world.actors["ana"], IP)
    assert seen.totals == {"seen": 2}
    assert [i.organisation for i in seen.items] == [None]  # KG did not allow naming
    assert [i.organisation for i in ip_seen.items] == ["UZ-CERT"]


def test_reads_follow_the_policy_for_every_actor(world: World) -> None:
    _detect(world, "kg", [dns("c2.evil.example", 1)])
    _detect(world, "kz", [dns("c2.evil.example", 1, ip="91.92.93.94")])
    with world.engine.connect() as conn:
        rows = conn.execute(select(alerts.c.id, alerts.c.org_id, alerts.c.indicator_pk)).all()
        rights = {}
        for row in conn.execute(select(intel_objects)):
            groups = frozenset({world.group.id}) if row.distribution == "groups" else frozenset()
            rights[row.pk] = ObjectRights(
                row.owner_org_id, Distribution(row.distribution), TlpLevel(row.tlp), groups
            )
        for name, actor in world.actors.items():
            page = list_alerts(conn, actor)
            expected = {r.id for r in rows if can_read_telemetry(actor, r.org_id)}
            assert {a.id for a in page.items} == expected, name
            for row in rows:
                if row.id not in expected:
                    try:
                        get_alert(conn, actor, row.id)
                    except NotFound:
                        continue
                    raise AssertionError(f"{name} read alert {row.id}")
                view = get_alert(conn, actor, row.id)
                named = can_see(actor, rights[row.indicator_pk]).allowed
                assert (view.indicator is not None) == named, name
                assert (view.matched is not None) == named, name
                assert (
                    view.event is not None and view.event["dns.question.name"] == "c2.evil.example"
                )


def test_filters_and_severity(world: World) -> None:
    _detect(world, "kz", [dns("c2.evil.example", 1, ip="91.92.93.94")])
    with world.engine.connect() as conn:
        ana = world.actors["ana"]
        high = list_alerts(conn, ana, severity="high")
        found = list_alerts(conn, ana, search="91.92")
    assert [a.indicator for a in high.items] == [EVIL]  # confidence 90
    assert [a.indicator for a in found.items] == [IP]


def test_sigma_hits_land_in_the_same_store(world: World) -> None:
    hit = SigmaHit("rule-1", "Suspicious thing", "high", (), dns("x", 3), world.orgs["kg"].id)
    store = AlertStore(world.engine, world.trail)
    store.submit([hit, hit])
    store.submit([hit])
    with world.engine.connect() as conn:
        page = list_alerts(conn, world.actors["bek"], kind="sigma")
    assert [(a.rule_id, a.severity) for a in page.items] == [("rule-1", "high")]


def test_an_alert_outlives_its_deleted_indicator_and_stops_naming_it(world: World) -> None:
    from sqlalchemy import delete

    from steppe.storage.schema import metadata

    _detect(world, "kz", [dns("c2.evil.example", 1)])
    with world.engine.begin() as conn:  # as a TAXII DELETE does: every referencing row
        pk = conn.scalar(select(intel_objects.c.pk).where(intel_objects.c.stix_id == EVIL))
        for table in reversed(metadata.sorted_tables):
            for column in table.columns:
                if any(fk.column is intel_objects.c.pk for fk in column.foreign_keys):
                    conn.execute(delete(table).where(column == pk))
        conn.execute(delete(intel_objects).where(intel_objects.c.pk == pk))
    with world.engine.connect() as conn:
        page = list_alerts(conn, world.actors["ana"])
    assert [(a.observed, a.indicator, a.matched) for a in page.items] == [
        ("c2.evil.example", None, None)
    ]
