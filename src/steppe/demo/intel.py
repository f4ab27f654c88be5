"""Sample intelligence for the demo, as feeds built from two public lists in demo/data.

Each sample is written into the demo folder as a file and registered as a feed
(``file://``) that the demo then pulls through the ordinary feed path. Each owner
shares with a different audience, so the demo shows the policy at work: a QCCM-only
list that Russia's analysts cannot find, a TLP:RED organisation-only list, a federation
list for peers, community lists from the center.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from steppe.intel.feeds import FeedFormat
from steppe.sharing.model import Distribution, TlpLevel

__all__ = ["SampleFeed", "sample_feeds", "write_sample"]

_NS = uuid.UUID("5e3c7f0a-8d1b-4c2e-9f6a-0b7d2e4c1a93")
_WHEN = "2026-11-01T00:00:00.000Z"


@dataclass(frozen=True, slots=True)
class SampleFeed:
    """One demo feed: who owns it, who it is for, its file and a value to look for."""

    name: str
    owner: str
    title: str
    distribution: Distribution
    tlp: TlpLevel
    groups: tuple[str, ...]
    format: FeedFormat
    preset: str | None
    filename: str
    content: bytes
    example: str  # a value from the feed, to show who can find it


def write_sample(feed: SampleFeed, folder: Path) -> str:
    """Write the feed's file into ``folder``; returns its ``file://`` URL."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / feed.filename
    path.write_bytes(feed.content)
    return path.resolve().as_uri()


def _id(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(_NS, f'{kind}:{key}')}"


def _data(name: str) -> str:
    return resources.files("steppe.demo").joinpath(f"data/{name}").read_text()


def _c2_sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in _data("c2-sample.txt").splitlines():
        line = line.strip()
        if line.startswith("# ") and "http" in line:
            current = line[2:].split(" http")[0].strip()
            sections[current] = []
        elif line and not line.startswith("#") and current is not None:
            sections[current].append(line)
    return sections


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
    objects: list[dict[str, Any]] = [actor, vuln, complex_indicator, rel]
    return orjson.dumps({"type": "bundle", "id": _id("bundle", "kg-vuln"), "objects": objects})


def sample_feeds() -> Iterator[SampleFeed]:
    c2 = _c2_sections()
    plan = [
        ("snowman", "KZ-CERT", "FireEye Operation Snowman", Distribution.GROUPS, TlpLevel.AMBER, ("CSTO",)),
        ("sofacy-2015", "CNCERT", "Sofacy report Dec 2015", Distribution.GROUPS, TlpLevel.AMBER, ("QCCM",)),
        ("mofang", "CERT-In", "Mofang report by FoxIT", Distribution.GROUPS, TlpLevel.GREEN, ("BRICS",)),
        ("sauron", "RU-CERT", "Project Sauron", Distribution.ORGANISATION, TlpLevel.RED, ()),
        (
            "eternalblue-payloads",
            "PKCERT",
            "Threat actors leverage EternalBlue exploit to deliver non-WannaCry payloads",
            Distribution.FEDERATION,
            TlpLevel.GREEN,
            (),
        ),
        ("black-oasis", "UZ-CERT", "Black Oasis IOC", Distribution.GROUPS, TlpLevel.AMBER_STRICT, ("SCO",)),
        ("sofacy-activity", "Regional Center", "Sofacy activity", Distribution.COMMUNITY, TlpLevel.GREEN, ()),
    ]  # fmt: skip
    for name, owner, campaign, dist, tlp, groups in plan:
        values = c2[campaign]
        # The campaign's name heads the list, as in signature-base: it becomes each
        # indicator's description.
        content = f"# {campaign}\n" + "".join(f"{v}\n" for v in values)
        yield SampleFeed(
            name, owner, campaign, dist, tlp, groups, FeedFormat.PLAIN, "signature-base",
            f"{name}.txt", content.encode(), values[-1],
        )  # fmt: skip
    ipsum = _data("ipsum-sample.txt")
    first_ip = next(
        line.split()[0] for line in ipsum.splitlines() if line and not line.startswith("#")
    )
    yield SampleFeed(
        "ipsum", "Regional Center", "IPsum blacklist sample", Distribution.COMMUNITY,
        TlpLevel.CLEAR, (), FeedFormat.CSV, "ipsum", "ipsum-sample.txt", ipsum.encode(), first_ip,
    )  # fmt: skip
    yield SampleFeed(
        "kg-cve-2024-3400", "KG-CERT", "CVE-2024-3400 and a demo actor", Distribution.COMMUNITY,
        TlpLevel.GREEN, (), FeedFormat.STIX, None, "kg-cve-2024-3400.json",
        _vulnerability_bundle(), "CVE-2024-3400",
    )  # fmt: skip
