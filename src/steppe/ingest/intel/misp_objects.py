"""Building blocks of the MISP reader: one MISP thing -> one STIX object, and safe access.

MISP JSON in the wild has nulls where lists belong and numbers where strings do; the
helpers here turn junk into "absent" so that the reader reports problems instead of
crashing.

    >>> comparison("filename|sha256", "a.exe|" + "AB" * 32, ("file", "hashes.'SHA-256'"))
    ('file', "hashes.'SHA-256'", "'abababababababababababababababababababababababababababababababab'")
    >>> galaxy_of_tag('misp-galaxy:mitre-attack-pattern="Phishing - T1566"')["GalaxyCluster"][0]["meta"]
    {'external_id': ['T1566']}
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from steppe.errors import InvalidObservable
from steppe.ingest.intel.misp_mapping import COMPOSITE_PART, PATH_KIND
from steppe.intel.observables import ObservableType, canonicalise

__all__ = [
    "GALAXY_SDO",
    "MISP_NAMESPACE",
    "SIGHTING_TYPES",
    "cluster_sdo",
    "comparison",
    "escape",
    "flag",
    "galaxy_of_tag",
    "group_name",
    "json_safe",
    "list_of",
    "make_uuid",
    "tags_of",
    "text_of",
]

#: Namespace of the ids made up for what MISP does not give a UUID (SCOs, relationships).
MISP_NAMESPACE = uuid.UUID("0d6c3f5e-8a57-4f4e-9b1c-5a2d7e9c4b31")

GALAXY_SDO = {
    "mitre-attack-pattern": "attack-pattern",
    "attack-pattern": "attack-pattern",
    "mitre-malware": "malware",
    "malpedia": "malware",
    "android": "malware",
    "ransomware": "malware",
    "mitre-tool": "tool",
    "tool": "tool",
    "mitre-intrusion-set": "intrusion-set",
    "threat-actor": "intrusion-set",
}
_GALAXY_TAG_RE = re.compile(r'misp-galaxy:([a-z0-9-]+)="(.+)"')
_TECHNIQUE_RE = re.compile(r" - (T[0-9]{4}(?:\.[0-9]{3})?)$")
SIGHTING_TYPES = {"0": "sighting", "1": "false-positive", "2": "expiration"}


def make_uuid(value: object, *seed: str) -> str:
    """``value`` if it is a UUID, else one derived from ``seed`` (stable across reads)."""
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    return str(uuid.uuid5(MISP_NAMESPACE, "/".join(seed)))


def json_safe(value: Any) -> Any:
    """``value`` as the store can keep it: NUL characters dropped from strings, lone
    surrogates replaced, integers beyond 64 bits (which orjson cannot write) as text.

    The importer refuses a whole bundle over one NUL (PostgreSQL text cannot hold it),
    and a junk 30-digit "timestamp" must not become a crash there; MISP JSON in the wild
    has both. Strings without NUL are returned as they are (the common case, cheap).
    """
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:  # lone surrogates, from a caller's Python dict
                value = value.encode(errors="replace").decode()
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, dict):
        return {json_safe(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def text_of(value: object) -> str:
    return value if isinstance(value, str) else ""


def list_of(holder: dict[str, Any], key: str) -> list[Any]:
    """``holder[key]`` when it is a list; anything else (absent, null, junk) is empty."""
    found = holder.get(key)
    return found if isinstance(found, list) else []


def tags_of(holder: dict[str, Any]) -> list[str]:
    tags = list_of(holder, "Tag")
    return [t["name"] for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str)]


def flag(value: object) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true")


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def galaxy_of_tag(tag: str) -> dict[str, Any] | None:
    """The galaxy a ``misp-galaxy:type="value"`` tag names (feeds carry clusters as tags)."""
    match = _GALAXY_TAG_RE.fullmatch(tag)
    if match is None:
        return None
    kind, value = match.groups()
    cluster: dict[str, Any] = {"value": value, "type": kind, "tag_name": tag}
    technique = _TECHNIQUE_RE.search(value)
    if technique is not None:
        cluster["meta"] = {"external_id": [technique.group(1)]}
    return {"type": kind, "name": kind, "GalaxyCluster": [cluster]}


def group_name(holder: dict[str, Any]) -> str:
    group = holder.get("SharingGroup")
    if isinstance(group, dict) and group.get("name"):
        return str(group["name"])
    return f"misp-sharing-group-{holder.get('sharing_group_id')}"


def comparison(misp_type: str, value: str, path: tuple[str, str]) -> tuple[str, str, str]:
    """(object type, property, pattern literal) of a mapped attribute; canonical value."""
    stix_type, prop = path
    part = value
    if misp_type in COMPOSITE_PART:
        parts = value.split("|")
        if len(parts) != 2:
            raise InvalidObservable(f"{misp_type} needs two values separated by '|'")
        part = parts[COMPOSITE_PART[misp_type]]
    if stix_type == "ipv4-addr" and ":" in part:
        stix_type = "ipv6-addr"
    kind = PATH_KIND[(stix_type, prop)]
    if kind in (ObservableType.IPV4, ObservableType.IPV6) and "/" in part:
        canonical = canonicalise(ObservableType.CIDR, part)
    else:
        canonical = canonicalise(kind, part)
    if kind is ObservableType.ASN:
        return stix_type, prop, canonical[2:]
    return stix_type, prop, f"'{escape(canonical)}'"


def cluster_sdo(
    sdo_type: str, sdo_id: str, cluster: dict[str, Any], galaxy: dict[str, Any], when: str
) -> dict[str, Any]:
    sdo: dict[str, Any] = {
        "type": sdo_type,
        "spec_version": "2.1",
        "id": sdo_id,
        "created": when,
        "modified": when,
        "name": cluster["value"][:500],
        "x_misp_cluster": json_safe(
            {
                "galaxy": {k: galaxy.get(k) for k in ("uuid", "name", "type", "namespace")},
                "cluster": {k: cluster.get(k) for k in ("uuid", "value", "type", "tag_name")},
            }
        ),
    }
    if sdo_type == "malware":
        sdo["is_family"] = True
    description = cluster.get("description")
    if isinstance(description, str) and description:
        sdo["description"] = description
    meta: dict[str, Any] = cluster["meta"] if isinstance(cluster.get("meta"), dict) else {}
    external = [e for e in list_of(meta, "external_id") if isinstance(e, str)]
    if external and sdo_type == "attack-pattern":
        sdo["external_references"] = [
            {"source_name": "mitre-attack", "external_id": e} for e in external
        ]
    return sdo
