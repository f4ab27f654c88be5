"""Sigma correlation rules over a stream of matches, with sliding windows and bounded
state.

Supported: ``event_count``, ``value_count``, ``temporal`` and ``temporal_ordered``, with
``group-by`` (and ``aliases`` for rules naming a field differently), conditions
``gte``/``gt``/``eq``. A correlation fires as soon as a window satisfies it, then its
group starts afresh, so one burst gives one alert. Windows are per organisation: the
events of two members never meet in one correlation. State is bounded: a group keeps at
most as many events as its condition needs, and at most ``max_groups`` groups live per
correlation (the least recently touched go first).

Not supported (reported as problems when loaded): ``lt``/``lte``/``neq`` conditions,
which only a window's end can decide and need a clock this stream does not have; the
``value_sum``/``value_avg``/``value_percentile``/``value_median`` types; correlations
of correlations; extended (boolean) temporal conditions.

    >>> from datetime import datetime
    >>> window = _Window(span=60.0, need=3)
    >>> [window.add(t, f"e{t}") for t in (0.0, 10.0, 100.0, 120.0, 130.0)]
    [None, None, None, None, ('e100.0', 'e120.0', 'e130.0')]
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sigma.correlations import (
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
    SigmaExtendedCorrelationCondition,
)
from sigma.rule import SigmaRule

from steppe.detection.sigma.hits import SigmaHit
from steppe.detection.sigma.loader import LoadProblem
from steppe.detection.sigma.predicates import text_of

if TYPE_CHECKING:
    from steppe.detection.sigma.engine import RuleInfo

__all__ = ["CorrelationEngine"]

_TYPES = {
    SigmaCorrelationType.EVENT_COUNT: "event_count",
    SigmaCorrelationType.VALUE_COUNT: "value_count",
    SigmaCorrelationType.TEMPORAL: "temporal",
    SigmaCorrelationType.TEMPORAL_ORDERED: "temporal_ordered",
}


def _seconds(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class _Window:
    """The last ``need`` events within ``span`` seconds; add returns them when full."""

    __slots__ = ("items", "need", "span")

    def __init__(self, span: float, need: int) -> None:
        self.span, self.need = span, need
        self.items: deque[tuple[float, Any]] = deque(maxlen=need)

    def add(self, t: float, item: Any) -> tuple[Any, ...] | None:
        items = self.items
        while items and items[0][0] < t - self.span:
            items.popleft()
        items.append((t, item))
        if len(items) >= self.need:
            out = tuple(i for _, i in items)
            items.clear()
            return out
        return None


@dataclass
class _Correlation:
    id: str
    title: str
    level: str
    tags: tuple[str, ...]
    kind: str
    span: float
    need: int
    rules: tuple[int, ...]  # rule numbers, in the rule's order
    group_by: tuple[str, ...]
    aliases: dict[str, dict[int, str]]
    fieldref: tuple[str, ...]
    path: str | None
    max_groups: int
    groups: OrderedDict[tuple[Any, ...], Any] = field(default_factory=OrderedDict)

    def key(self, rule: int, doc: dict[str, Any], org: int | None) -> tuple[Any, ...]:
        values = tuple(
            text_of(doc.get(self.aliases.get(name, {}).get(rule, name))) for name in self.group_by
        )
        return (org, values)

    def state(self, key: tuple[Any, ...], make: Any) -> Any:
        groups = self.groups
        state = groups.get(key)
        if state is None:
            state = groups[key] = make()
            if len(groups) > self.max_groups:
                groups.popitem(last=False)
        else:
            groups.move_to_end(key)
        return state

    def observe(
        self, rule: int, t: float, event: Any, doc: dict[str, Any], org: int | None
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
        key = self.key(rule, doc, org)
        if self.kind == "event_count":
            window = self.state(key, lambda: _Window(self.span, self.need))
            done = window.add(t, event)
        elif self.kind == "value_count":
            done = self._values(key, rule, t, event, doc)
        elif self.kind == "temporal":
            done = self._temporal(key, rule, t, event)
        else:
            done = self._ordered(key, rule, t, event)
        if done is None:
            return None
        self.groups.pop(key, None)
        return key, done

    def _values(self, key: Any, rule: int, t: float, event: Any, doc: dict[str, Any]) -> Any:
        names = [self.aliases.get(f, {}).get(rule, f) for f in self.fieldref]
        value = tuple(text_of(doc.get(n)) for n in names)
        if all(v is None for v in value):
            return None
        seen: dict[Any, tuple[float, Any]] = self.state(key, dict)
        for old in [v for v, (when, _) in seen.items() if when < t - self.span]:
            del seen[old]
        seen.pop(value, None)
        seen[value] = (t, event)
        if len(seen) >= self.need:
            return tuple(e for _, e in seen.values())
        return None

    def _temporal(self, key: Any, rule: int, t: float, event: Any) -> Any:
        seen: dict[int, tuple[float, Any]] = self.state(key, dict)
        for old in [r for r, (when, _) in seen.items() if when < t - self.span]:
            del seen[old]
        seen[rule] = (t, event)
        if all(r in seen for r in self.rules):
            return tuple(seen[r][1] for r in self.rules)
        return None

    def _ordered(self, key: Any, rule: int, t: float, event: Any) -> Any:
        # chain[i]: (start time, events) of the latest in-order run of rules[0..i].
        chain: dict[int, tuple[float, tuple[Any, ...]]] = self.state(key, dict)
        for i in range(len(self.rules) - 1, -1, -1):
            if self.rules[i] != rule:
                continue
            if i == 0:
                chain[0] = (t, (event,))
            else:
                before = chain.get(i - 1)
                if before is not None and t - before[0] <= self.span:
                    chain[i] = (before[0], (*before[1], event))
        last = chain.get(len(self.rules) - 1)
        return last[1] if last is not None else None


class CorrelationEngine:
    """Every loaded correlation rule, fed with the base-rule matches of each event."""

    def __init__(
        self,
        rules: Sequence[SigmaCorrelationRule],
        by_object: dict[int, RuleInfo],
        problems: list[LoadProblem],
        max_groups: int = 100_000,
    ) -> None:
        self.by_rule: dict[int, list[_Correlation]] = {}
        self.correlations: list[_Correlation] = []
        self._lock = threading.Lock()  # windows are shared by the threads that evaluate
        for rule in rules:
            where = (str(rule.source.path), rule.source.line) if rule.source else ("<rules>", None)
            try:
                corr = self._compile(rule, by_object, max_groups)
            except ValueError as exc:
                problems.append(LoadProblem(where[0], where[1], f"not supported: {exc}"))
                continue
            self.correlations.append(corr)
            for number in set(corr.rules):
                self.by_rule.setdefault(number, []).append(corr)

    def __bool__(self) -> bool:
        return bool(self.correlations)

    @staticmethod
    def _compile(
        rule: SigmaCorrelationRule, by_object: dict[int, RuleInfo], max_groups: int
    ) -> _Correlation:
        kind = _TYPES.get(rule.type)
        if kind is None:
            raise ValueError(f"correlation type {rule.type}")
        condition = rule.condition
        if isinstance(condition, SigmaExtendedCorrelationCondition):
            raise ValueError("extended temporal conditions")
        numbers: list[int] = []
        names: dict[str, int] = {}
        for ref in rule.referenced_rules:
            target = ref.rule
            if not isinstance(target, SigmaRule):
                raise ValueError("a correlation of correlations")
            info = by_object.get(id(target))
            if info is None:
                raise ValueError(f"referenced rule {ref.reference} did not compile")
            numbers.append(info.number)
            names[ref.reference] = info.number
        if kind in ("event_count", "value_count"):
            op, count = condition.op, condition.count
            if op is SigmaCorrelationConditionOperator.GT:
                need = int(count) + 1
            elif op in (
                SigmaCorrelationConditionOperator.GTE,
                SigmaCorrelationConditionOperator.EQ,
            ):
                need = max(int(count), 1)
            else:
                raise ValueError(f"condition {op.name.lower()} (needs the end of a window)")
        else:
            need = len(numbers)
        fieldref = condition.fieldref
        refs = (fieldref,) if isinstance(fieldref, str) else tuple(fieldref or ())
        if kind == "value_count" and not refs:
            raise ValueError("value_count without a field")
        aliases: dict[str, dict[int, str]] = {}
        for alias in rule.aliases:
            aliases[alias.alias] = {
                names[ref.reference]: name
                for ref, name in alias.mapping.items()
                if ref.reference in names
            }
        return _Correlation(
            id=str(rule.id) if rule.id is not None else (rule.name or rule.title),
            title=rule.title,
            level=str(rule.level) if rule.level is not None else "medium",
            tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
            kind=kind,
            span=float(rule.timespan.seconds),
            need=need,
            rules=tuple(numbers),
            group_by=tuple(rule.group_by or ()),
            aliases=aliases,
            fieldref=refs,
            path=str(rule.source.path) if rule.source else None,
            max_groups=max_groups,
        )

    def observe(
        self,
        matched: Sequence[RuleInfo],
        event: dict[str, Any],
        doc: dict[str, Any],
        organisation_id: int | None,
    ) -> list[SigmaHit]:
        """Feed one event's base-rule matches; return the correlations it completes."""
        t = _seconds(event.get("@timestamp"))
        if t is None:
            return []
        hits: list[SigmaHit] = []
        for info in matched:
            for corr in self.by_rule.get(info.number, ()):
                with self._lock:
                    done = corr.observe(info.number, t, event, doc, organisation_id)
                if done is None:
                    continue
                (_, values), events = done
                stamp = event.get("@timestamp")
                hits.append(
                    SigmaHit(
                        rule_id=corr.id,
                        title=corr.title,
                        level=corr.level,
                        tags=corr.tags,
                        event=event,
                        organisation_id=organisation_id,
                        time=stamp if isinstance(stamp, str) else None,
                        rule_path=corr.path,
                        correlation=corr.kind,
                        group=tuple(zip(corr.group_by, values, strict=True)),
                        related=tuple(events),
                    )
                )
        return hits

    def state_size(self) -> int:
        """How many groups are held across all correlations (for monitoring)."""
        return sum(len(c.groups) for c in self.correlations)
