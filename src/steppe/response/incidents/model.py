"""What an incident is: its states, its tasks' states, the kinds of timeline entry, and
the views a reader gets.

>>> check_status("incident--1", "closed", "investigating")  # reopening is allowed
>>> check_status("incident--1", "open", "open")
Traceback (most recent call last):
...
steppe.errors.InvalidTransition: incident incident--1 is already open
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from steppe.errors import InputError, InvalidTransition

__all__ = [
    "SEVERITIES",
    "STATUS_TRANSITIONS",
    "TASK_TRANSITIONS",
    "CommentView",
    "EvidenceKind",
    "EvidenceView",
    "IncidentPage",
    "IncidentStatus",
    "IncidentView",
    "TaskStatus",
    "TaskView",
    "TimelineEntry",
    "TimelineKind",
    "check_status",
    "check_task_status",
    "parse_severity",
]

SEVERITIES = ("low", "medium", "high", "critical")


class IncidentStatus(StrEnum):
    OPEN = "open"  # opened, nobody on it yet
    INVESTIGATING = "investigating"
    CONTAINED = "contained"  # the damage no longer spreads
    RESOLVED = "resolved"  # fixed; awaiting the owner's closing
    CLOSED = "closed"


_I = IncidentStatus
#: Allowed moves; resolved and closed incidents may be reopened (investigating).
STATUS_TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    _I.OPEN: frozenset({_I.INVESTIGATING, _I.CONTAINED, _I.RESOLVED, _I.CLOSED}),
    _I.INVESTIGATING: frozenset({_I.CONTAINED, _I.RESOLVED, _I.CLOSED}),
    _I.CONTAINED: frozenset({_I.INVESTIGATING, _I.RESOLVED, _I.CLOSED}),
    _I.RESOLVED: frozenset({_I.INVESTIGATING, _I.CLOSED}),
    _I.CLOSED: frozenset({_I.INVESTIGATING}),
}


class TaskStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in-progress"
    DONE = "done"
    CANCELLED = "cancelled"


_T = TaskStatus
TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    _T.OPEN: frozenset({_T.IN_PROGRESS, _T.DONE, _T.CANCELLED}),
    _T.IN_PROGRESS: frozenset({_T.OPEN, _T.DONE, _T.CANCELLED}),
    _T.DONE: frozenset({_T.OPEN}),
    _T.CANCELLED: frozenset({_T.OPEN}),
}


class TimelineKind(StrEnum):
    """The ``kind`` column of ``incident_timeline`` (docs/incidents.md has each detail)."""

    OPENED = "opened"
    STATUS = "status"
    SEVERITY = "severity"
    UPDATE = "update"
    PARTICIPANT = "participant"
    TASK = "task"
    COMMENT = "comment"
    EVIDENCE = "evidence"


class EvidenceKind(StrEnum):
    ALERT = "alert"  # readable iff the alert's organisation's telemetry is
    INTEL = "intel"  # an intel object by stix id: readable iff the reader may see it
    NOTE = "note"  # text with its own marking (owner, distribution, TLP, groups)


def _parse(enum: type[StrEnum], value: str, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise InputError(
            f"{value!r} is not one of {', '.join(m.value for m in enum)}", field=field
        ) from None


def check_status(incident: str, current: str, wanted: str) -> IncidentStatus:
    """The wanted status, if the incident may move there from ``current``."""
    target: IncidentStatus = _parse(IncidentStatus, wanted, "status")
    allowed = STATUS_TRANSITIONS[IncidentStatus(current)]
    if target in allowed:
        return target
    if target == current:
        raise InvalidTransition(f"incident {incident} is already {current}")
    raise InvalidTransition(
        f"incident {incident} is {current}: it may become {' or '.join(sorted(allowed))}, "
        f"not {target.value}"
    )


def check_task_status(task: int, current: str, wanted: str) -> TaskStatus:
    target: TaskStatus = _parse(TaskStatus, wanted, "status")
    allowed = TASK_TRANSITIONS[TaskStatus(current)]
    if target not in allowed:
        raise InvalidTransition(
            f"task {task} is {current}: it may become {' or '.join(sorted(allowed))}, "
            f"not {target.value}"
        )
    return target


def parse_severity(value: str) -> str:
    if value not in SEVERITIES:
        raise InputError(f"{value!r} is not one of {', '.join(SEVERITIES)}", field="severity")
    return value


@dataclass(frozen=True, slots=True)
class IncidentView:
    id: str
    title: str
    description: str
    severity: str
    tlp: str
    status: str
    coordinated: bool
    owner: str  # organisation name
    owner_org_id: int
    participants: list[str]  # organisation names
    template: str | None
    created_by: str
    created_at: str
    updated_at: str
    open_tasks: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class IncidentPage:
    items: list[IncidentView]
    total: int


@dataclass(frozen=True, slots=True)
class TaskView:
    id: int
    incident_id: str
    title: str
    assignee_org: str | None
    assignee: str | None  # user name
    status: str
    due: str | None
    created_at: str
    updated_at: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CommentView:
    id: int
    incident_id: str
    author: str
    organisation: str
    created_at: str
    text: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EvidenceView:
    """One evidence item the reader may see; ``title`` says what it is in one line."""

    id: int
    kind: str
    alert_id: str | None
    stix_id: str | None
    title: str
    body: str | None  # a note's text
    owner: str | None  # a note's owner organisation
    distribution: str | None
    tlp: str | None
    added_by: str
    added_at: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    id: int
    incident_id: str
    at: str
    kind: str
    actor: str
    detail: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)
