"""Sample intelligence for the demo, built from two public feeds shipped in demo/data.

Each owner shares with a different audience, so the demo shows the policy at work:
a QCCM-only set that Russia's analysts cannot find, a TLP:RED organisation-only set,
a federation set for peers, community feeds from the center.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson

from steppe.sharing.model import Distribution, TlpLevel

__all__ = ["SampleSet", "sample_sets"]

_NS = uuid.UUID("5e3c7f0a-8d1b-4c2e-9f6a-0b7d2e4c1a93")
_WHEN = "2026-11-01T00:00:00.000Z"
_UNTIL = "2027-05-01T00:00:00.000Z"


@dataclass(frozen=True, slots=True)
class SampleSet:
    """One import: who owns it, who it is for, and the bundle."""

    owner: str
    title: str
    distribution: Distribution
    tlp: TlpLevel
    groups: tuple[str, ...]
    bundle: bytes
    example: str  # a value from the set, to show who can find it


def _id(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(_NS, f'{kind}:{key}')}"


def _c2_sections() -> dict[str, list[str]]:
    text = resources.files("steppe.demo").joinpath("data/c2-sample.txt").read_text()
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# ") and "http" in line:
            current = line[2:].split(" http")[0].strip()
            sections[current] = []
        elif line and not line.startswith("#") and current is not None:
            sections[current].append(line)
    return sections


def _indicator(value: str, campaign: str, *, confidence: int = 70) -> dict[str, Any]:
    try:
        ipaddress.ip_address(value)
        path = "ipv4-addr:value" if "." in value else "ipv6-addr:value"
    except ValueError:
        path = "domain-name:value"
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": _id("indicator", f"{campaign}:{value}"),
        "created": _WHEN,
        "modified": _WHEN,
        "name": f"{campaign}: {value}",
        "indicator_types": ["malicious-activity"],
        "pattern": f"[{path} = '{value}']",
        "pattern_type": "stix",
        "valid_from": _WHEN,
        "valid_until": _UNTIL,
        "confidence": confidence,
    }


def _campaign_bundle(campaign: str, values: list[str]) -> bytes:
    camp = {
        "type": "campaign",
        "spec_version": "2.1",
        "id": _id("campaign", campaign),
        "created": _WHEN,
        "modified": _WHEN,
        "name": campaign,
    }
    objects: list[dict[str, Any]] = [camp]
    for value in values:
        ind = _indicator(value, campaign)
        objects.append(ind)
        objects.append(
            {
                "type": "relationship",
                "spec_version": "2.1",
                "id": _id("relationship", f"{campaign}:{value}"),
                "created": _WHEN,
                "modified": _WHEN,
                "relationship_type": "indicates",
                "source_ref": ind["id"],
                "target_ref": camp["id"],
            }
        )
    return _bundle(campaign, objects)


def _bundle(key: str, objects: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"type": "bundle", "id": _id("bundle", key), "objects": objects})


def _ipsum_bundle() -> tuple[bytes, str]:
    text = resources.files("steppe.demo").joinpath("data/ipsum-sample.txt").read_text()
    objects = []
    first = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        ip, score = line.split()
        first = first or ip
        objects.append(_indicator(ip, "IPsum blacklisted IP", confidence=min(100, 10 * int(score))))
    return _bundle("ipsum", objects), first


def _vulnerability_bundle() -> bytes:
    actor = {
        "type": "threat-actor",
        "spec_version": "2.1",
        "id": _id("threat-actor", "demo-actor"),
        "created": _WHEN,
        "modified": _WHEN,
        "name": "Steppe Wolf (demo actor)",
        "threat_actor_types": ["spy"],
    }
    vuln = {
        "type": "vulnerability",
        "spec_version": "2.1",
        "id": _id("vulnerability", "CVE-2024-3400"),
        "created": _WHEN,
        "modified": _WHEN,
        "name": "CVE-2024-3400",
        "external_references": [{"source_name": "cve", "external_id": "CVE-2024-3400"}],
    }
    complex_indicator = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": _id("indicator", "beacon-443"),
        "created": _WHEN,
        "modified": _WHEN,
        "name": "Beacon to bikessport.com over 443 (needs both: not matchable yet)",
        "pattern": "[domain-name:value = 'bikessport.com'] AND [network-traffic:dst_port = 443]",
        "pattern_type": "stix",
        "valid_from": _WHEN,
    }
    rel = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": _id("relationship", "actor-exploits"),
        "created": _WHEN,
        "modified": _WHEN,
        "relationship_type": "targets",
        "source_ref": actor["id"],
        "target_ref": vuln["id"],
    }
    return _bundle("kg-vuln", [actor, vuln, complex_indicator, rel])


def sample_sets() -> Iterator[SampleSet]:
    c2 = _c2_sections()
    plan = [
        ("KZ-CERT", "FireEye Operation Snowman", Distribution.GROUPS, TlpLevel.AMBER, ("CSTO",)),
        ("CNCERT", "Sofacy report Dec 2015", Distribution.GROUPS, TlpLevel.AMBER, ("QCCM",)),
        ("CERT-In", "Mofang report by FoxIT", Distribution.GROUPS, TlpLevel.GREEN, ("BRICS",)),
        ("RU-CERT", "Project Sauron", Distribution.ORGANISATION, TlpLevel.RED, ()),
        (
            "PKCERT",
            "Threat actors leverage EternalBlue exploit to deliver non-WannaCry payloads",
            Distribution.FEDERATION,
            TlpLevel.GREEN,
            (),
        ),
        ("UZ-CERT", "Black Oasis IOC", Distribution.GROUPS, TlpLevel.AMBER_STRICT, ("SCO",)),
        ("Regional Center", "Sofacy activity", Distribution.COMMUNITY, TlpLevel.GREEN, ()),
    ]
    for owner, campaign, dist, tlp, groups in plan:
        values = c2[campaign]
        yield SampleSet(
            owner, campaign, dist, tlp, groups, _campaign_bundle(campaign, values), values[-1]
        )
    ipsum, first_ip = _ipsum_bundle()
    yield SampleSet(
        "Regional Center",
        "IPsum blacklist sample",
        Distribution.COMMUNITY,
        TlpLevel.CLEAR,
        (),
        ipsum,
        first_ip,
    )
    yield SampleSet(
        "KG-CERT",
        "CVE-2024-3400 and a demo actor",
        Distribution.COMMUNITY,
        TlpLevel.GREEN,
        (),
        _vulnerability_bundle(),
        "CVE-2024-3400",
    )
