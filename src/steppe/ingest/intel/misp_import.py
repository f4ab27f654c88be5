"""MISP events and feeds -> STIX 2.1 objects for :func:`steppe.intel.importer.import_objects`.

Reads a single ``{"Event": …}``, a list of them, or a restSearch answer
``{"response": [...]}``; :func:`read_misp_feed` reads a feed folder (``manifest.json``
and one ``<uuid>.json`` per event). Each event becomes one :class:`MispImport`: its
objects, the :class:`~steppe.intel.importer.Marking` to import them with, and the
problems met (an attribute that could not be mapped still travels, as a custom object)::

    >>> event = {"Event": {"uuid": "5f1c2a9e-1d2b-4c3d-8e4f-0a1b2c3d4e5f", "info": "Phish",
    ...     "distribution": "1", "timestamp": "1767225600", "Tag": [{"name": "tlp:green"}],
    ...     "Attribute": [{"uuid": "6a2d3b0f-2e3c-4d4e-9f50-1b2c3d4e5f60", "type": "ip-dst",
    ...         "category": "Network activity", "value": "198.51.100.7", "to_ids": True}]}}
    >>> found = read_misp_event(event, "event.json")
    >>> found.marking
    Marking(distribution=<Distribution.COMMUNITY: 'community'>, tlp=<TlpLevel.GREEN: 'green'>, groups=())
    >>> [o["pattern"] for o in found.objects if o["type"] == "indicator"]
    ["[ipv4-addr:value = '198.51.100.7']"]

How MISP maps (also in docs/intel-formats.md): an attribute with ``to_ids`` becomes an
``indicator``, one without becomes ``observed-data`` and its SCO (searchable, never
matched); types with no STIX observable (``text``, ``regkey``, …) become
``x-misp-attribute``. Every one carries ``x_misp_attribute`` (type, category, value,
to_ids, comment, timestamps, tags, its MISP object) so :mod:`.misp_export` gives the
same attributes back. The event is a ``report``, its creator an ``identity``, galaxy
clusters ``attack-pattern``/``malware``/``tool``/``intrusion-set`` objects, sightings
``sighting`` objects.

Not misp-stix: its MISP->STIX parser ran 755 attributes/s here (a 10,000-attribute
event: 13 s, and 27 s back) and its way back dropped attribute comments and the event's
distribution. This direct mapping is what a feed of 100,000 attributes needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from steppe.errors import InputError, InvalidObservable
from steppe.ingest.intel.entries import RowProblem
from steppe.ingest.intel.misp_mapping import (
    ATTRIBUTE_PATHS,
    NARROWNESS,
    TLP_TAGS,
    misp_distribution,
    stix_time,
    tlp_of_tags,
)
from steppe.ingest.intel.misp_objects import (
    GALAXY_SDO,
    MISP_NAMESPACE,
    SIGHTING_TYPES,
    cluster_sdo,
    comparison,
    flag,
    galaxy_of_tag,
    group_name,
    json_safe,
    list_of,
    make_uuid,
    tags_of,
    text_of,
)
from steppe.intel import taxonomies
from steppe.intel.importer import Marking
from steppe.intel.stix import tlp_marking_id
from steppe.sharing.directory import SharingGroup
from steppe.sharing.model import FEDERATABLE_TLP, Distribution, TlpLevel
from steppe.storage import timestamps

__all__ = [
    "MispImport",
    "narrowest",
    "read_misp_event",
    "read_misp_events",
    "read_misp_feed",
    "read_misp_manifest",
]


@dataclass(slots=True)
class MispImport:
    """One MISP event, ready for ``import_objects(conn, trail, data, objects, marking=…)``.

    ``marking.distribution`` is GROUPS when the event (or one of its attributes) is for a
    MISP sharing group; ``sharing_groups`` then names them, and the caller must put the
    matching Steppe groups in ``marking.groups`` (``dataclasses.replace``) or import with
    ORGANISATION: the importer refuses GROUPS without groups, so nothing leaks by default.
    """

    event_uuid: str
    info: str
    objects: list[dict[str, Any]]
    marking: Marking
    data: bytes
    sharing_groups: tuple[str, ...] = ()
    problems: list[RowProblem] = field(default_factory=list)

    def within(self, cap: Marking) -> Marking:
        """The event's marking, no wider than ``cap`` (a feed's own marking, say).

        An import of a MISP event should never be wider than what the event asks for,
        nor than what the feed was registered with::

            >>> found = read_misp_event({"Event": {"info": "x", "distribution": "0"}}, "e")
            >>> found.within(Marking(Distribution.COMMUNITY, TlpLevel.GREEN))
            Marking(distribution=<Distribution.ORGANISATION: 'organisation'>, tlp=<TlpLevel.AMBER: 'amber'>, groups=())

        A GROUPS marking whose groups the caller has not filled in counts as
        ORGANISATION. Groups on both sides keep only the groups in both.
        """
        return narrowest(self.marking, cap)


def narrowest(a: Marking, b: Marking) -> Marking:
    """A marking no wider than either ``a`` or ``b``, that :func:`check_marking` accepts.

    Distribution: the narrower; TLP: the more restrictive; groups (a union of audiences):
    those in both when both are GROUPS, else the GROUPS side's.
    """
    sides = [
        m if m.distribution is not Distribution.GROUPS or m.groups else _private(m) for m in (a, b)
    ]
    distribution = min((m.distribution for m in sides), key=NARROWNESS.index)
    tlp = max(a.tlp, b.tlp, key=_TLP_ORDER.index)
    groups: tuple[SharingGroup, ...] = ()
    if distribution is Distribution.GROUPS:
        grouped = [m for m in sides if m.distribution is Distribution.GROUPS]
        ids = set.intersection(*({g.id for g in m.groups} for m in grouped))
        groups = tuple(g for g in grouped[0].groups if g.id in ids)
        if not groups:
            distribution = Distribution.ORGANISATION
    if tlp is TlpLevel.RED and distribution in (Distribution.COMMUNITY, Distribution.FEDERATION):
        distribution = Distribution.ORGANISATION
    if distribution is Distribution.FEDERATION and tlp not in FEDERATABLE_TLP:
        distribution = Distribution.COMMUNITY
    return Marking(distribution, tlp, groups)


def _private(marking: Marking) -> Marking:
    return Marking(Distribution.ORGANISATION, marking.tlp)


_TLP_ORDER = list(TlpLevel)


def read_misp_event(
    data: bytes | str | dict[str, Any] | list[Any],
    source: str,
    *,
    default_tlp: TlpLevel = TlpLevel.AMBER,
    widest: Distribution = Distribution.FEDERATION,
) -> MispImport:
    """The one event in ``data``; :class:`InputError` when there is none or several."""
    found = read_misp_events(data, source, default_tlp=default_tlp, widest=widest)
    if len(found) != 1:
        raise InputError(f"expected one MISP event, found {len(found)}", source=source)
    return found[0]


def read_misp_events(
    data: bytes | str | dict[str, Any] | list[Any],
    source: str,
    *,
    default_tlp: TlpLevel = TlpLevel.AMBER,
    widest: Distribution = Distribution.FEDERATION,
) -> list[MispImport]:
    """Every event in ``data``: JSON text or already-parsed JSON.

    ``default_tlp`` applies to events without a ``tlp:`` tag; ``widest`` caps the
    distribution (a member importing a public feed may keep it inside the community).
    """
    doc: Any = data
    clean = False
    if isinstance(data, str | bytes):
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", source=source, line=exc.lineno) from None
        # JSON text can only spell NUL as \u0000, and orjson reads no integer orjson
        # cannot write: without that escape there is nothing for json_safe to do (it
        # took half the time of a 10,000-attribute event).
        clean = (b"\\u0000" not in data) if isinstance(data, bytes) else ("\\u0000" not in data)
    events = _events_of(doc, source)
    out = []
    for index, event in enumerate(events):
        where = "Event" if len(events) == 1 else f"[{index}].Event"
        event = event if clean else json_safe(event)
        out.append(_EventReader(event, source, where, default_tlp, widest).read())
    return out


def _events_of(doc: Any, source: str) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and isinstance(doc.get("response"), dict):
        # restSearch on attributes: no event around them, so no event distribution
        # either; they are read as one event kept to the importing organisation.
        attributes = doc["response"].get("Attribute")
        if isinstance(attributes, list):
            return [{"info": "MISP attributes (restSearch)", "Attribute": attributes}]
    if isinstance(doc, dict) and isinstance(doc.get("response"), list):
        doc = doc["response"]
    items = doc if isinstance(doc, list) else [doc]
    events = []
    for index, item in enumerate(items):
        event = item.get("Event", item) if isinstance(item, dict) else None
        if not isinstance(event, dict) or not ("Attribute" in event or "info" in event):
            raise InputError(
                'expected a MISP event ({"Event": {...}}), a list of them or {"response": [...]}',
                source=source,
                field=f"[{index}]" if isinstance(doc, list) else None,
            )
        events.append(event)
    return events


def read_misp_feed(
    folder: Path,
    *,
    default_tlp: TlpLevel = TlpLevel.AMBER,
    widest: Distribution = Distribution.FEDERATION,
) -> Iterator[MispImport | RowProblem]:
    """The events of a MISP feed folder, in manifest order; a missing or bad event file is
    a :class:`RowProblem` and the others are still read. ``hashes.csv`` is not needed
    (it serves MISP's own look-ups) and not read.
    """
    manifest_path = folder / "manifest.json"
    try:
        manifest = manifest_path.read_bytes()
    except FileNotFoundError:
        raise InputError("not a MISP feed: manifest.json is missing", source=str(folder)) from None
    uuids, problems = read_misp_manifest(manifest, str(manifest_path))
    yield from problems
    for event_uuid in uuids:
        path = folder / f"{event_uuid}.json"
        try:
            data = path.read_bytes()
        except OSError as exc:
            yield RowProblem(str(path), None, None, f"cannot read the event file: {exc.strerror}")
            continue
        try:
            yield read_misp_event(data, str(path), default_tlp=default_tlp, widest=widest)
        except InputError as exc:
            yield RowProblem(exc.source or str(path), exc.line, exc.field, exc.message)


def read_misp_manifest(data: bytes, source: str) -> tuple[list[str], list[RowProblem]]:
    """The event UUIDs a feed's ``manifest.json`` lists, and the keys that are not UUIDs.

    For a feed pulled over HTTP: fetch ``<uuid>.json`` for each and read it with
    :func:`read_misp_event`. Only real UUIDs come back, so they are safe in a path or URL::

        >>> read_misp_manifest(b'{"5f1c2a9e-1d2b-4c3d-8e4f-0a1b2c3d4e5f": {}, "../x": {}}', "m.json")
        (['5f1c2a9e-1d2b-4c3d-8e4f-0a1b2c3d4e5f'], [RowProblem(source='m.json', line=None, field='../x', message='is not an event UUID')])
    """
    try:
        manifest = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", source=source, line=exc.lineno) from None
    if not isinstance(manifest, dict):
        raise InputError("expected an object of event UUIDs", source=source)
    uuids: list[str] = []
    problems: list[RowProblem] = []
    for key in manifest:
        try:
            uuids.append(str(uuid.UUID(key)))
        except ValueError:
            problems.append(RowProblem(source, None, key[:80], "is not an event UUID"))
    return uuids, problems


class _EventReader:
    """Builds the objects of one event, gathering its marking and problems on the way."""

    def __init__(
        self,
        event: dict[str, Any],
        source: str,
        where: str,
        default_tlp: TlpLevel,
        widest: Distribution,
    ) -> None:
        self.event = event  # json_safe already: every string copied out of it is safe
        self.source = source
        self.where = where
        self.default_tlp = default_tlp
        self.widest = widest
        self.uuid = make_uuid(event.get("uuid"), source, where)
        self.when = stix_time(event.get("timestamp"), timestamps.now())
        self.objects: list[dict[str, Any]] = []
        self.refs: list[str] = []
        self.problems: list[RowProblem] = []
        self.tlps: set[TlpLevel] = set()
        self.distributions: list[tuple[Distribution, str]] = []
        self.groups: set[str] = set()
        self.clusters: dict[str, str] = {}  # cluster tag name -> SDO id
        self.bad_tags: dict[str, str | None] = {}  # tag -> why the store refuses it
        org: dict[str, Any] = event["Orgc"] if isinstance(event.get("Orgc"), dict) else {}
        self.identity = f"identity--{make_uuid(org.get('uuid'), self.uuid, 'orgc')}"
        self.org_name = str(org.get("name") or "MISP")

    def problem(self, where: str, message: str) -> None:
        self.problems.append(RowProblem(self.source, None, where, message))

    def read(self) -> MispImport:
        event = self.event
        self.objects.append(
            {
                "type": "identity",
                "spec_version": "2.1",
                "id": self.identity,
                "created": self.when,
                "modified": self.when,
                "name": self.org_name,
                "identity_class": "organization",
            }
        )
        self.refs.append(self.identity)
        for index, attribute in enumerate(list_of(event, "Attribute")):
            self.attribute(attribute, f"{self.where}.Attribute[{index}]", None)
        for o_index, misp_object in enumerate(list_of(event, "Object")):
            if not isinstance(misp_object, dict) or flag(misp_object.get("deleted")):
                continue
            meta = {
                k: misp_object[k]
                for k in (
                    "uuid",
                    "name",
                    "meta-category",
                    "description",
                    "template_uuid",
                    "template_version",
                    "comment",
                    "distribution",
                )
                if k in misp_object
            }
            self.attribute_distribution(misp_object, f"{self.where}.Object[{o_index}]")
            for index, attribute in enumerate(list_of(misp_object, "Attribute")):
                where = f"{self.where}.Object[{o_index}].Attribute[{index}]"
                self.attribute(attribute, where, meta)
        for galaxy in list_of(event, "Galaxy"):
            self.galaxy(galaxy, None)
        event_tags = tags_of(event)
        for tag in event_tags:
            self.galaxy_tag(tag, None)
        tlp = tlp_of_tags(event_tags) or self.default_tlp
        self.objects.append(self.report(event_tags, tlp))
        marking, groups = self.marking(tlp)
        return MispImport(
            event_uuid=self.uuid,
            info=str(event.get("info") or ""),
            objects=self.objects,
            marking=marking,
            data=orjson.dumps({"Event": event}),
            sharing_groups=tuple(sorted(groups)),
            problems=self.problems,
        )

    def report(self, tags: list[str], tlp: TlpLevel) -> dict[str, Any]:
        event = self.event
        keep = (
            "uuid",
            "info",
            "date",
            "threat_level_id",
            "analysis",
            "distribution",
            "sharing_group_id",
            "published",
            "timestamp",
            "publish_timestamp",
            "extends_uuid",
        )
        meta = {k: event[k] for k in keep if k in event}
        meta["uuid"] = self.uuid
        meta["Tag"] = tags
        if isinstance(event.get("Orgc"), dict):
            meta["Orgc"] = {k: event["Orgc"].get(k) for k in ("name", "uuid")}
        published = stix_time(event.get("publish_timestamp") or event.get("date"), self.when)
        report: dict[str, Any] = {
            "type": "report",
            "spec_version": "2.1",
            "id": f"report--{self.uuid}",
            "created": self.when,
            "modified": self.when,
            "created_by_ref": self.identity,
            "name": str(event.get("info") or "MISP event")[:500],
            "report_types": ["threat-report"],
            "published": published,
            "object_refs": self.refs,
            "object_marking_refs": [tlp_marking_id(tlp)],
            "x_misp_event": meta,
        }
        labels = self.labels(tags, tlp, f"{self.where}.Tag")
        if labels:
            report["labels"] = labels
        return report

    def labels(self, tags: list[str], tlp: TlpLevel | None, where: str) -> list[str]:
        """The tags the store takes as labels; all of them stay in ``x_misp_*`` for export.

        The importer refuses a whole bundle over one label that names a taxonomy wrongly
        or a ``tlp:`` tag that contradicts the object's marking, and MISP events in the
        wild carry both: those stay out of the labels, the first kind with a problem.
        """
        out = []
        for tag in tags:
            level = TLP_TAGS.get(tag.strip().lower())
            if level is not None:
                if level is tlp:
                    out.append(tag)
                continue  # a less restrictive tlp: tag; the marking says the level
            message = self.bad_tags.get(tag, "")
            if message == "":
                try:
                    taxonomies.normalise_tag(tag)
                except InputError as exc:  # InvalidTag, or an unknown ATT&CK technique
                    message = exc.message
                else:
                    message = None
                self.bad_tags[tag] = message
            if message is None:
                out.append(tag)
            else:
                self.problem(where, f"{message}; kept for MISP export, not as a label")
        return out

    def marking(self, tlp: TlpLevel) -> tuple[Marking, set[str]]:
        """The narrowest distribution asked for, reconciled with the TLPs present."""
        event = self.event
        first = misp_distribution(event.get("distribution"))
        if first is None:
            if event.get("distribution") is not None:
                self.problem(f"{self.where}.distribution", "is not 0-4; kept to your organisation")
            first = Distribution.ORGANISATION
        if first is Distribution.GROUPS:
            self.groups.add(group_name(event))
        chosen = min([first, *(d for d, _ in self.distributions)], key=NARROWNESS.index)
        if chosen is not first:
            where = next(w for d, w in self.distributions if d is chosen)
            self.problem(
                where,
                f"distribution {chosen.value!r} is narrower than the event's; the whole event "
                f"is imported as {chosen.value!r}",
            )
        if chosen is Distribution.GROUPS and len(self.groups) > 1:
            # Steppe's groups are a union (members of any may see); MISP meant each part
            # for its own group. Only the owner is sure to be in all of them.
            chosen = Distribution.ORGANISATION
            self.problem(
                f"{self.where}.distribution",
                f"parts are for different sharing groups ({', '.join(sorted(self.groups))}); "
                "imported as 'organisation'",
            )
        if NARROWNESS.index(chosen) > NARROWNESS.index(self.widest):
            chosen = self.widest
        levels = self.tlps | {tlp}
        if TlpLevel.RED in levels and chosen in (Distribution.COMMUNITY, Distribution.FEDERATION):
            chosen = Distribution.GROUPS if self.groups else Distribution.ORGANISATION
            self.problem(
                f"{self.where}.Tag",
                f"TLP:RED content cannot go to a community; imported as {chosen.value!r}",
            )
        if chosen is Distribution.FEDERATION and not levels <= FEDERATABLE_TLP:
            chosen = Distribution.COMMUNITY
            self.problem(
                f"{self.where}.distribution",
                "only TLP:CLEAR and TLP:GREEN may cross to peer centers; imported as 'community'",
            )
        groups = self.groups if chosen is Distribution.GROUPS else set()
        return Marking(chosen, tlp), groups

    def attribute(self, attribute: Any, where: str, misp_object: dict[str, Any] | None) -> None:
        if not isinstance(attribute, dict):
            self.problem(where, "is not an object; skipped")
            return
        if flag(attribute.get("deleted")):
            return
        misp_type, value = attribute.get("type"), attribute.get("value")
        if not isinstance(misp_type, str) or not isinstance(value, str) or not value:
            self.problem(where, "has no type or no value; skipped")
            return
        attr_uuid = make_uuid(attribute.get("uuid"), self.uuid, where)
        when = stix_time(attribute.get("timestamp"), self.when)
        tags = tags_of(attribute)
        meta: dict[str, Any] = {
            "uuid": attr_uuid,
            "type": misp_type,
            "category": text_of(attribute.get("category")) or None,
            "value": value,
            "to_ids": flag(attribute.get("to_ids")),
            "comment": text_of(attribute.get("comment")),
            "timestamp": attribute.get("timestamp"),
            "Tag": tags,
        }
        for key in ("first_seen", "last_seen", "object_relation", "distribution"):
            if attribute.get(key) is not None:
                meta[key] = attribute[key]
        common: dict[str, Any] = {
            "spec_version": "2.1",
            "created": when,
            "modified": when,
            "created_by_ref": self.identity,
            "x_misp_attribute": meta,
        }
        if misp_object is not None:
            common["x_misp_object"] = misp_object
        tlp = tlp_of_tags(tags)
        if tlp is not None:
            self.tlps.add(tlp)
            common["object_marking_refs"] = [tlp_marking_id(tlp)]
        labels = self.labels(tags, tlp, f"{where}.Tag")
        if labels:
            common["labels"] = labels
        self.attribute_distribution(attribute, where)
        sdo = self.mapped(misp_type, value, attr_uuid, meta, common, where)
        self.objects.extend(sdo)
        self.refs.append(sdo[0]["id"])
        for index, sighting in enumerate(list_of(attribute, "Sighting")):
            self.sighting(sighting, sdo[0]["id"], f"{where}.Sighting[{index}]")
        for galaxy in list_of(attribute, "Galaxy"):
            self.galaxy(galaxy, sdo[0]["id"])
        for tag in tags:
            self.galaxy_tag(tag, sdo[0]["id"])

    def attribute_distribution(self, attribute: dict[str, Any], where: str) -> None:
        distribution = misp_distribution(attribute.get("distribution"))
        if distribution is None:
            return  # 5: inherit the event's
        if distribution is Distribution.GROUPS:
            self.groups.add(group_name(attribute))
        self.distributions.append((distribution, f"{where}.distribution"))

    def mapped(
        self,
        misp_type: str,
        value: str,
        attr_uuid: str,
        meta: dict[str, Any],
        common: dict[str, Any],
        where: str,
    ) -> list[dict[str, Any]]:
        """The attribute's objects; the first is the one the report refers to."""
        path = ATTRIBUTE_PATHS.get(misp_type)
        if path is not None:
            try:
                compared = comparison(misp_type, value, path)
            except InvalidObservable as exc:
                self.problem(f"{where}.value", f"{exc.message}; kept, not matched")
            else:
                return self.observable(compared, attr_uuid, meta, common)
        if misp_type == "vulnerability":
            cve: dict[str, Any] = {"type": "vulnerability", "id": f"vulnerability--{attr_uuid}"}
            cve.update(common, name=value[:500])
            if value.upper().startswith("CVE-"):
                cve["external_references"] = [{"source_name": "cve", "external_id": value}]
            return [cve]
        custom: dict[str, Any] = {
            "type": "x-misp-attribute",
            "id": f"x-misp-attribute--{attr_uuid}",
        }
        custom.update(common)
        return [custom]

    def observable(
        self,
        comparison: tuple[str, str, str],
        attr_uuid: str,
        meta: dict[str, Any],
        common: dict[str, Any],
    ) -> list[dict[str, Any]]:
        stix_type, prop, literal = comparison
        name = f"{meta['type']}: {meta['value']}"[:500]
        if meta["to_ids"]:
            indicator: dict[str, Any] = {"type": "indicator", "id": f"indicator--{attr_uuid}"}
            indicator.update(common)
            indicator.update(
                name=name,
                pattern=f"[{stix_type}:{prop} = {literal}]",
                pattern_type="stix",
                pattern_version="2.1",
                valid_from=stix_time(meta.get("first_seen"), common["created"]),
            )
            if meta["comment"]:
                indicator["description"] = meta["comment"]
            return [indicator]
        sco_id = f"{stix_type}--{uuid.uuid5(MISP_NAMESPACE, attr_uuid)}"
        sco: dict[str, Any] = {"type": stix_type, "spec_version": "2.1", "id": sco_id}
        raw = literal[1:-1].replace("\\'", "'").replace("\\\\", "\\") if literal[0] == "'" else ""
        if prop.startswith("hashes."):
            sco["hashes"] = {prop.split(".", 1)[1].strip("'"): raw}
        elif prop == "number":
            sco["number"] = int(literal)
        else:
            sco[prop] = raw
        observed: dict[str, Any] = {"type": "observed-data", "id": f"observed-data--{attr_uuid}"}
        observed.update(common)
        observed.update(
            first_observed=stix_time(meta.get("first_seen"), common["created"]),
            last_observed=stix_time(meta.get("last_seen"), common["created"]),
            number_observed=1,
            object_refs=[sco_id],
        )
        if observed["last_observed"] < observed["first_observed"]:
            observed["last_observed"] = observed["first_observed"]
        return [observed, sco]

    def sighting(self, sighting: Any, sdo_id: str, where: str) -> None:
        if not isinstance(sighting, dict):
            self.problem(where, "is not an object; skipped")
            return
        seen = stix_time(sighting.get("date_sighting"), self.when)
        kind = SIGHTING_TYPES.get(str(sighting.get("type", "0")), "sighting")
        org: dict[str, Any] = sighting.get("Organisation") or {}
        if not isinstance(org, dict):
            org = {}
        self.objects.append(
            {
                "type": "sighting",
                "spec_version": "2.1",
                "id": f"sighting--{make_uuid(sighting.get('uuid'), sdo_id, where)}",
                "created": seen,
                "modified": seen,
                "sighting_of_ref": sdo_id,
                "first_seen": seen,
                "last_seen": seen,
                "count": 1,
                "x_misp_sighting": {
                    "type": kind,
                    "source": sighting.get("source") or "",
                    "organisation": org.get("name"),
                },
            }
        )

    def galaxy_tag(self, tag: str, sdo_id: str | None) -> None:
        if tag.startswith("misp-galaxy:"):
            galaxy = galaxy_of_tag(tag)
            if galaxy is not None:
                self.galaxy(galaxy, sdo_id)

    def galaxy(self, galaxy: Any, sdo_id: str | None) -> None:
        if not isinstance(galaxy, dict):
            return
        sdo_type = GALAXY_SDO.get(str(galaxy.get("type")), "x-misp-galaxy-cluster")
        for cluster in list_of(galaxy, "GalaxyCluster"):
            if not isinstance(cluster, dict) or not isinstance(cluster.get("value"), str):
                continue
            cluster_uuid = make_uuid(cluster.get("uuid"), str(galaxy.get("type")), cluster["value"])
            tag_name = str(cluster.get("tag_name") or cluster_uuid)
            cluster_id = self.clusters.get(tag_name)
            if cluster_id is None:
                cluster_id = self.clusters[tag_name] = f"{sdo_type}--{cluster_uuid}"
                self.objects.append(cluster_sdo(sdo_type, cluster_id, cluster, galaxy, self.when))
                self.refs.append(cluster_id)
            if sdo_id is not None:
                self.objects.append(
                    {
                        "type": "relationship",
                        "spec_version": "2.1",
                        "id": f"relationship--{uuid.uuid5(MISP_NAMESPACE, sdo_id + cluster_id)}",
                        "created": self.when,
                        "modified": self.when,
                        "relationship_type": "indicates" if "indicator" in sdo_id else "related-to",
                        "source_ref": sdo_id,
                        "target_ref": cluster_id,
                    }
                )
