"""The Sigma engine: rules loaded once, compiled per route on first use, run per event.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "whoami.yml").write_text(
    ...     "title: Whoami\\nid: 0b5d5a58-9e46-4d6b-9b8a-6b7a4a4b1f01\\nlevel: high\\n"
    ...     "tags: [attack.discovery, attack.t1033]\\n"
    ...     "logsource: {product: windows, category: process_creation}\\n"
    ...     "detection: {sel: {Image|endswith: '\\\\\\\\whoami.exe'}, condition: sel}\\n")
    >>> engine = SigmaEngine.from_paths([folder])
    >>> event = {"event.module": "windows", "@timestamp": "2026-11-28T10:00:00.000000Z",
    ...          "raw": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
    ...                  "Image": "C:\\\\Windows\\\\System32\\\\WHOAMI.EXE"}}
    >>> [(hit.title, hit.level, hit.attack_techniques) for hit in engine.evaluate(event)]
    [('Whoami', 'high', ('T1033',))]

Plans are built lazily per route key (a Windows channel and event id, a Zeek path …)
and cached; :meth:`SigmaEngine.warm` builds them up front. An engine is immutable once
built: a rule change builds a new one (see ``store.py``) and swaps it in whole.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaRule

from steppe.detection.sigma.correlation import CorrelationEngine
from steppe.detection.sigma.hits import SigmaHit
from steppe.detection.sigma.ir import Node, Unsupported, rule_tree
from steppe.detection.sigma.loader import LoadedRules, LoadProblem, gc_paused, load_rules
from steppe.detection.sigma.logsource import RouteKey, constants, routable, route, select
from steppe.detection.sigma.plan import Plan
from steppe.ingest.telemetry.model import NormalisedEvent

__all__ = ["RuleInfo", "SigmaEngine"]


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A compiled rule's identity and metadata."""

    number: int
    id: str
    name: str | None
    title: str
    level: str
    tags: tuple[str, ...]
    logsource: dict[str, Any]
    path: str | None
    output: bool  # False when only a correlation uses it (generate: false)
    tree: Node


def _info(number: int, rule: SigmaRule, tree: Node) -> RuleInfo:
    ls = rule.logsource
    logsource = {
        k: v
        for k, v in (("product", ls.product), ("category", ls.category), ("service", ls.service))
        if v is not None
    }
    return RuleInfo(
        number=number,
        id=str(rule.id) if rule.id is not None else (rule.name or rule.title),
        name=rule.name,
        title=rule.title,
        level=str(rule.level) if rule.level is not None else "medium",
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        logsource=logsource,
        path=str(rule.source.path) if rule.source is not None else None,
        output=bool(rule._output),
        tree=tree,
    )


def _dismantle(rule: SigmaRule) -> None:
    """Break the reference cycles of a rule's detections (items point at their parents)
    once its tree is built: the objects then go with reference counting instead of
    waiting for — and slowing — the cyclic collector (245,000 objects for SigmaHQ)."""

    def clear(detection: SigmaDetection) -> None:
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                clear(item)
            item.parent = None
        detection.detection_items = []
        detection.parent = None

    for detection in rule.detection.detections.values():
        clear(detection)
    rule.detection.parsed_condition = []


class SigmaEngine:
    """Loaded, compiled Sigma rules. ``problems`` lists what did not load or compile.
    The engine consumes ``loaded``: its rules' detections are taken apart once compiled."""

    def __init__(self, loaded: LoadedRules) -> None:
        self.problems: list[LoadProblem] = list(loaded.problems)
        self.rules: list[RuleInfo] = []
        self.unrouted: list[RuleInfo] = []
        by_object: dict[int, RuleInfo] = {}
        with gc_paused():
            self._compile_rules(loaded, by_object)
        self.files = loaded.files
        self.correlations = CorrelationEngine(loaded.correlations, by_object, self.problems)
        self._plans: dict[RouteKey, Plan] = {}
        self._lock = threading.Lock()

    def _compile_rules(self, loaded: LoadedRules, by_object: dict[int, RuleInfo]) -> None:
        for rule in loaded.rules:
            where = (str(rule.source.path), rule.source.line) if rule.source else ("<rules>", None)
            try:
                tree = rule_tree(rule)
            except (Unsupported, SigmaError) as exc:
                reason = " ".join(str(exc.args[0] if exc.args else exc).split())
                self.problems.append(LoadProblem(where[0], where[1], f"not supported: {reason}"))
                continue
            info = _info(len(self.rules), rule, tree)
            _dismantle(rule)
            self.rules.append(info)
            by_object[id(rule)] = info
            if not routable(info.logsource):
                self.unrouted.append(info)

    @classmethod
    def from_paths(cls, paths: Iterable[Path]) -> SigmaEngine:
        return cls(load_rules(paths))

    def plan(self, key: RouteKey) -> Plan:
        """The compiled plan of one route (built on first use, then cached)."""
        plan = self._plans.get(key)
        if plan is None:
            with self._lock:
                plan = self._plans.get(key)
                if plan is None:
                    chosen: list[tuple[int, Node, dict[str, str]]] = []
                    for info in self.rules:
                        renames = select(info.logsource, key)
                        if renames is not None:
                            chosen.append((info.number, info.tree, renames))
                    with gc_paused():
                        plan = Plan(chosen, constants(key))
                    self._plans[key] = plan
        return plan

    def routes(self) -> list[RouteKey]:
        """The routes whose plans are built so far (the kinds of events seen)."""
        return list(self._plans)

    def warm(self, keys: Iterable[RouteKey]) -> None:
        """Build the plans of these routes now rather than on their first event."""
        for key in keys:
            self.plan(key)

    def matching_rules(self, event: NormalisedEvent) -> list[RuleInfo]:
        """Every rule the event matches (rules only a correlation uses included)."""
        key, doc = route(event)
        rules = self.rules
        return [rules[n] for n in self.plan(key).match(doc)]

    def evaluate(
        self, event: NormalisedEvent, organisation_id: int | None = None
    ) -> list[SigmaHit]:
        """Hits of one event: its matching rules (those meant to alert) and any
        correlation rule a match completes."""
        key, doc = route(event)
        rules = self.rules
        matched = [rules[n] for n in self.plan(key).match(doc)]
        if not matched:
            return []
        time = event.get("@timestamp")
        hits = [
            SigmaHit(
                rule_id=info.id,
                title=info.title,
                level=info.level,
                tags=info.tags,
                event=event,
                organisation_id=organisation_id,
                time=time if isinstance(time, str) else None,
                rule_path=info.path,
            )
            for info in matched
            if info.output
        ]
        if self.correlations:
            hits.extend(self.correlations.observe(matched, event, doc, organisation_id))
        return hits

    def evaluate_many(
        self, events: Sequence[NormalisedEvent], organisation_id: int | None = None
    ) -> list[SigmaHit]:
        out: list[SigmaHit] = []
        for event in events:
            out.extend(self.evaluate(event, organisation_id))
        return out
