"""Incident actions: open an incident, or extend the one a playbook opened.

They act as the playbook's organisation through the incidents' own functions
(:func:`steppe.response.incidents.open_incident`, :func:`~steppe.response.incidents.add_alerts`,
:func:`~steppe.response.incidents.add_participant`), so the policy applies as it would to
one of its analysts: an alert it may not read cannot become evidence; participants see
the incident and only the evidence they may see on their own.

Grouping: each incident a playbook opens is remembered under the item's group key (by
default its indicator, or its Sigma rule; ``group_by`` templates another), so
``extend-incident`` adds later items of the same group to it while it is active (not
resolved or closed) and was added to within ``window``::

    - type: extend-incident          # one incident per indicator per day, shared with two
      title: "C2 {alert.matched}"
      window: 24h
      participants: [KZ-CERT, KG-CERT]
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy import Connection, select, update

from steppe.errors import NotFound
from steppe.response.incidents import add_alerts, add_participant, open_incident
from steppe.response.incidents.evidence import add_intel
from steppe.response.playbooks.actions import Action, ActionContext, PermanentFailure
from steppe.response.playbooks.model import TriggerKind
from steppe.sharing import directory
from steppe.sharing.directory import Organisation
from steppe.sharing.model import OrgKind, TlpLevel
from steppe.storage import timestamps
from steppe.storage.schema import incidents, playbook_incidents

__all__ = ["ExtendIncidentAction", "OpenIncidentAction"]

_SEVERITIES = ("low", "medium", "high", "critical")
_TLPS = tuple(t.value for t in TlpLevel)
_ENDED = ("resolved", "closed")
_ITEMS: frozenset[TriggerKind] = frozenset({TriggerKind.ALERT, TriggerKind.INTEL})


class OpenIncidentAction(Action):
    """Open an incident owned by the playbook's organisation, with the item as evidence."""

    type = "open-incident"
    writes = True
    triggers: ClassVar[frozenset[TriggerKind]] = _ITEMS
    #: Extend the group's incident within this window instead of opening (None: never).
    default_window: ClassVar[timedelta | None] = None
    _DEFAULT_TITLE: ClassVar[dict[TriggerKind, str]] = {
        TriggerKind.ALERT: "{alert.title}: {alert.observed} at {alert.organisation}",
        TriggerKind.INTEL: "New {intel.type}: {intel.name}",
    }

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return ("title", "severity", "tlp", "participants", "coordinated", "description",
                "template", "group_by", "window")  # fmt: skip

    def check(self, trigger: TriggerKind) -> None:
        self.title = self.template("title", trigger, self._DEFAULT_TITLE[trigger])
        default_severity = "{alert.severity}" if trigger is TriggerKind.ALERT else "medium"
        self.severity = self.template("severity", trigger, default_severity)
        if not self.severity.fields and self.severity.text not in _SEVERITIES:
            raise self.spec.error("severity", f"must be one of {', '.join(_SEVERITIES)}")
        tlp = self.spec.choice("tlp", _TLPS, "amber")
        assert tlp is not None
        self.tlp = TlpLevel(tlp)
        self.participants = self.spec.texts("participants")
        self.coordinated = self.spec.boolean("coordinated", False)
        description = self.spec.text("description")
        self.description = (
            None if description is None else self.template_of("description", description, trigger)
        )
        self.task_template = self.spec.text("template")
        group_by = self.spec.text("group_by")
        self.group_by = (
            None if group_by is None else self.template_of("group_by", group_by, trigger)
        )
        self.window = self.spec.duration("window", self.default_window)

    def check_references(self, conn: Connection, owner: Organisation) -> None:
        for name in self.participants:
            try:
                org = directory.find_organisation(conn, name)
            except NotFound as exc:
                raise self.spec.error("participants", exc.message) from None
            if org.kind is OrgKind.PEER:
                raise self.spec.error(
                    "participants", f"{org.name} is a peer center: incidents are for members"
                )

    def run(self, ctx: ActionContext) -> Mapping[str, Any]:
        conn = ctx.connection()
        context = ctx.context
        participants = [directory.find_organisation(conn, n).id for n in self.participants]
        alert_ids = [str(a) for a in ctx.item.get("alert_ids") or ()]
        group = (
            self.group_by.render(context) if self.group_by is not None
            else str(ctx.item.get("group_key") or ctx.item.get("key"))
        )[:300]  # fmt: skip
        now = timestamps.now()
        current = self._current(conn, ctx.playbook, group, now)
        if current is not None:
            added = add_alerts(conn, ctx.trail, ctx.actor, current, alert_ids) if alert_ids else 0
            for org_id in participants:
                add_participant(conn, ctx.trail, ctx.actor, current, org_id)
            self._attach_intel(conn, ctx, current)
            conn.execute(
                update(playbook_incidents)
                .where(playbook_incidents.c.playbook == ctx.playbook,
                       playbook_incidents.c.group_key == group)
                .values(last_added_at=now)
            )  # fmt: skip
            return {"incident_id": current, "opened": False, "alerts_added": added}
        severity = self.severity.render(context)
        if severity not in _SEVERITIES:
            raise PermanentFailure(f"severity {severity!r} is not one of {', '.join(_SEVERITIES)}")
        incident_id = open_incident(
            conn, ctx.trail, ctx.actor,
            title=self.title.render(context)[:300] or "Incident",
            severity=severity, tlp=self.tlp, participants=participants, alert_ids=alert_ids,
            description="" if self.description is None else self.description.render(context),
            template=self.task_template, coordinated=self.coordinated,
        )  # fmt: skip
        self._attach_intel(conn, ctx, incident_id)
        self._remember(conn, ctx.playbook, group, incident_id, now)
        return {"incident_id": incident_id, "opened": True, "alerts_added": len(alert_ids)}

    def _attach_intel(self, conn: Connection, ctx: ActionContext, incident_id: str) -> None:
        if ctx.trigger is TriggerKind.INTEL:
            for stix_id in ctx.item.get("indicator_ids") or ():
                add_intel(conn, ctx.trail, ctx.actor, incident_id, str(stix_id))

    def _current(self, conn: Connection, playbook: str, group: str, now: str) -> str | None:
        if self.window is None:
            return None
        p = playbook_incidents.c
        row = conn.execute(
            select(p.incident_id, p.last_added_at, incidents.c.status)
            .join(incidents, incidents.c.id == p.incident_id)
            .where(p.playbook == playbook, p.group_key == group)
        ).one_or_none()
        since = timestamps.format_ts(timestamps.parse(now) - self.window)
        if row is None or row.status in _ENDED or row.last_added_at < since:
            return None
        return str(row.incident_id)

    def _remember(
        self, conn: Connection, playbook: str, group: str, incident_id: str, now: str
    ) -> None:
        p = playbook_incidents.c
        done = conn.execute(
            update(playbook_incidents)
            .where(p.playbook == playbook, p.group_key == group)
            .values(incident_id=incident_id, opened_at=now, last_added_at=now)
        )
        if not done.rowcount:
            conn.execute(
                playbook_incidents.insert().values(
                    playbook=playbook, group_key=group, incident_id=incident_id,
                    opened_at=now, last_added_at=now,
                )
            )  # fmt: skip


class ExtendIncidentAction(OpenIncidentAction):
    """Add the item to the incident this playbook opened for its group within ``window``
    (default 24h), adding ``participants``; open one (as open-incident) when none is."""

    type = "extend-incident"
    default_window = timedelta(hours=24)
