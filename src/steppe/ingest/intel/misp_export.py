"""Stored STIX objects -> a MISP event (``{"Event": …}``) that PyMISP and MISP load.

Objects that came from MISP (see :mod:`.misp_import`) carry ``x_misp_attribute`` and
give back the attribute as it was: type, category, value, to_ids, comment, tags,
timestamps, its MISP object. Other indicators become one attribute per observable of
their pattern (``ipv4`` -> ``ip-dst``, ``md5`` -> ``md5``, … with ``to_ids``), other
SCOs attributes without ``to_ids``; a TLP marking that differs from the event's is
written back as a ``tlp:`` tag::

    >>> bundle = {"type": "bundle", "id": "bundle--0d5e9a8c-4b8f-4c3a-9a57-1f2e3d4c5b6a",
    ...     "objects": [{"type": "indicator", "spec_version": "2.1",
    ...         "id": "indicator--6a2d3b0f-2e3c-4d4e-9f50-1b2c3d4e5f60",
    ...         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
    ...         "pattern": "[domain-name:value = 'evil.example']", "pattern_type": "stix",
    ...         "valid_from": "2026-01-01T00:00:00.000Z", "description": "c2"}]}
    >>> attribute = to_misp_event(bundle)["Event"]["Attribute"][0]
    >>> attribute["type"], attribute["category"], attribute["value"], attribute["to_ids"], attribute["comment"]
    ('domain', 'Network activity', 'evil.example', True, 'c2')

Native STIX objects with no MISP attribute form (malware, reports other than the
event's, relationships) are not written; galaxy clusters that came from MISP go back
as the event's galaxies.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from steppe.errors import InputError, InvalidPattern
from steppe.ingest.intel.misp_mapping import (
    DEFAULT_CATEGORY,
    MISP_TYPE_OF,
    TLP_TAGS,
    misp_time,
)
from steppe.intel.importer import observables_of
from steppe.intel.observables import ObservableType
from steppe.intel.patterns import parse_pattern
from steppe.intel.stix import bundle_tlp_definitions, tlp_of
from steppe.sharing.model import TlpLevel

__all__ = ["to_misp_event"]

_SIGHTING_CODES = {"sighting": "0", "false-positive": "1", "expiration": "2"}
_SCO_TYPES = frozenset({"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file"})
_TLP_TAG = {level: f"tlp:{level.value}" for level in TlpLevel}
_TLP_TAG[TlpLevel.CLEAR] = "tlp:clear"


def _objects_of(bundle: bytes | str | dict[str, Any] | list[Any]) -> list[dict[str, Any]]:
    doc: Any = bundle
    if isinstance(bundle, str | bytes):
        try:
            doc = orjson.loads(bundle)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    if isinstance(doc, dict):
        doc = doc.get("objects", [doc]) if doc.get("type") == "bundle" else [doc]
    if not isinstance(doc, list):
        raise InputError("expected a STIX bundle or a list of STIX objects")
    return [
        _clean(o)
        for o in doc
        if isinstance(o, dict) and isinstance(o.get("id"), str) and isinstance(o.get("type"), str)
    ]


_LISTS = ("object_marking_refs", "object_refs", "labels")
_DICTS = ("x_misp_attribute", "x_misp_object", "x_misp_event", "x_misp_sighting", "x_misp_cluster")
_TEXTS = ("description", "name", "pattern", "pattern_type", "sighting_of_ref", "modified")


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy whose fields the writer reads have the shapes it expects; junk is dropped.

    Stored objects passed the importer's checks, but this also takes bundles from
    elsewhere, and a list where a string belongs must not become a crash.
    """
    out = dict(obj)
    for key in _LISTS:
        if key in out:
            out[key] = _strings(out[key])
    for key in _DICTS:
        if key in out and not isinstance(out[key], dict):
            del out[key]
    for key in _TEXTS:
        if key in out and not isinstance(out[key], str):
            del out[key]
    return out


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def to_misp_event(bundle: bytes | str | dict[str, Any] | list[Any]) -> dict[str, Any]:
    """One MISP event holding every attribute-like object of ``bundle``.

    The event's own fields come from the report that was the MISP event, if there is
    one (the first); otherwise from the first report, or made up (``info`` "Steppe
    export", distribution 0: your organisation only).
    """
    objects = _objects_of(bundle)
    local_tlp = bundle_tlp_definitions(objects)
    reports = [o for o in objects if o.get("type") == "report"]
    report = next((r for r in reports if isinstance(r.get("x_misp_event"), dict)), None)
    if report is None and reports:
        report = reports[0]
    event = _event_fields(report)
    event_tlp = tlp_of(report, local_tlp) if report is not None else None
    tags = list(event.pop("Tag"))
    if event_tlp is not None and not any(t.lower() in TLP_TAGS for t in tags):
        tags.append(_TLP_TAG[event_tlp])
    event["Tag"] = [{"name": t} for t in tags]

    sightings = _sightings(objects)
    wrapped = {
        ref
        for o in objects
        if o.get("type") == "observed-data" and "x_misp_attribute" in o
        for ref in o.get("object_refs") or ()
    }
    attributes: list[dict[str, Any]] = []
    misp_objects: dict[str, dict[str, Any]] = {}
    for obj in objects:
        if obj["id"] in wrapped:
            continue
        tlp = tlp_of(obj, local_tlp)
        for attribute in _attributes(obj):
            names = [t["name"] for t in attribute["Tag"]]
            if (
                tlp is not None
                and tlp != event_tlp
                and not any(n.lower() in TLP_TAGS for n in names)
            ):
                attribute["Tag"].append({"name": _TLP_TAG[tlp]})
            if obj["id"] in sightings:
                attribute["Sighting"] = sightings[obj["id"]]
            holder = obj.get("x_misp_object")
            if isinstance(holder, dict) and holder.get("uuid"):
                misp_object = misp_objects.setdefault(str(holder["uuid"]), _object_fields(holder))
                misp_object["Attribute"].append(attribute)
            else:
                attributes.append(attribute)
    event["Attribute"] = attributes
    event["Object"] = list(misp_objects.values())
    event["Galaxy"] = _galaxies(objects)
    return {"Event": event}


def _event_fields(report: dict[str, Any] | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    meta: dict[str, Any] = {}
    if report is not None and isinstance(report.get("x_misp_event"), dict):
        meta = dict(report["x_misp_event"])
    event: dict[str, Any] = {
        "uuid": meta.get("uuid") or _uuid_of(report) or str(uuid.uuid4()),
        "info": meta.get("info") or (report or {}).get("name") or "Steppe export",
        "date": meta.get("date") or now.strftime("%Y-%m-%d"),
        "threat_level_id": str(meta.get("threat_level_id") or "4"),
        "analysis": str(meta.get("analysis") or "0"),
        "distribution": str(meta.get("distribution") if meta.get("distribution") else "0"),
        "published": bool(meta.get("published", False)),
        "timestamp": str(meta.get("timestamp") or int(now.timestamp())),
    }
    for key in ("publish_timestamp", "sharing_group_id", "extends_uuid", "Orgc"):
        if meta.get(key):
            event[key] = meta[key]
    labels = report.get("labels") if report is not None else None
    event["Tag"] = _strings(meta.get("Tag")) or _strings(labels)
    return event


def _uuid_of(obj: dict[str, Any] | None) -> str | None:
    return obj["id"].partition("--")[2] or None if obj is not None else None


def _object_fields(holder: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in holder.items() if v is not None}
    fields.setdefault("meta-category", "misc")
    fields.setdefault("distribution", "5")
    fields["Attribute"] = []
    return fields


def _attributes(obj: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The MISP attributes one STIX object stands for (none for most non-MISP SDOs)."""
    meta = obj.get("x_misp_attribute")
    if isinstance(meta, dict):
        yield _from_meta(meta, obj)
        return
    stix_type = obj.get("type")
    description = obj.get("description")
    comment = description if isinstance(description, str) else ""
    labels = _strings(obj.get("labels"))
    timestamp = _timestamp(obj)
    if stix_type == "indicator" and obj.get("pattern_type") == "stix":
        try:
            parsed = parse_pattern(str(obj.get("pattern")))
        except InvalidPattern:
            return
        for found in parsed.observables:
            yield _plain(found.type, found.value, True, comment, labels, timestamp)
    elif stix_type in _SCO_TYPES or stix_type == "vulnerability":
        try:
            found_values = observables_of(obj)
        except InputError:
            return
        for kind, value in found_values:
            yield _plain(kind, value, False, comment, labels, timestamp)


def _timestamp(obj: dict[str, Any], *keys: str) -> str:
    """MISP's epoch seconds from the first of ``keys`` that holds a timestamp, else now."""
    for key in keys or ("modified", "created"):
        when = obj.get(key)
        if isinstance(when, str):
            try:
                return misp_time(when)
            except ValueError:
                continue
    return str(int(datetime.now(UTC).timestamp()))


def _plain(
    kind: ObservableType,
    value: str,
    to_ids: bool,
    comment: str,
    labels: list[str],
    timestamp: str,
) -> dict[str, Any]:
    misp_type = MISP_TYPE_OF[kind]
    return {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{misp_type}:{value}")),
        "type": misp_type,
        "category": DEFAULT_CATEGORY[misp_type],
        "value": value,
        "to_ids": to_ids,
        "comment": comment,
        "timestamp": timestamp,
        "distribution": "5",
        "Tag": [{"name": t} for t in labels],
    }


def _from_meta(meta: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "uuid": meta.get("uuid") or _uuid_of(obj),
        "type": meta.get("type"),
        "category": meta.get("category") or DEFAULT_CATEGORY.get(str(meta.get("type")), "Other"),
        "value": meta.get("value"),
        "to_ids": bool(meta.get("to_ids")),
        "comment": meta.get("comment") or "",
        "timestamp": str(meta.get("timestamp") or _timestamp(obj)),
        "distribution": str(meta.get("distribution", "5")),
        "Tag": [{"name": t} for t in _strings(meta.get("Tag"))],
    }
    for key in ("first_seen", "last_seen", "object_relation"):
        if meta.get(key) is not None:
            attribute[key] = meta[key]
    return attribute


def _sightings(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        if obj.get("type") != "sighting" or not isinstance(obj.get("sighting_of_ref"), str):
            continue
        extra: dict[str, Any] = obj.get("x_misp_sighting") or {}
        if not isinstance(extra, dict):
            extra = {}
        entry = {
            "uuid": _uuid_of(obj),
            "type": _SIGHTING_CODES.get(str(extra.get("type")), "0"),
            "source": str(extra.get("source") or ""),
            "date_sighting": _timestamp(obj, "last_seen", "created"),
        }
        out.setdefault(obj["sighting_of_ref"], []).append(entry)
    return out


def _galaxies(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    galaxies: dict[str, dict[str, Any]] = {}
    for obj in objects:
        meta = obj.get("x_misp_cluster")
        if not isinstance(meta, dict):
            continue
        galaxy_meta = meta.get("galaxy")
        cluster_meta = meta.get("cluster")
        if not isinstance(galaxy_meta, dict) or not isinstance(cluster_meta, dict):
            continue
        key = str(galaxy_meta.get("uuid") or galaxy_meta.get("type"))
        galaxy = galaxies.setdefault(
            key, {**{k: v for k, v in galaxy_meta.items() if v is not None}, "GalaxyCluster": []}
        )
        cluster = {k: v for k, v in cluster_meta.items() if v is not None}
        if isinstance(obj.get("description"), str):
            cluster["description"] = obj["description"]
        galaxy["GalaxyCluster"].append(cluster)
    return list(galaxies.values())
