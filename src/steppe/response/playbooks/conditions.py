"""Trigger conditions: which alerts, intel objects or incident changes a playbook acts on.

Each trigger kind has its own table of conditions, each a key of ``trigger.conditions``
read into one small matcher. Every condition given must hold (AND); a list inside one
condition is any-of (OR)::

    conditions:
      severity: high            # at least high
      organisation: [KZ-CERT, KG-CERT]
      title: "*domain*"         # glob, case-insensitive

A matcher looks at the item's ``facts`` — what the playbook's organisation may know of
it (an alert's indicator labels only when it may see the indicator).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from typing import Any

from steppe.alerts.model import SEVERITIES
from steppe.response.playbooks.spec import Spec

__all__ = ["CONDITIONS", "Condition", "parse_conditions"]

_TLP = ("clear", "green", "amber", "amber+strict", "red")


class Condition:
    """One condition: a key of ``conditions`` and the test it makes on the facts."""

    def __init__(self, key: str, fact: str, describe: str) -> None:
        self.key = key
        self.fact = fact
        self.describe = describe

    def matches(self, facts: Mapping[str, Any]) -> bool:
        raise NotImplementedError


class OneOf(Condition):
    def __init__(self, key: str, fact: str, values: tuple[str, ...]) -> None:
        super().__init__(key, fact, f"{key} is one of {', '.join(values)}")
        self.values = frozenset(v.lower() for v in values)

    def matches(self, facts: Mapping[str, Any]) -> bool:
        value = facts.get(self.fact)
        return value is not None and str(value).lower() in self.values


class AnyOf(Condition):
    """The fact is a set (labels, observable types); one listed value is enough."""

    def __init__(self, key: str, fact: str, values: tuple[str, ...]) -> None:
        super().__init__(key, fact, f"{key} include one of {', '.join(values)}")
        self.values = frozenset(v.lower() for v in values)

    def matches(self, facts: Mapping[str, Any]) -> bool:
        have = {str(v).lower() for v in facts.get(self.fact) or ()}
        return bool(have & self.values)


class Glob(Condition):
    def __init__(self, key: str, fact: str, patterns: tuple[str, ...]) -> None:
        super().__init__(key, fact, f"{key} matches {', '.join(patterns)}")
        self.patterns = tuple(p.lower() for p in patterns)

    def matches(self, facts: Mapping[str, Any]) -> bool:
        value = facts.get(self.fact)
        if value is None:
            return False
        text = str(value).lower()
        return any(fnmatch.fnmatchcase(text, p) for p in self.patterns)


class AtLeastLevel(Condition):
    def __init__(self, key: str, fact: str, level: str, order: tuple[str, ...]) -> None:
        super().__init__(key, fact, f"{key} at least {level}")
        self.order = order
        self.minimum = order.index(level)

    def matches(self, facts: Mapping[str, Any]) -> bool:
        value = facts.get(self.fact)
        return value in self.order and self.order.index(value) >= self.minimum


class AtLeast(Condition):
    def __init__(self, key: str, fact: str, minimum: float) -> None:
        super().__init__(key, fact, f"{key} at least {minimum:g}")
        self.minimum = minimum

    def matches(self, facts: Mapping[str, Any]) -> bool:
        value = facts.get(self.fact)
        return isinstance(value, int | float) and value >= self.minimum


Reader = Callable[[Spec, str], Condition]


def _one_of(fact: str, allowed: tuple[str, ...] | None = None) -> Reader:
    def read(spec: Spec, key: str) -> Condition:
        values = spec.texts(key)
        if not values:
            raise spec.error(key, "needs at least one value")
        if allowed is not None:
            for value in values:
                if value.lower() not in allowed:
                    raise spec.error(key, f"{value!r} is not one of {', '.join(allowed)}")
        return OneOf(key, fact, values)

    return read


def _any_of(fact: str) -> Reader:
    def read(spec: Spec, key: str) -> Condition:
        values = spec.texts(key)
        if not values:
            raise spec.error(key, "needs at least one value")
        return AnyOf(key, fact, values)

    return read


def _glob(fact: str) -> Reader:
    def read(spec: Spec, key: str) -> Condition:
        patterns = spec.texts(key)
        if not patterns:
            raise spec.error(key, "needs at least one pattern")
        return Glob(key, fact, patterns)

    return read


def _level(fact: str, order: tuple[str, ...]) -> Reader:
    def read(spec: Spec, key: str) -> Condition:
        level = spec.choice(key, order)
        assert level is not None
        return AtLeastLevel(key, fact, level, order)

    return read


def _minimum(fact: str, top: float) -> Reader:
    def read(spec: Spec, key: str) -> Condition:
        value = spec.number(key, minimum=0, maximum=top)
        assert value is not None
        return AtLeast(key, fact, value)

    return read


#: Per trigger kind: condition key → how it is read (and a line for the docs).
CONDITIONS: dict[str, dict[str, Reader]] = {
    "alert": {
        "severity": _level("severity", SEVERITIES),
        "kind": _one_of("kind", ("ioc", "sigma")),
        "rule": _glob("rule_id"),
        "title": _glob("title"),
        "organisation": _one_of("organisation"),
        "match_type": _one_of("match_type"),
        "field": _one_of("field"),
        "observed": _glob("observed"),
        "indicator_labels": _any_of("labels"),
        "indicator_tlp": _one_of("tlp", _TLP),
        "score": _minimum("score", 100),
    },
    "intel": {
        "type": _one_of("type"),
        "labels": _any_of("labels"),
        "tlp": _one_of("tlp", _TLP),
        "score": _minimum("score", 100),
        "confidence": _minimum("confidence", 100),
        "organisation": _one_of("organisation"),
        "name": _glob("name"),
        "observable_type": _any_of("observable_types"),
    },
    "incident-status": {
        "status": _one_of("status"),
        "previous": _one_of("previous"),
        "severity": _level("severity", SEVERITIES),
        "title": _glob("title"),
    },
}


def parse_conditions(spec: Spec | None, trigger: str) -> tuple[Condition, ...]:
    """The conditions of a ``trigger`` of kind ``trigger`` (none: every item)."""
    if spec is None:
        return ()
    readers = CONDITIONS[trigger]
    spec.only(readers)
    return tuple(readers[key](spec, key) for key in spec.values if key in spec)
