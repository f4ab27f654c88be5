"""The rules in force, reloaded when their files change — no restart.

A :class:`RuleStore` watches rule folders (files' mtime and size). When something
changes, :meth:`RuleStore.reload` builds a whole new :class:`SigmaEngine` beside the
serving one — its plans for the kinds of events already seen included — and swaps it in
with one assignment, so matching never sees half a rule set and never waits for a load
or a compile. A rule that no longer loads is reported (file, line,
reason) and the rest of the set goes on. ``start()`` runs the check on a background
thread every ``interval`` seconds; ``reload()`` does it now.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = RuleStore([folder])
    >>> len(store.engine.rules)
    0
    >>> _ = (folder / "r.yml").write_text(
    ...     "title: New rule\\nid: 9c7a1f0e-2b3c-4d5e-8f90-a1b2c3d4e5f6\\n"
    ...     "logsource: {product: windows, category: process_creation}\\n"
    ...     "detection: {sel: {Image|endswith: '\\\\\\\\evil.exe'}, condition: sel}\\n")
    >>> change = store.reload()
    >>> change.changed, [r.title for r in store.engine.rules]
    (['r.yml'], ['New rule'])
    >>> store.reload() is None  # nothing changed
    True

Correlation windows start empty in a new engine (their state is not carried over).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from steppe.detection.sigma.engine import SigmaEngine
from steppe.detection.sigma.hits import SigmaHit
from steppe.detection.sigma.loader import LoadProblem, load_rules, snapshot
from steppe.ingest.telemetry.model import NormalisedEvent
from steppe.workers.periodic import PeriodicWorker

__all__ = ["Reload", "RuleStore"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reload:
    """What a reload changed: file names (relative to their watched folder)."""

    changed: list[str]
    rules: int
    problems: list[LoadProblem]


class RuleStore:
    """The current engine for a set of rule folders, swapped whole on change."""

    def __init__(self, paths: Sequence[Path], interval: float = 5.0) -> None:
        self.paths = [Path(p) for p in paths]
        self.interval = interval
        self._files = snapshot(self.paths)
        self.engine = SigmaEngine(load_rules(self.paths))
        self._reload_lock = threading.Lock()
        # A bad reload is logged and must not end the watcher: the old set stays in force.
        self._watcher = PeriodicWorker(
            "sigma-rules", self.reload, every=lambda: self.interval, first_at_once=False
        )

    def _name(self, file: str) -> str:
        path = Path(file)
        for root in self.paths:
            if root.is_dir() and path.is_relative_to(root):
                return str(path.relative_to(root))
        return path.name

    def reload(self) -> Reload | None:
        """Rebuild the engine if any rule file was added, changed or removed; None if
        nothing did."""
        with self._reload_lock:
            files = snapshot(self.paths)
            if files == self._files:
                return None
            changed = sorted(
                self._name(f)
                for f in set(files) | set(self._files)
                if files.get(f) != self._files.get(f)
            )
            engine = SigmaEngine(load_rules(self.paths))
            # Plans for the kinds of events already seen are built before the swap, so
            # no event waits for a compile after a reload.
            engine.warm(self.engine.routes())
            self.engine = engine  # the swap: one assignment, atomic for readers
            self._files = files
            log.info(
                "sigma rules reloaded: %d changed files, %d rules, %d problems",
                len(changed),
                len(engine.rules),
                len(engine.problems),
            )
            return Reload(changed, len(engine.rules), list(engine.problems))

    def evaluate(
        self, event: NormalisedEvent, organisation_id: int | None = None
    ) -> list[SigmaHit]:
        """Hits of one event under the rules in force now."""
        return self.engine.evaluate(event, organisation_id)

    def start(self) -> None:
        """Check for changes every ``interval`` seconds on a daemon thread."""
        self._watcher.start()

    def stop(self) -> None:
        self._watcher.stop(timeout=None)
