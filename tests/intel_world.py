"""A small coalition for the intel enrichment tests, and an import helper.

Center   coordinator   root (admin)
KZ-CERT  member        ana (analyst)
KG-CERT  member        bek (analyst)    CSTO = {KZ-CERT, KG-CERT}, owned by KZ-CERT
UZ-CERT  member        uzi (analyst)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from helpers import bundle
from steppe.audit.trail import AuditTrail
from steppe.intel.config import IntelConfig
from steppe.intel.importer import ImportReport, Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.sharing import directory
from steppe.sharing.model import Actor, Distribution, OrgKind, Role, TlpLevel


@dataclass
class World:
    engine: Engine
    trail: AuditTrail
    orgs: dict[str, directory.Organisation]
    group: directory.SharingGroup
    actors: dict[str, Actor]

    def actor(self, user: str) -> Actor:
        with self.engine.connect() as conn:
            return directory.load_actor(conn, user)

    def load(
        self,
        org: str,
        *objects: dict[str, Any],
        distribution: Distribution = Distribution.COMMUNITY,
        tlp: TlpLevel = TlpLevel.GREEN,
        config: IntelConfig | None = None,
    ) -> ImportReport:
        data = bundle(*objects)
        groups = (self.group,) if distribution is Distribution.GROUPS else ()
        with self.engine.begin() as conn:
            return import_objects(
                conn,
                self.trail,
                data,
                read_bundle(data, "test.json"),
                owner=self.orgs[org],
                marking=Marking(distribution, tlp, groups),
                source="test.json",
                config=config,
            )


def build_world(engine: Engine, trail: AuditTrail) -> World:
    with engine.begin() as conn:
        orgs = {
            "center": directory.add_organisation(conn, trail, "Center", None, OrgKind.COORDINATOR),
            "kz": directory.add_organisation(conn, trail, "KZ-CERT", "KZ", OrgKind.MEMBER),
            "kg": directory.add_organisation(conn, trail, "KG-CERT", "KG", OrgKind.MEMBER),
            "uz": directory.add_organisation(conn, trail, "UZ-CERT", "UZ", OrgKind.MEMBER),
        }
        group = directory.add_group(conn, trail, "CSTO", orgs["kz"])
        group = directory.add_group_member(conn, trail, group, orgs["kz"])
        group = directory.add_group_member(conn, trail, group, orgs["kg"])
        for user, org, role in (
            ("root", "center", Role.ADMIN),
            ("ana", "kz", Role.ANALYST),
            ("bek", "kg", Role.ANALYST),
            ("uzi", "uz", Role.ANALYST),
        ):
            directory.add_user(conn, trail, user, orgs[org], frozenset({role}))
    world = World(engine, trail, orgs, group, {})
    world.actors = {u: world.actor(u) for u in ("root", "ana", "bek", "uzi")}
    return world
