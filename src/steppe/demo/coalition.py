"""The demo coalition: a regional center, ten member CERTs and their real blocs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from steppe.audit.trail import AuditTrail
from steppe.sharing import directory
from steppe.sharing.model import OrgKind, Role

__all__ = ["CENTER", "GROUPS", "MEMBERS", "Coalition", "seed_coalition"]

CENTER = "Regional Center"

#: Member CERTs: (organisation name, ISO country, analyst user name).
MEMBERS: tuple[tuple[str, str, str], ...] = (
    ("RU-CERT", "RU", "analyst.ru"),
    ("CNCERT", "CN", "analyst.cn"),
    ("KZ-CERT", "KZ", "analyst.kz"),
    ("KG-CERT", "KG", "analyst.kg"),
    ("TJ-CERT", "TJ", "analyst.tj"),
    ("UZ-CERT", "UZ", "analyst.uz"),
    ("TM-CERT", "TM", "analyst.tm"),
    ("CERT-In", "IN", "analyst.in"),
    ("PKCERT", "PK", "analyst.pk"),
    ("AFCERT", "AF", "analyst.af"),
)


@dataclass(frozen=True, slots=True)
class GroupSpec:
    name: str
    description: str
    owner: str
    members: tuple[str, ...]
    hidden_roster: bool = False


#: Real memberships, restricted to the coalition's countries (observers and dialogue
#: partners are not members).
GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec(
        "SCO",
        "Shanghai Cooperation Organisation",
        CENTER,
        ("CNCERT", "RU-CERT", "KZ-CERT", "KG-CERT", "TJ-CERT", "UZ-CERT", "CERT-In", "PKCERT"),
    ),
    GroupSpec(
        "CSTO",
        "Collective Security Treaty Organisation",
        CENTER,
        ("RU-CERT", "KZ-CERT", "KG-CERT", "TJ-CERT"),
    ),
    GroupSpec("EAEU", "Eurasian Economic Union", CENTER, ("RU-CERT", "KZ-CERT", "KG-CERT")),
    GroupSpec("BRICS", "BRICS", CENTER, ("RU-CERT", "CNCERT", "CERT-In")),
    GroupSpec(
        "QCCM",
        "Quadrilateral Cooperation and Coordination Mechanism (Russia is not in it)",
        "CNCERT",
        ("CNCERT", "AFCERT", "PKCERT", "TJ-CERT"),
        hidden_roster=True,
    ),
)


@dataclass(frozen=True, slots=True)
class Coalition:
    organisations: dict[str, directory.Organisation]
    groups: dict[str, directory.SharingGroup]
    users: dict[str, directory.User]


def seed_coalition(conn: Connection, trail: AuditTrail) -> Coalition:
    orgs = {CENTER: directory.add_organisation(conn, trail, CENTER, None, OrgKind.COORDINATOR)}
    users = {
        "admin": directory.add_user(conn, trail, "admin", orgs[CENTER], frozenset({Role.ADMIN})),
        "coordinator": directory.add_user(
            conn, trail, "coordinator", orgs[CENTER], frozenset({Role.COORDINATOR})
        ),
    }
    for name, country, analyst in MEMBERS:
        org = directory.add_organisation(conn, trail, name, country, OrgKind.MEMBER)
        orgs[name] = org
        users[analyst] = directory.add_user(conn, trail, analyst, org, frozenset({Role.ANALYST}))
    users["sensor.kz"] = directory.add_user(
        conn, trail, "sensor.kz", orgs["KZ-CERT"], frozenset({Role.SENSOR})
    )
    groups = {}
    for spec in GROUPS:
        group = directory.add_group(
            conn,
            trail,
            spec.name,
            orgs[spec.owner],
            hidden_roster=spec.hidden_roster,
            description=spec.description,
        )
        for member in spec.members:
            group = directory.add_group_member(conn, trail, group, orgs[member])
        groups[spec.name] = group
    return Coalition(orgs, groups, users)
