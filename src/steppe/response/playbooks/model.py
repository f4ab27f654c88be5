"""What a playbook is: a name, an owner organisation, a trigger, and actions.

>>> from steppe.response.playbooks.loader import load_playbook
>>> pb = load_playbook('''
... name: notify-kz
... owner: KZ-CERT
... trigger: {type: alert, conditions: {severity: high}}
... actions:
...   - {type: publish, subject: "response.{alert.organisation}"}
... ''', source="kz.yml")
>>> pb.trigger.kind, [a.type for a in pb.actions]
(<TriggerKind.ALERT: 'alert'>, ['publish'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from steppe.response.playbooks.conditions import Condition

if TYPE_CHECKING:
    from steppe.response.playbooks.actions import Action

__all__ = ["CONTEXT_FIELDS", "Item", "Playbook", "Trigger", "TriggerKind"]


class TriggerKind(StrEnum):
    ALERT = "alert"  # a new alert the owner may read
    INCIDENT_STATUS = "incident-status"  # an incident the owner takes part in changed status
    INTEL = "intel"  # a new intel object the owner may see


_ALERT = (
    "id", "kind", "organisation", "org_id", "title", "severity", "status", "field",
    "observed", "matched", "match_type", "indicator", "rule_id", "first_seen", "last_seen",
    "count", "created_at", "event", "labels", "tlp", "score",
)  # fmt: skip
_INTEL = (
    "id", "type", "name", "description", "owner", "tlp", "distribution", "labels",
    "confidence", "score", "pattern", "valid_from", "valid_until", "observables",
    "imported_at",
)  # fmt: skip
_INCIDENT = ("id", "title", "severity", "tlp", "status", "previous", "at", "actor")
_COMMON = ("playbook", "playbook.name", "playbook.owner", "run", "run.id", "incident_id")

#: Names a template may use, per trigger kind (checked when a playbook is loaded).
CONTEXT_FIELDS: dict[TriggerKind, frozenset[str]] = {
    TriggerKind.ALERT: frozenset(("alert", *(f"alert.{n}" for n in _ALERT), *_COMMON)),
    TriggerKind.INTEL: frozenset(("intel", *(f"intel.{n}" for n in _INTEL), *_COMMON)),
    TriggerKind.INCIDENT_STATUS: frozenset(
        ("incident", *(f"incident.{n}" for n in _INCIDENT), *_COMMON)
    ),
}


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: TriggerKind
    conditions: tuple[Condition, ...] = ()
    #: On the playbook's first poll, also consider items this far back (default: none).
    backfill: timedelta = timedelta(0)

    def matches(self, facts: Mapping[str, Any]) -> bool:
        return all(c.matches(facts) for c in self.conditions)


@dataclass(frozen=True, slots=True)
class Playbook:
    name: str
    owner: str  # organisation name: the playbook acts as that organisation
    trigger: Trigger
    actions: tuple[Action, ...]
    enabled: bool = True
    description: str = ""
    source: str | None = None  # the file it came from
    text: str = field(default="", repr=False)  # the YAML as written


@dataclass(frozen=True, slots=True)
class Item:
    """One trigger item: what a run is about.

    ``key`` is unique per item within its kind (the run's idempotency key), ``context``
    what templates and webhook bodies see, ``facts`` what conditions test, and
    ``group_key`` what an incident extension groups by (an indicator, a rule…).
    """

    key: str
    context: dict[str, Any]
    facts: dict[str, Any]
    group_key: str
    alert_ids: tuple[str, ...] = ()
    indicator_ids: tuple[str, ...] = ()  # stix ids the playbook's organisation may see
