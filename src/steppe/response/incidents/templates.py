"""Task templates: named lists of tasks an incident can start with.

Four CERT templates are built in (:data:`BUILTIN`); ``STEPPE_INCIDENT_TEMPLATES_FILE``
names a YAML or JSON file of more (or of replacements for built-in names)::

    supply-chain:
      description: A compromised vendor update
      tasks:
        - Identify every member running the affected version
        - Collect the update package and its hashes as evidence

    >>> [t.name for t in load_templates(None)]
    ['compromised-host', 'ddos', 'phishing', 'ransomware']
    >>> BUILTIN["phishing"].tasks[0]
    'Collect the reported e-mails with full headers'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from steppe.errors import InputError

__all__ = ["BUILTIN", "TaskTemplate", "load_templates", "templates_by_name"]

_MAX_TASKS = 100


@dataclass(frozen=True, slots=True)
class TaskTemplate:
    name: str
    description: str
    tasks: tuple[str, ...]


BUILTIN: dict[str, TaskTemplate] = {
    t.name: t
    for t in (
        TaskTemplate(
            "phishing",
            "Phishing campaign against members' users",
            (
                "Collect the reported e-mails with full headers",
                "Extract sender, URLs and attachment hashes as indicators",
                "Search mail and proxy logs for other recipients and clicks",
                "Block the sender domains and URLs (blocklist export)",
                "Reset credentials of users who submitted them",
                "Request takedown of the phishing pages",
            ),
        ),
        TaskTemplate(
            "ransomware",
            "Ransomware on a member's systems",
            (
                "Isolate the affected hosts from the network",
                "Identify the ransomware family and the initial access vector",
                "Preserve memory and disk images of a sample of hosts",
                "Check the integrity and reachability of offline backups",
                "Hunt for the indicators at every participant",
                "Restore from clean backups and monitor for reinfection",
                "Notify the authorities as national law requires",
            ),
        ),
        TaskTemplate(
            "ddos",
            "Distributed denial of service",
            (
                "Measure the attack: targets, volume, protocols, sources",
                "Contact the upstream providers and request filtering",
                "Share the attacking sources with the participants",
                "Apply rate limits or scrubbing on the targets",
                "Watch for a follow-up or a ransom demand",
            ),
        ),
        TaskTemplate(
            "compromised-host",
            "A host under an attacker's control",
            (
                "Isolate the host",
                "Collect volatile data and a disk image",
                "Find the persistence mechanisms and lateral movement",
                "Extract indicators and share them with the participants",
                "Rebuild the host and rotate its credentials",
            ),
        ),
    )
}


def _parse(name: object, body: object, source: str) -> TaskTemplate:
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InputError("template names are 1 to 100 characters", source=source, field=str(name))
    if not isinstance(body, Mapping):
        raise InputError("a template is a mapping with 'tasks'", source=source, field=name)
    tasks = body.get("tasks")
    if (
        not isinstance(tasks, list)
        or not 1 <= len(tasks) <= _MAX_TASKS
        or not all(isinstance(t, str) and t.strip() for t in tasks)
    ):
        raise InputError(
            f"'tasks' must list 1 to {_MAX_TASKS} task titles", source=source, field=f"{name}.tasks"
        )
    description = body.get("description", "")
    if not isinstance(description, str):
        raise InputError("must be text", source=source, field=f"{name}.description")
    return TaskTemplate(name.strip(), description, tuple(t.strip() for t in tasks))


def templates_by_name(path: Path | None) -> dict[str, TaskTemplate]:
    """The built-in templates, with those of ``path`` (YAML or JSON) added or replacing."""
    found = dict(BUILTIN)
    if path is None:
        return found
    source = str(path)
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read it: {exc.strerror}", source=source) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not YAML or JSON: {exc}".splitlines()[0], source=source) from None
    if not isinstance(data, Mapping):
        raise InputError("must map template names to templates", source=source)
    for name, body in data.items():
        template = _parse(name, body, source)
        found[template.name] = template
    return found


def load_templates(path: Path | None) -> list[TaskTemplate]:
    """Every template, sorted by name."""
    return sorted(templates_by_name(path).values(), key=lambda t: t.name)
