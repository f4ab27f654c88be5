"""For the alert tests: a coalition with a group-only and a community indicator, and
telemetry that hits them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from helpers import indicator
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.sharing.model import Distribution, TlpLevel

NOW = "2026-01-10T00:00:00.000000Z"


def alert_world(engine: Engine, trail: AuditTrail) -> World:
    world = build_world(engine, trail)
    world.load(
        "kz",
        indicator(
            "evil.example", id="indicator--00000000-0000-4000-8000-000000000001", confidence=90
        ),
        distribution=Distribution.GROUPS,
        tlp=TlpLevel.AMBER,
    )
    world.load(
        "kz",
        indicator(
            "91.92.93.94", "ipv4-addr:value", id="indicator--00000000-0000-4000-8000-000000000002"
        ),
    )
    return world


def dns(name: str, n: int = 0, ip: str = "10.0.0.1") -> dict[str, Any]:
    return {
        "@timestamp": f"2026-01-09T10:00:{n:02d}.000000Z",
        "event.dataset": "zeek.dns",
        "source.ip": ip,
        "dns.question.name": name,
        "raw": {"query": name, "n": n},
    }
