"""Intel for the export tests: indicators of every exportable type, recent enough not
to have decayed, loaded into the small coalition of :mod:`intel_world`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from helpers import indicator
from intel_world import World
from steppe.response.exports import ExportOptions, plan_export, stream_export
from steppe.sharing.model import Actor
from steppe.storage import timestamps

PATHS = {
    "ipv4": "ipv4-addr:value",
    "ipv6": "ipv6-addr:value",
    "cidr": "ipv4-addr:value",
    "domain": "domain-name:value",
    "url": "url:value",
    "email": "email-addr:value",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
}

SAMPLES = {
    "ipv4": "45.133.1.7",
    "ipv6": "2a0b:f4c2::7",
    "cidr": "45.133.2.64/26",
    "domain": "evil.example",
    "url": 'http://evil.example/dl?x=1;y="2"',
    "email": "boss@evil.example",
    "md5": "5f4dcc3b5aa765d61d8327deb882cf91",
    "sha1": "3c1bdbb0ab2e6e0e1a22b5e1d7d2d4c8c6b1e2f3",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a09",
}


def recent(days: float = 1) -> str:
    """A STIX timestamp ``days`` ago: young enough that no decay has expired it."""
    moment = timestamps.parse(timestamps.now()) - timedelta(days=days)
    return timestamps.format_ts(moment)[:23] + "Z"


def ioc(kind: str, value: str, **extra: Any) -> dict[str, Any]:
    when = recent()
    fields: dict[str, Any] = {"created": when, "modified": when, "valid_from": when}
    fields.update(extra)
    return indicator(value, PATHS[kind], confidence=90, **fields)


def every_type(world: World, org: str = "kz", **marking: Any) -> dict[str, str]:
    """One indicator per exportable type; returns type → stix id."""
    objects = {kind: ioc(kind, value) for kind, value in SAMPLES.items()}
    world.load(org, *objects.values(), **marking)
    return {kind: obj["id"] for kind, obj in objects.items()}


def export(
    conn: Connection,
    actor: Actor,
    fmt: str,
    options: ExportOptions | None = None,
    since: str | None = None,
) -> tuple[bytes, str, bool]:
    """The export's bytes, its cursor, and whether it was incremental."""
    plan = plan_export(actor, fmt, options or ExportOptions(), since=since, requester="test")
    data = b"".join(stream_export(conn, actor, plan))
    return data, plan.cursor, plan.incremental
