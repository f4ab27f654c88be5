"""Playbooks: when a trigger fires (an alert, an incident's status, new intel), act.

A playbook is a YAML file (docs/playbooks.md) owned by an organisation, and acts as
that organisation: it sees only the alerts and intel the policy lets it see.

- :mod:`~steppe.response.playbooks.spec` — YAML read with lines, for located errors.
- :mod:`~steppe.response.playbooks.loader` — files → playbooks; a hot-reloaded folder.
- :mod:`~steppe.response.playbooks.conditions` — what a trigger matches.
- :mod:`~steppe.response.playbooks.actions` and the action modules
  (:mod:`~steppe.response.playbooks.notify`, :mod:`~steppe.response.playbooks.intel_actions`)
  — what a playbook does, resolved through :mod:`~steppe.response.playbooks.registry`.
- :mod:`~steppe.response.playbooks.triggers` — polling with persistent cursors.
- :mod:`~steppe.response.playbooks.runs` — runs and attempts, read through the policy.
- :mod:`~steppe.response.playbooks.runner` — rounds of polling and attempts.
"""

from steppe.response.playbooks.loader import PlaybookLibrary, load_playbook, load_playbook_file
from steppe.response.playbooks.model import Playbook, TriggerKind
from steppe.response.playbooks.runner import PlaybookRunner, RoundReport

__all__ = [
    "Playbook",
    "PlaybookLibrary",
    "PlaybookRunner",
    "RoundReport",
    "TriggerKind",
    "load_playbook",
    "load_playbook_file",
]
