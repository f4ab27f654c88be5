"""For the incident tests: the alert coalition with a reader, a sensor and a center
coordinator, and one alert each for KZ-CERT and KG-CERT.

Center   coordinator   root (admin), cora (coordinator)
KZ-CERT  member        ana (analyst), rita (reader), sam (sensor)
KG-CERT  member        bek (analyst)    CSTO = {KZ-CERT, KG-CERT}
UZ-CERT  member        uzi (analyst)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from alert_world import NOW, alert_world, dns
from intel_world import World
from steppe.alerts.store import store_ioc_alerts
from steppe.audit.trail import AuditTrail
from steppe.detection.ioc import IocMatcher, build_index
from steppe.sharing import directory
from steppe.sharing.model import Role
from steppe.storage.schema import alerts

EVIL = "indicator--00000000-0000-4000-8000-000000000001"  # KZ's, CSTO only
IP = "indicator--00000000-0000-4000-8000-000000000002"  # KZ's, community


@dataclass
class IncidentWorld:
    world: World
    kz_alert: str
    kg_alert: str


def incident_world(engine: Engine, trail: AuditTrail) -> IncidentWorld:
    world = alert_world(engine, trail)
    with engine.begin() as conn:
        for name, org, role in (
            ("rita", "kz", Role.READER),
            ("sam", "kz", Role.SENSOR),
            ("cora", "center", Role.COORDINATOR),
        ):
            directory.add_user(conn, trail, name, world.orgs[org], frozenset({role}))
        matcher = IocMatcher(build_index(conn, NOW))
        found = {}
        for org in ("kz", "kg"):
            org_id = world.orgs[org].id
            events = [dns("c2.evil.example", 1, ip=f"10.0.0.{org_id}")]
            store_ioc_alerts(conn, trail, org_id, matcher.match_events(events, org_id, NOW))
            found[org] = str(conn.scalar(select(alerts.c.id).where(alerts.c.org_id == org_id)))
    for name in ("rita", "sam", "cora"):
        world.actors[name] = world.actor(name)
    return IncidentWorld(world, found["kz"], found["kg"])
