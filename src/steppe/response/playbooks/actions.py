"""What every playbook action shares: its spec, its retry policy, what it runs with.

An action type is a class with a ``type`` name, a :meth:`Action.from_dict` that reads and
checks its part of the YAML (raising errors with the line), and a :meth:`Action.run`
that does the work and returns a small JSON-able result. Types are resolved by name
through :data:`steppe.response.playbooks.registry.ACTIONS`.

Failures: an exception from :meth:`Action.run` is retried with exponential backoff
(``backoff`` seconds, doubling, up to ``retries`` attempts, then the action is *dead*);
:class:`PermanentFailure` — and input, permission and not-found errors, which a retry
cannot fix — make it *failed* at once. Both stay visible in the run, and
``steppe playbook retry RUN`` tries again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Self

from sqlalchemy import Connection, Engine

from steppe.audit.trail import AuditTrail
from steppe.errors import Forbidden, InputError, NotFound
from steppe.response.playbooks.model import CONTEXT_FIELDS, TriggerKind
from steppe.response.playbooks.spec import Spec
from steppe.response.playbooks.templates import Template
from steppe.settings import Settings
from steppe.sharing.directory import Organisation
from steppe.sharing.model import Actor
from steppe.workers.broker import Broker

__all__ = [
    "COMMON_KEYS",
    "Action",
    "ActionContext",
    "PermanentFailure",
    "is_permanent",
    "next_delay",
]

#: Keys every action accepts.
COMMON_KEYS = ("type", "retries", "backoff")
DEFAULT_RETRIES = 5
DEFAULT_BACKOFF = 30.0
MAX_DELAY = 3600.0


class PermanentFailure(Exception):
    """An action failure another attempt cannot fix (a 4xx answer, missing settings)."""


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, PermanentFailure | InputError | Forbidden | NotFound)


def next_delay(backoff: float, attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: backoff, 2×, 4×… capped at an hour.

    >>> [next_delay(30, n).total_seconds() for n in (1, 2, 3)]
    [30.0, 60.0, 120.0]
    """
    return timedelta(seconds=min(backoff * 2 ** max(attempts - 1, 0), MAX_DELAY))


@dataclass
class ActionContext:
    """What an action runs with: the playbook's principal, the item, the services.

    ``conn`` is an open write transaction for actions that write to the database
    (``writes = True``): their effect and the record of their success commit together.
    """

    engine: Engine
    trail: AuditTrail
    actor: Actor  # the playbook's organisation, as the policy sees it
    playbook: str
    run_id: int
    position: int
    trigger: TriggerKind
    item: dict[str, Any]  # the stored item: context, facts, keys
    settings: Settings
    broker: Broker | None = None
    conn: Connection | None = None
    earlier: list[dict[str, Any]] = field(default_factory=list)  # results of earlier actions

    @property
    def context(self) -> dict[str, Any]:
        """The template context: the item, the playbook, the run, earlier results."""
        found: dict[str, Any] = dict(self.item.get("context") or {})
        found["playbook"] = {"name": self.playbook, "owner": self.item.get("owner")}
        found["run"] = {"id": self.run_id}
        for result in self.earlier:
            if result.get("incident_id"):
                found["incident_id"] = result["incident_id"]
        return found

    def connection(self) -> Connection:
        if self.conn is None:
            raise RuntimeError("this action needs a database transaction")
        return self.conn


class Action(ABC):
    """One step of a playbook. Subclasses set ``type`` and read their own keys."""

    type: ClassVar[str]
    #: Runs inside a database transaction that also records its outcome.
    writes: ClassVar[bool] = False
    #: Needs a broker: waits for a runner that has one (``steppe serve``).
    needs_broker: ClassVar[bool] = False
    #: Trigger kinds the action makes sense for (default: all).
    triggers: ClassVar[frozenset[TriggerKind]] = frozenset(TriggerKind)

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        retries = spec.integer("retries", DEFAULT_RETRIES, minimum=1, maximum=50)
        backoff = spec.number("backoff", DEFAULT_BACKOFF, minimum=0, maximum=MAX_DELAY)
        assert retries is not None and backoff is not None
        self.retries = retries
        self.backoff = backoff

    @classmethod
    @abstractmethod
    def keys(cls) -> tuple[str, ...]:
        """The keys of this action besides :data:`COMMON_KEYS`."""

    @classmethod
    def from_dict(cls, spec: Spec, trigger: TriggerKind) -> Self:
        """Read and check the action (its line is in every error)."""
        spec.only((*COMMON_KEYS, *cls.keys()))
        if trigger not in cls.triggers:
            allowed = ", ".join(sorted(t.value for t in cls.triggers))
            raise spec.error("type", f"{cls.type!r} runs on {allowed} triggers, not {trigger}")
        action = cls(spec)
        action.check(trigger)
        return action

    def check(self, trigger: TriggerKind) -> None:  # noqa: B027 - optional hook
        """Further checks once the keys are read (templates against the trigger's fields)."""

    def template(self, key: str, trigger: TriggerKind, default: str | None = None) -> Template:
        text = self.spec.text(key, default)
        if text is None:
            raise self.spec.error(None, f"{key!r} is required")
        return self.template_of(key, text, trigger)

    def template_of(self, key: str, text: str, trigger: TriggerKind) -> Template:
        try:
            template = Template(text)
            template.check(CONTEXT_FIELDS[trigger])
        except ValueError as exc:
            raise self.spec.error(key, str(exc)) from None
        return template

    def check_references(self, conn: Connection, owner: Organisation) -> None:  # noqa: B027
        """Check names the action refers to (groups, organisations) against the database."""

    @abstractmethod
    def run(self, ctx: ActionContext) -> Mapping[str, Any]:
        """Do it; return what to keep as the result (ids, status codes)."""
