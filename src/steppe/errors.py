"""Every error Steppe raises on purpose derives from :class:`SteppeError`.

The tree::

    SteppeError
    ├── ConfigError              settings that cannot work (insecure secret, bad URL)
    ├── InputError               bad input from a user, a file or a peer; says where
    │   ├── InvalidObservable    a value that is not a valid ip/domain/url/hash/…
    │   ├── InvalidPattern       a STIX pattern that does not parse
    │   ├── InvalidStix          a STIX object or bundle that breaks the spec
    │   ├── InvalidPlaybook      a playbook (YAML) that does not hold; lists every problem
    │   └── MarkingConflict      distribution, groups and TLP that contradict each other
    ├── Unauthenticated          no credentials, or ones that do not hold (HTTP 401)
    │   └── LoginRequired        a web page without a session: redirect to sign in (steppe.web)
    ├── NotFound                 no such object, or one the actor may not see (same error)
    ├── Conflict                 a name or id that already exists
    │   └── InvalidTransition    a state change the state machine does not allow (HTTP 409)
    ├── Forbidden                the actor's roles do not allow the action
    ├── PayloadTooLarge          a request body over the configured limit (HTTP 413)
    ├── RateLimited              too many requests for one token (HTTP 429, retry_after)
    │   └── Overloaded           a queue is full: try again later (HTTP 429, retry_after)
    └── IntegrityError           stored data that fails a check (audit chain, schema)

API-facing errors carry an HTTP ``status``. Input errors carry ``source`` (file name),
``line`` and ``field`` so the message can point at the culprit::

    >>> err = InvalidStix("pattern is missing", source="feed.json", line=12, field="objects[3].pattern")
    >>> str(err)
    'feed.json:12: objects[3].pattern: pattern is missing'
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "Conflict",
    "Forbidden",
    "InputError",
    "IntegrityError",
    "InvalidObservable",
    "InvalidPattern",
    "InvalidPlaybook",
    "InvalidStix",
    "InvalidTransition",
    "MarkingConflict",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "RateLimited",
    "SteppeError",
    "Unauthenticated",
]


class SteppeError(Exception):
    """Base of every error Steppe raises on purpose."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(SteppeError):
    status = 500


class InputError(SteppeError):
    """Bad input. ``source``/``line``/``field`` say where, when known."""

    status = 422

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.source = source
        self.line = line
        self.field = field

    def located(
        self, *, source: str | None = None, line: int | None = None, field: str | None = None
    ) -> InputError:
        """Fill in where the error happened, keeping what is already known.

        A field given here is prefixed to the one already set, so nested parsers can
        each add their part of the path (``objects[3]`` + ``pattern``).
        """
        if source is not None and self.source is None:
            self.source = source
        if line is not None and self.line is None:
            self.line = line
        if field is not None:
            self.field = f"{field}.{self.field}" if self.field else field
        return self

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = self.source
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        if self.field:
            where += f"{self.field}: "
        return where + self.message


class InvalidObservable(InputError):
    pass


class InvalidPattern(InputError):
    pass


class InvalidStix(InputError):
    pass


class MarkingConflict(InputError):
    pass


class InvalidPlaybook(InputError):
    """A playbook that does not hold. ``problems`` holds every error found in the file,
    this one (the first) included, each with its own line and field::

        >>> err = InvalidPlaybook("unknown key", source="hook.yml", line=4, field="trigger.severty")
        >>> str(err), len(err.problems)
        ('hook.yml:4: trigger.severty: unknown key', 1)
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
        problems: list[InvalidPlaybook] | None = None,
    ) -> None:
        super().__init__(message, source=source, line=line, field=field)
        self.problems: list[InvalidPlaybook] = problems or [self]


class NotFound(SteppeError):
    status = 404


class Conflict(SteppeError):
    status = 409


class InvalidTransition(Conflict):
    """A triage or incident state change that is not allowed from the current state.

    >>> str(InvalidTransition("alert abc is closed: it can only be reopened (acknowledged)"))
    'alert abc is closed: it can only be reopened (acknowledged)'
    """


class Forbidden(SteppeError):
    status = 403


class IntegrityError(SteppeError):
    status = 500


class Unauthenticated(SteppeError):
    status = 401


class PayloadTooLarge(SteppeError):
    status = 413


class RateLimited(SteppeError):
    status = 429

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(RateLimited):
    """The center cannot take more right now (a full ingest queue); nothing was accepted."""
