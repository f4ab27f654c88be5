"""Rules compiled for one kind of event: constant folding, closures and a shared
literal prefilter.

A :class:`Plan` holds the rules that apply to one *route* (say Sysmon EventID 1, or
Zeek ``dns``). Compiling for a route lets the fields that the route fixes (``EventID``,
``Channel``) fold to constants, so a Security rule on EventID 4624 vanishes from the
plan for 4688 instead of being tested on every event.

Each rule gets a *trigger set*: (field, text) pairs such that the rule can only match
if one of the texts occurs in the lower-cased field. ``a and b`` takes the cheaper of
its sides' sets (long texts are rare, short ones common), ``a or b`` the union of both,
``not a`` none at all. The texts of all rules go into one Aho-Corasick automaton per
field (pyahocorasick); an event runs each field it has through its automaton once, and
only the rules whose trigger fired — plus the few with no trigger set — are evaluated
exactly. Measured on the SigmaHQ Windows rules, this leaves a handful of candidate
rules per event out of the ~1,400 process-creation ones (see docs/benchmarks.md).

    >>> from steppe.detection.sigma.ir import And, Match, Not
    >>> tree = And((Match("Image", "endswith", ("\\\\whoami.exe",)),
    ...             Not(Match("User", "contains", ("system",)))))
    >>> plan = Plan([(0, tree, {})], constants={})
    >>> plan.match({"Image": "C:\\\\Windows\\\\whoami.exe", "User": "CORP\\\\ann"})
    [0]
    >>> plan.match({"Image": "C:\\\\Windows\\\\cmd.exe"}), plan.stats()["always"]
    ([], 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import ahocorasick

from steppe.detection.sigma.ir import (
    And,
    Const,
    FieldRef,
    Match,
    Node,
    Not,
    Or,
    Regex,
)
from steppe.detection.sigma.predicates import EventView, Test, leaf_test

__all__ = ["Plan"]

Trigger = tuple[str | None, str]
_second = itemgetter(1)
_Compiled = tuple[Test, tuple[Trigger, ...] | None]


def _cost(triggers: tuple[Trigger, ...]) -> float:
    # A short text fires often; a long one rarely. 1/len² ranks them well enough.
    return sum(1.0 / (len(text) ** 2) for _, text in triggers)


class _Compiler:
    def __init__(self, translate: dict[str, str], constants: dict[str, Any]) -> None:
        self.translate = translate
        self.constants = constants
        self.constant_view = EventView(constants)

    def field(self, name: str | None) -> str | None:
        return None if name is None else self.translate.get(name, name)

    def node(self, node: Node) -> _Compiled | bool:
        if isinstance(node, Const):
            return node.value
        if isinstance(node, And):
            return self.all_of(node.items)
        if isinstance(node, Or):
            return self.any_of(node.items)
        if isinstance(node, Not):
            inner = self.node(node.item)
            if isinstance(inner, bool):
                return not inner
            test = inner[0]
            return (lambda view: not test(view)), None
        return self.leaf(node)

    def leaf(self, node: Node) -> _Compiled | bool:
        fields: list[str | None] = [self.field(getattr(node, "field", None))]
        if isinstance(node, FieldRef):
            other = self.field(node.other)
            assert other is not None
            node = FieldRef(fields[0] or "", other, node.starts, node.ends)
            fields.append(other)
        elif fields[0] != getattr(node, "field", None):
            node = _with_field(node, fields[0])
        test = leaf_test(node)  # type: ignore[arg-type]
        if fields[0] is not None and all(f in self.constants for f in fields):
            return test(self.constant_view)
        return test, _triggers(node)

    def all_of(self, items: Sequence[Node]) -> _Compiled | bool:
        parts: list[_Compiled] = []
        for item in items:
            got = self.node(item)
            if got is False:
                return False
            if got is not True:
                parts.append(got)
        if not parts:
            return True
        best: tuple[Trigger, ...] | None = None
        for _, triggers in parts:
            if triggers is not None and (best is None or _cost(triggers) < _cost(best)):
                best = triggers
        tests = [p[0] for p in parts]
        if len(tests) == 1:
            return tests[0], best
        if len(tests) == 2:
            a, b = tests
            return (lambda view: a(view) and b(view)), best
        return (lambda view: all(t(view) for t in tests)), best

    def any_of(self, items: Sequence[Node]) -> _Compiled | bool:
        parts: list[_Compiled] = []
        for item in items:
            got = self.node(item)
            if got is True:
                return True
            if got is not False:
                parts.append(got)
        if not parts:
            return False
        union: list[Trigger] | None = []
        for _, triggers in parts:
            if triggers is None or union is None:
                union = None
            else:
                union.extend(triggers)
        tests = [p[0] for p in parts]
        found = tuple(dict.fromkeys(union)) if union is not None else None
        if len(tests) == 1:
            return tests[0], found
        if len(tests) == 2:
            a, b = tests
            return (lambda view: a(view) or b(view)), found
        return (lambda view: any(t(view) for t in tests)), found


def _with_field(node: Node, field: str | None) -> Node:
    values = {name: getattr(node, name) for name in node.__slots__}
    values["field"] = field
    return type(node)(**values)


def _triggers(node: Node) -> tuple[Trigger, ...] | None:
    if isinstance(node, Regex):
        return ((node.field, node.hint),) if node.hint else None
    if not isinstance(node, Match):
        return None
    field = node.field
    if node.kind in ("glob", "search"):
        texts: tuple[str, ...] = (node.hint,)
    elif node.kind == "any":
        return None
    elif node.all:
        texts = (max(node.values, key=len),)
    else:
        texts = node.values
    if node.cased:
        texts = tuple(t.lower() for t in texts)
    if not texts or any(not t for t in texts):
        return None
    return tuple((field, t) for t in texts)


class Plan:
    """The rules of one route, ready to run. ``rules`` are (number, tree, field
    translation); :meth:`match` returns the numbers of the rules an event matches, in
    the order given."""

    def __init__(
        self, rules: Sequence[tuple[int, Node, dict[str, str]]], constants: dict[str, Any]
    ) -> None:
        self.tests: dict[int, Test] = {}
        self.always: list[int] = []
        by_field: dict[str | None, dict[str, set[int]]] = {}
        self.folded = 0
        for number, tree, translate in rules:
            got = _Compiler(translate, constants).node(tree)
            if got is False:
                self.folded += 1
                continue
            if got is True:
                self.tests[number] = lambda view: True
                self.always.append(number)
                continue
            test, triggers = got
            self.tests[number] = test
            if triggers is None:
                self.always.append(number)
                continue
            for field, text in triggers:
                by_field.setdefault(field, {}).setdefault(text, set()).add(number)
        self.order = {number: i for i, (number, _, _) in enumerate(rules)}
        self.scans: list[tuple[str | None, Any]] = []
        self.rules_of: list[tuple[int, ...]] = []  # text number → rules it triggers
        for field, texts in by_field.items():
            automaton = ahocorasick.Automaton()
            for text, numbers in texts.items():
                automaton.add_word(text, len(self.rules_of))
                self.rules_of.append(tuple(numbers))
            automaton.make_automaton()
            self.scans.append((field, automaton.iter))
        self.literals = sum(len(texts) for texts in by_field.values())

    def candidates(self, view: EventView) -> set[int]:
        """Rules whose trigger fired on this event (the prefilter alone)."""
        # Texts such as "\\" occur many times in a value: collect the distinct texts
        # found first (a C-level set of ints), then their rules once each.
        fired: set[int] = set()
        for field, scan in self.scans:
            value = view[field]
            if value is None:
                continue
            if value.__class__ is str:
                fired.update(map(_second, scan(value)))
            else:
                for item in value:
                    fired.update(map(_second, scan(item)))
        found: set[int] = set()
        rules = self.rules_of
        for text in fired:
            found.update(rules[text])
        return found

    def match_view(self, view: EventView) -> list[int]:
        tests = self.tests
        hits = [n for n in self.always if tests[n](view)]
        hits.extend(n for n in self.candidates(view) if tests[n](view))
        if len(hits) > 1:
            order = self.order
            hits.sort(key=order.__getitem__)
        return hits

    def match(self, doc: dict[str, Any]) -> list[int]:
        return self.match_view(EventView(doc))

    def stats(self) -> dict[str, int]:
        return {
            "rules": len(self.tests),
            "folded": self.folded,
            "always": len(self.always),
            "fields": len(self.scans),
            "literals": self.literals,
        }
