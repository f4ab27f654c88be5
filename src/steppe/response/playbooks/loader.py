"""Loading playbooks: one YAML file → a :class:`~steppe.response.playbooks.model.Playbook`,
and a folder of them, reloaded when a file changes.

Every problem in a file is reported, each as ``file:line: field: problem``::

    >>> load_playbook("name: x\\nowner: KZ-CERT\\ntriger: {type: alert}\\n", source="x.yml")
    Traceback (most recent call last):
    ...
    steppe.errors.InvalidPlaybook: x.yml:3: triger: unknown key; expected one of: actions, description, enabled, name, owner, trigger

A file that breaks after it loaded keeps its last good version running: the error is
reported (``steppe playbook list``, the log) until the file is fixed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection

from steppe.errors import InvalidPlaybook, NotFound
from steppe.response.playbooks.actions import Action
from steppe.response.playbooks.conditions import parse_conditions
from steppe.response.playbooks.model import Playbook, Trigger, TriggerKind
from steppe.response.playbooks.registry import action_from_dict
from steppe.response.playbooks.spec import Spec
from steppe.sharing import directory
from steppe.sharing.model import OrgKind

__all__ = ["PlaybookLibrary", "check_references", "load_playbook", "load_playbook_file"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
_TOP_KEYS = ("name", "owner", "description", "enabled", "trigger", "actions")
_TRIGGER_KEYS = ("type", "conditions", "backfill")
_MAX_ACTIONS = 50
T = TypeVar("T")


def load_playbook(text: str, *, source: str | None = None) -> Playbook:
    """Read and check one playbook; InvalidPlaybook lists every problem found."""
    spec = Spec.parse(text, source=source)
    problems: list[InvalidPlaybook] = []

    def attempt(read: Callable[[], T]) -> T | None:
        try:
            return read()
        except InvalidPlaybook as exc:
            problems.extend(exc.problems)
            return None

    attempt(lambda: spec.only(_TOP_KEYS))
    name = attempt(lambda: _name(spec))
    owner = attempt(lambda: spec.required_text("owner"))
    enabled = attempt(lambda: spec.boolean("enabled", True))
    description = attempt(lambda: spec.text("description", "")) or ""
    trigger = None
    section = attempt(lambda: spec.section("trigger", required=True))
    kind = None if section is None else attempt(lambda: _trigger_kind(section))
    if section is not None and kind is not None:
        backfill = attempt(lambda: section.duration("backfill"))
        conditions = attempt(lambda: parse_conditions(section.section("conditions"), kind))
        trigger = Trigger(kind, conditions or (), backfill or timedelta(0))
    actions: list[Action] = []
    if kind is not None:
        for action_spec in attempt(lambda: list(_action_specs(spec))) or []:
            found = attempt(lambda s=action_spec: action_from_dict(s, kind))  # type: ignore[misc]
            if found is not None:
                actions.append(found)
    if problems:
        first = problems[0]
        raise InvalidPlaybook(
            first.message, source=first.source, line=first.line, field=first.field,
            problems=problems,
        )  # fmt: skip
    assert name is not None and owner is not None and trigger is not None
    return Playbook(
        name=name,
        owner=owner,
        trigger=trigger,
        actions=tuple(actions),
        enabled=bool(enabled),
        description=description,
        source=source,
        text=text,
    )


def load_playbook_file(path: Path) -> Playbook:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidPlaybook("not UTF-8 text", source=str(path)) from None
    except OSError as exc:
        raise InvalidPlaybook(f"cannot read: {exc.strerror}", source=str(path)) from None
    return load_playbook(text, source=str(path))


def check_references(conn: Connection, playbook: Playbook) -> list[InvalidPlaybook]:
    """Problems with what the playbook names: its owner, groups, organisations."""
    spec = Spec.parse(playbook.text, source=playbook.source) if playbook.text else None
    try:
        owner = directory.find_organisation(conn, playbook.owner)
    except NotFound as exc:
        where = spec.error("owner", exc.message) if spec else InvalidPlaybook(exc.message)
        return [where]
    if owner.kind is OrgKind.PEER:
        message = f"{owner.name} is a peer center: playbooks run for this center's members"
        return [spec.error("owner", message) if spec else InvalidPlaybook(message)]
    problems: list[InvalidPlaybook] = []
    for action in playbook.actions:
        try:
            action.check_references(conn, owner)
        except InvalidPlaybook as exc:
            problems.append(exc)
    return problems


def _name(spec: Spec) -> str:
    name = spec.required_text("name")
    if not _NAME.fullmatch(name):
        raise spec.error(
            "name",
            "letters, digits, '.', '_' and '-' only (up to 200), starting with a letter or digit",
        )
    return name


def _trigger_kind(section: Spec) -> TriggerKind:
    section.only(_TRIGGER_KEYS)
    kind = section.choice("type", [k.value for k in TriggerKind])
    if kind is None:
        raise section.error(
            None, f"'type' is required: one of {', '.join(k.value for k in TriggerKind)}"
        )
    return TriggerKind(kind)


def _action_specs(spec: Spec) -> list[Spec]:
    if "actions" not in spec:
        raise spec.error(None, "'actions' is required: a list of at least one action")
    found = list(spec.sections("actions"))
    if not found:
        raise spec.error("actions", "needs at least one action")
    if len(found) > _MAX_ACTIONS:
        raise spec.error("actions", f"at most {_MAX_ACTIONS} actions")
    return found


@dataclass(frozen=True, slots=True)
class _Seen:
    mtime_ns: int
    size: int


class PlaybookLibrary:
    """The playbooks of a folder (``*.yml``, ``*.yaml``), reloaded when files change.

    >>> library = PlaybookLibrary(Path("playbooks"))   # doctest: +SKIP
    >>> [p.name for p in library.playbooks()]           # doctest: +SKIP
    ['notify-kz']
    """

    def __init__(self, folder: Path | None, extra: list[Playbook] | None = None) -> None:
        self.folder = folder
        self._extra = list(extra or [])  # given in code (the demo, tests)
        self._lock = threading.Lock()
        self._seen: dict[Path, _Seen] = {}
        self._loaded: dict[Path, Playbook] = {}
        self.errors: dict[Path, InvalidPlaybook] = {}

    def refresh(self) -> bool:
        """Reload changed, new and removed files; True when anything changed."""
        if self.folder is None:
            return False
        with self._lock:
            current: dict[Path, _Seen] = {}
            if self.folder.is_dir():
                for path in sorted(self.folder.iterdir()):
                    if path.suffix in (".yml", ".yaml") and path.is_file():
                        stat = path.stat()
                        current[path] = _Seen(stat.st_mtime_ns, stat.st_size)
            if current == self._seen:
                return False
            for path in set(self._loaded) - set(current):
                del self._loaded[path]
                self.errors.pop(path, None)
            for path in [p for p in current if self._seen.get(p) != current[p]]:
                try:
                    playbook = load_playbook_file(path)
                    self._check_unique(path, playbook)
                except InvalidPlaybook as exc:
                    self.errors[path] = exc
                    kept = " (its last good version keeps running)" if path in self._loaded else ""
                    log.error("playbook %s%s", exc, kept)
                    continue
                self._loaded[path] = playbook
                self.errors.pop(path, None)
            self._seen = current
            return True

    def _check_unique(self, path: Path, playbook: Playbook) -> None:
        for other_path, other in self._loaded.items():
            if other_path != path and other.name == playbook.name:
                raise InvalidPlaybook(
                    f"the name {playbook.name!r} is already used by {other_path.name}",
                    source=str(path),
                    field="name",
                )
        if any(p.name == playbook.name for p in self._extra):
            raise InvalidPlaybook(
                f"the name {playbook.name!r} is already used", source=str(path), field="name"
            )

    def add(self, playbook: Playbook) -> None:
        """Add a playbook given in code (not from the folder)."""
        with self._lock:
            self._extra = [p for p in self._extra if p.name != playbook.name] + [playbook]

    def playbooks(self) -> list[Playbook]:
        """Every loaded playbook, by name (call :meth:`refresh` first to pick up changes)."""
        with self._lock:
            found = [*self._loaded.values(), *self._extra]
        return sorted(found, key=lambda p: p.name)

    def get(self, name: str) -> Playbook:
        for playbook in self.playbooks():
            if playbook.name == name:
                return playbook
        raise NotFound(f"no playbook named {name!r}")
