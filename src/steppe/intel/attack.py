"""MITRE ATT&CK techniques as tags, each linked to one shared attack-pattern object.

Techniques come from the ``pymispgalaxies`` data (the ``mitre-attack-pattern`` cluster,
``external_id`` T1059.001 …). A tag ``attack.t1059.001`` (or the MISP galaxy spelling)
on an object is the link: the label is stored in both spellings, and the technique's
attack-pattern object — created once, owned by the center's coordinator organisation,
distribution ``community``, TLP:CLEAR, with MITRE's own STIX id for the technique
(deterministic: the same id on every instance and in every ATT&CK bundle) — carries the
same label. Search by technique is then a label look-up under the policy:
``T1059`` finds T1059 and its sub-techniques.

    >>> technique("t1059.001").name
    'PowerShell'
    >>> technique("T1059.001").stix_id
    'attack-pattern--970a3432-3237-47ad-bcca-7d8cbb217736'
"""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, or_, select

from steppe.errors import ConfigError, InputError, NotFound
from steppe.storage.schema import intel_objects, object_labels, organisations

__all__ = [
    "Technique",
    "attack_pattern_object",
    "coordinator_org_id",
    "label_filter",
    "missing_attack_patterns",
    "technique",
    "technique_of_tag",
]

_TECHNIQUE_ID = re.compile(r"T\d{4}(?:\.\d{3})?", re.IGNORECASE)
_LABEL = re.compile(r"attack\.(t\d{4}(?:\.\d{3})?)", re.IGNORECASE)
_GALAXY = re.compile(r'misp-galaxy:mitre-attack-pattern="([^"]*)"', re.IGNORECASE)
_NAMESPACE = uuid.UUID("6f4f6d1e-2a52-4b8e-9c39-5b8f3c1f7a10")  # only for values without one
#: A fixed version time: the object is the same on every instance and re-creating it
#: is a no-op.
_CREATED = "2017-05-31T21:30:00.000Z"


@dataclass(frozen=True, slots=True)
class Technique:
    id: str  # T1059.001
    name: str  # PowerShell
    galaxy_value: str  # "PowerShell - T1059.001"
    tactics: tuple[str, ...]
    description: str
    url: str | None
    stix_id: str

    @property
    def label(self) -> str:
        return f"attack.{self.id.lower()}"

    @property
    def galaxy_tag(self) -> str:
        return f'misp-galaxy:mitre-attack-pattern="{self.galaxy_value}"'


def _cluster_path() -> Path:
    spec = importlib.util.find_spec("pymispgalaxies")
    if spec is None or spec.origin is None:
        raise ConfigError("pymispgalaxies is not installed")
    return Path(spec.origin).parent / "data/misp-galaxy/clusters/mitre-attack-pattern.json"


@lru_cache(maxsize=1)
def _techniques() -> tuple[dict[str, Technique], dict[str, Technique]]:
    """By id (upper case), and by galaxy value (lower case)."""
    with _cluster_path().open("rb") as f:
        doc = json.load(f)
    by_id: dict[str, Technique] = {}
    by_value: dict[str, Technique] = {}
    for item in doc["values"]:
        meta = item.get("meta") or {}
        tid = str(meta.get("external_id", "")).upper()
        if not _TECHNIQUE_ID.fullmatch(tid):
            continue
        value = str(item["value"])
        name = value.rsplit(" - ", 1)[0]
        tactics = tuple(sorted({k.split(":", 1)[-1] for k in meta.get("kill_chain") or ()}))
        url = next((r for r in meta.get("refs") or () if "attack.mitre.org/techniques" in r), None)
        ident = item.get("uuid") or str(uuid.uuid5(_NAMESPACE, tid))
        found = Technique(
            tid, name, value, tactics, str(item.get("description", "")), url,
            f"attack-pattern--{ident}",
        )  # fmt: skip
        by_id[tid] = found
        by_value[value.lower()] = found
    return by_id, by_value


def technique(technique_id: str) -> Technique:
    """The technique ``T1059`` / ``t1059.001``; NotFound when ATT&CK has no such one."""
    tid = technique_id.strip().upper()
    if not _TECHNIQUE_ID.fullmatch(tid):
        raise InputError(
            f"{technique_id!r} is not an ATT&CK technique id (T1059 or T1059.001)",
            field="technique",
        )
    found = _techniques()[0].get(tid)
    if found is None:
        raise NotFound(f"no ATT&CK technique {tid}")
    return found


def technique_of_tag(tag: str) -> Technique | None:
    """The technique an ATT&CK tag names, None for other tags; InputError when unknown."""
    if (m := _LABEL.fullmatch(tag)) is not None:
        try:
            return technique(m.group(1))
        except NotFound:
            raise InputError(f"tag {tag!r}: no ATT&CK technique {m.group(1).upper()}") from None
    if (m := _GALAXY.fullmatch(tag)) is not None:
        found = _techniques()[1].get(m.group(1).lower())
        if found is None:
            raise InputError(f"tag {tag!r}: no ATT&CK technique named {m.group(1)!r}")
        return found
    return None


def label_filter(technique_id: str) -> Any:
    """SQL predicate on ``object_labels.label``: the technique and its sub-techniques."""
    label = technique(technique_id).label
    return or_(object_labels.c.label == label, object_labels.c.label.like(label + ".%"))


def attack_pattern_object(found: Technique) -> dict[str, Any]:
    """The STIX 2.1 attack-pattern for a technique, always the same for the same one."""
    obj: dict[str, Any] = {
        "type": "attack-pattern",
        "spec_version": "2.1",
        "id": found.stix_id,
        "created": _CREATED,
        "modified": _CREATED,
        "name": found.name,
        "labels": [found.label],
        "external_references": [
            {"source_name": "mitre-attack", "external_id": found.id}
            | ({"url": found.url} if found.url else {})
        ],
    }
    if found.description:
        obj["description"] = found.description
    if found.tactics:
        obj["kill_chain_phases"] = [
            {"kill_chain_name": "mitre-attack", "phase_name": t} for t in found.tactics
        ]
    return obj


def coordinator_org_id(conn: Connection) -> int | None:
    """The center's own organisation (the first coordinator), None when there is none."""
    found: int | None = conn.execute(
        select(organisations.c.id)
        .where(organisations.c.kind == "coordinator")
        .order_by(organisations.c.id)
        .limit(1)
    ).scalar()
    return found


def missing_attack_patterns(
    conn: Connection, technique_ids: Iterable[str]
) -> tuple[int | None, list[Technique]]:
    """The coordinator org and the techniques whose attack-pattern it does not hold yet."""
    wanted = {technique(t).id: technique(t) for t in technique_ids}
    owner = coordinator_org_id(conn)
    if owner is None or not wanted:
        return owner, []
    have = set(
        conn.execute(
            select(intel_objects.c.stix_id).where(
                intel_objects.c.owner_org_id == owner,
                intel_objects.c.stix_id.in_([t.stix_id for t in wanted.values()]),
            )
        ).scalars()
    )
    return owner, [t for t in wanted.values() if t.stix_id not in have]
