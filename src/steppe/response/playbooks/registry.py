"""Action types by name: the one place a playbook's ``type:`` is resolved.

Built-in actions register here exactly as another package's would::

    >>> register_action(MyAction)   # doctest: +SKIP
    >>> sorted(ACTIONS)[:3]
    ['advisory', 'email', 'publish']
"""

from __future__ import annotations

from steppe.response.playbooks.actions import Action
from steppe.response.playbooks.blocklist_action import BlocklistAction
from steppe.response.playbooks.incident_actions import ExtendIncidentAction, OpenIncidentAction
from steppe.response.playbooks.intel_actions import AdvisoryAction, SightingAction
from steppe.response.playbooks.model import TriggerKind
from steppe.response.playbooks.notify import EmailAction, PublishAction, WebhookAction
from steppe.response.playbooks.spec import Spec

__all__ = ["ACTIONS", "action_from_dict", "register_action"]

#: ``type`` → action class.
ACTIONS: dict[str, type[Action]] = {}


def register_action(cls: type[Action]) -> type[Action]:
    """Make ``cls`` available as ``type: <cls.type>``; refuses a name already taken."""
    if cls.type in ACTIONS and ACTIONS[cls.type] is not cls:
        raise ValueError(f"action type {cls.type!r} is already registered")
    ACTIONS[cls.type] = cls
    return cls


for _builtin in (
    WebhookAction,
    EmailAction,
    PublishAction,
    SightingAction,
    AdvisoryAction,
    OpenIncidentAction,
    ExtendIncidentAction,
    BlocklistAction,
):
    register_action(_builtin)


def action_from_dict(spec: Spec, trigger: TriggerKind) -> Action:
    """The action a mapping of ``actions:`` describes (errors carry its line)."""
    kind = spec.text("type")
    if kind is None:
        raise spec.error(None, f"'type' is required: one of {', '.join(sorted(ACTIONS))}")
    cls = ACTIONS.get(kind)
    if cls is None:
        raise spec.error("type", f"unknown action {kind!r}; one of {', '.join(sorted(ACTIONS))}")
    return cls.from_dict(spec, trigger)
