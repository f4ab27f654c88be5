"""Intel actions: record a sighting, publish an advisory (a STIX report) to groups.

Both act as the playbook's organisation through the intel store's own paths
(:func:`steppe.intel.sightings.record_sighting`, :func:`steppe.intel.importer.import_objects`),
so the policy applies as it would to one of its analysts: an indicator the
organisation may not see cannot be sighted or referenced.

An advisory is derived from the indicators it references: it is stored with them as
its sources (``object_sources``), so :func:`steppe.sharing.policy.can_see` shows it only
to members of the chosen groups who also see every one of them — publishing never
widens who learns of an indicator.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson
from sqlalchemy import Connection, insert, select

from steppe.errors import NotFound
from steppe.intel.config import IntelConfig
from steppe.intel.importer import Marking, import_objects
from steppe.intel.queries import get_stored
from steppe.intel.sightings import SightingType, record_sighting
from steppe.response.playbooks.actions import Action, ActionContext, PermanentFailure
from steppe.response.playbooks.model import TriggerKind
from steppe.sharing import directory
from steppe.sharing.directory import Organisation
from steppe.sharing.model import Distribution, TlpLevel
from steppe.sharing.policy import check_marking
from steppe.storage.schema import intel_objects, object_sources

__all__ = ["AdvisoryAction", "SightingAction"]

#: Namespace of advisory ids: one report per (playbook, trigger item), whatever retries.
_ADVISORY_NS = uuid.UUID("6f1d5a7e-3c1b-4f7a-9a52-8b0e2f6c4d19")
_TLPS = tuple(t.value for t in TlpLevel)


def _indicators(ctx: ActionContext) -> list[str]:
    found = [str(s) for s in ctx.item.get("indicator_ids") or ()]
    if not found:
        raise PermanentFailure("the item names no indicator the playbook's organisation may see")
    return found


class SightingAction(Action):
    """Record a sighting (seen, false-positive, expired) of the item's indicator."""

    type = "sighting"
    writes = True
    triggers: ClassVar[frozenset[TriggerKind]] = frozenset({TriggerKind.ALERT, TriggerKind.INTEL})

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return ("sighting", "count", "named")

    def check(self, trigger: TriggerKind) -> None:
        kind = self.spec.choice("sighting", [t.value for t in SightingType], "seen")
        assert kind is not None
        self.sighting = SightingType(kind)
        count = self.spec.integer("count", 1, minimum=1, maximum=2**31 - 1)
        assert count is not None
        self.count = count
        self.named = self.spec.boolean("named", False)

    def run(self, ctx: ActionContext) -> Mapping[str, Any]:
        conn = ctx.connection()
        ids = []
        for stix_id in _indicators(ctx):
            ids.append(
                record_sighting(
                    conn, ctx.trail, ctx.actor, stix_id, self.sighting, count=self.count,
                    source=str(ctx.item.get("source") or ctx.item.get("key")), named=self.named,
                )
            )  # fmt: skip
        return {"sightings": ids}


class AdvisoryAction(Action):
    """Publish a STIX 2.1 report referencing the item's indicators to sharing groups."""

    type = "advisory"
    writes = True
    triggers: ClassVar[frozenset[TriggerKind]] = frozenset({TriggerKind.ALERT, TriggerKind.INTEL})
    _DEFAULT_NAME: ClassVar[dict[TriggerKind, str]] = {
        TriggerKind.ALERT: "Advisory: {alert.matched} seen in member telemetry",
        TriggerKind.INTEL: "Advisory: {intel.name}",
    }

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return ("groups", "tlp", "name", "description", "report_types")

    def check(self, trigger: TriggerKind) -> None:
        self.groups = self.spec.texts("groups")
        if not self.groups:
            raise self.spec.error(None, "'groups' is required: the sharing groups to publish to")
        tlp = self.spec.choice("tlp", _TLPS, "amber")
        assert tlp is not None
        self.tlp = TlpLevel(tlp)
        try:
            check_marking(Distribution.GROUPS, self.tlp, [0])
        except Exception as exc:
            raise self.spec.error("tlp", str(exc)) from None
        self.name = self.template("name", trigger, self._DEFAULT_NAME[trigger])
        description = self.spec.text("description")
        self.description = (
            None if description is None else self.template_of("description", description, trigger)
        )
        self.report_types = self.spec.texts("report_types") or ("threat-report",)

    def check_references(self, conn: Connection, owner: Organisation) -> None:
        for name in self.groups:
            try:
                group = directory.find_group(conn, name)
            except NotFound:
                raise self.spec.error("groups", f"no sharing group named {name!r}") from None
            if owner.id not in group.member_org_ids and owner.id != group.owner_org_id:
                raise self.spec.error(
                    "groups", f"{owner.name} is not in the sharing group {name!r}"
                )

    def run(self, ctx: ActionContext) -> Mapping[str, Any]:
        conn = ctx.connection()
        refs = _indicators(ctx)
        sources = [get_stored(conn, ctx.actor, stix_id) for stix_id in refs]
        owner = directory.get_organisation(conn, ctx.actor.org_id)
        groups = []
        for name in self.groups:
            try:
                group = directory.find_group(conn, name)
            except Exception:
                raise PermanentFailure(f"no sharing group named {name!r}") from None
            if owner.id not in group.member_org_ids and owner.id != group.owner_org_id:
                raise PermanentFailure(f"{owner.name} is not in the sharing group {name!r}")
            groups.append(group)
        at = str(ctx.item.get("at"))
        item_key = f"{ctx.playbook}/{ctx.item.get('key')}"
        report_id = f"report--{uuid.uuid5(_ADVISORY_NS, item_key)}"
        context = ctx.context
        report: dict[str, Any] = {
            "type": "report",
            "spec_version": "2.1",
            "id": report_id,
            "created": at,
            "modified": at,
            "published": at,
            "name": self.name.render(context)[:250] or "Advisory",
            "report_types": list(self.report_types),
            "object_refs": refs,
            "labels": ["steppe:playbook"],
        }
        if self.description is not None:
            report["description"] = self.description.render(context)
        data = orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                             "objects": [report]})  # fmt: skip
        import_objects(
            conn, ctx.trail, data, [report], owner=owner,
            marking=Marking(Distribution.GROUPS, self.tlp, tuple(groups)),
            source=f"playbook {ctx.playbook}", config=IntelConfig.from_settings(ctx.settings),
        )  # fmt: skip
        pk = conn.execute(
            select(intel_objects.c.pk).where(
                intel_objects.c.stix_id == report_id,
                intel_objects.c.owner_org_id == owner.id,
                intel_objects.c.is_current.is_(True),
            )
        ).scalar_one()
        known = set(
            conn.scalars(select(object_sources.c.source_pk).where(object_sources.c.object_pk == pk))
        )
        fresh = [
            {"object_pk": pk, "source_pk": s.pk}
            for s in sources
            if s.pk != pk and s.pk not in known
        ]
        if fresh:
            conn.execute(insert(object_sources), fresh)
        return {"report": report_id, "groups": list(self.groups), "references": refs}
