"""Leaf tests as closures over an :class:`EventView`, the hot path of the engine.

An :class:`EventView` wraps one event's flat document (Sigma field name → value) and
hands out each field's *lower-cased text* the first time a rule asks, then from a dict:
many rules test ``CommandLine``, it is lowered once. Values are ``None`` (absent), a
``str``, or a ``tuple`` of ``str`` for multi-valued fields (Zeek sets, EVE lists), which
match when any element does. Numbers and booleans become their text (``4688``,
``true``): Sigma compares values as text.

Case-insensitive tests lower both sides (the IR holds lower-cased values), so a
substring of a pattern is always a substring of a matching value — what lets the
prefilter (``plan.py``) skip rules safely.

    >>> view = EventView({"Image": "C:\\\\Windows\\\\System32\\\\CMD.exe", "EventID": 1})
    >>> test = leaf_test(Match("Image", "endswith", ("\\\\cmd.exe", "\\\\pwsh.exe")))
    >>> test(view), leaf_test(Match("EventID", "eq", ("1",)))(view)
    (True, True)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import ahocorasick

from steppe.detection.sigma.ir import (
    Cidr,
    Compare,
    Exists,
    FieldRef,
    Match,
    Null,
    Regex,
    TimePart,
)

__all__ = ["EventView", "Test", "leaf_test", "text_of"]

Test = Callable[["EventView"], bool]
Lowered = str | tuple[str, ...] | None


def text_of(value: Any) -> str | tuple[str, ...] | None:
    """The text Sigma compares: str as is, numbers and booleans as text, lists as tuples."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for item in value:
            text = text_of(item)
            if isinstance(text, str):
                out.append(text)
            elif text is not None:
                out.extend(text)
        return tuple(out)
    return None  # nested objects are flattened by the document builders


def _lower(value: Any) -> Lowered:
    if value.__class__ is str:
        return value.lower()
    text = text_of(value)
    if text is None or isinstance(text, str):
        return text if text is None else text.lower()
    return tuple(t.lower() for t in text)


class EventView(dict[str | None, Lowered]):
    """Lower-cased field text of one document, computed on first use. ``view[None]``
    is every value of the document joined by NULs (what keywords search)."""

    __slots__ = ("doc",)

    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__()
        self.doc = doc

    def __missing__(self, key: str | None) -> Lowered:
        if key is None:
            lowered: Lowered = _every(self.doc, True)
        else:
            value = self.doc.get(key)
            lowered = value.lower() if value.__class__ is str else _lower(value)
        self[key] = lowered
        return lowered

    def original(self, key: str | None) -> str | tuple[str, ...] | None:
        """The text of a field without lowering (for ``cased``, ``re``, ``cidr`` …)."""
        if key is None:
            return _every(self.doc, False)
        return text_of(self.doc.get(key))


def _every(doc: dict[str, Any], lower: bool) -> str:
    # One text for all values, joined by NULs: one scan and one lower() per event. Values
    # become text as str() has them (a list as "['a', 'b']"): keywords are substrings.
    joined = "\x00".join(map(str, [v for v in doc.values() if v is not None]))
    return joined.lower() if lower else joined


def _on_text(field: str | None, check: Callable[[str], bool], cased: bool) -> Test:
    """A test of every string value of a field (any element of a multi-value)."""
    if cased:

        def cased_test(view: EventView) -> bool:
            value = view.original(field)
            if value.__class__ is str:
                return check(value)
            return value is not None and any(check(v) for v in value)

        return cased_test

    def test(view: EventView) -> bool:
        value = view[field]
        if value.__class__ is str:
            return check(value)
        return value is not None and any(check(v) for v in value)

    return test


def _contains_one(field: str | None, needle: str) -> Test:
    # The most common leaf in SigmaHQ, so written out without an inner call.
    def test(view: EventView) -> bool:
        value = view[field]
        if value.__class__ is str:
            return needle in value
        return value is not None and any(needle in v for v in value)

    return test


def _string_check(node: Match) -> Callable[[str], bool]:
    values = node.values
    kind = node.kind
    if kind == "any":
        return lambda v: True
    if kind == "glob":
        pattern = re.compile(values[0], re.DOTALL)
        return lambda v: pattern.fullmatch(v) is not None
    if kind == "search":
        found = re.compile(values[0], re.DOTALL).search
        return lambda v: found(v) is not None
    if node.all:
        if kind == "eq":
            return lambda v: all(v == x for x in values)
        if kind == "contains":
            return lambda v: all(x in v for x in values)
        if kind == "startswith":
            return lambda v: all(v.startswith(x) for x in values)
        return lambda v: all(v.endswith(x) for x in values)
    if kind == "eq":
        if len(values) == 1:
            only = values[0]
            return lambda v: v == only
        choices = frozenset(values)
        return lambda v: v in choices
    if kind == "startswith":
        return lambda v: v.startswith(values)
    if kind == "endswith":
        return lambda v: v.endswith(values)
    if len(values) <= 3:
        return lambda v: any(x in v for x in values)
    # Many alternatives: a small Aho-Corasick automaton runs the loop in C, and builds
    # far faster than the equivalent regex alternation (Python's re parser was most of
    # the compile time of the SigmaHQ set).
    automaton = ahocorasick.Automaton()
    for x in values:
        automaton.add_word(x, None)
    automaton.make_automaton()
    scan = automaton.iter
    return lambda v: next(scan(v), None) is not None


@lru_cache(maxsize=65536)
def _ip(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        try:
            return float(int(text, 0))
        except ValueError:
            return None


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def _time_part(text: str, part: str) -> int | None:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    if part == "week":
        return when.isocalendar().week
    return int(getattr(when, part))


def leaf_test(node: Match | Null | Exists | Regex | Cidr | Compare | FieldRef | TimePart) -> Test:
    """The closure testing one leaf against an :class:`EventView`."""
    if isinstance(node, Match):
        if node.kind == "contains" and len(node.values) == 1 and not node.cased:
            return _contains_one(node.field, node.values[0])
        return _on_text(node.field, _string_check(node), node.cased)
    if isinstance(node, Null):
        name = node.field
        return lambda view: view.doc.get(name) is None
    if isinstance(node, Exists):
        name, want = node.field, node.exists
        return lambda view: (view.doc.get(name) is not None) is want
    if isinstance(node, Regex):
        search = re.compile(node.pattern, node.flags).search
        if node.field is None:  # keywords: each value on its own, not the joined text
            return _on_text(
                None, lambda v: any(search(x) is not None for x in v.split("\x00")), True
            )
        return _on_text(node.field, lambda v: search(v) is not None, True)
    if isinstance(node, Cidr):
        network = node.network

        def in_network(text: str) -> bool:
            address = _ip(text)
            return (
                address is not None and address.version == network.version and (address in network)
            )

        return _on_text(node.field, in_network, True)
    if isinstance(node, Compare):
        compare, bound = _COMPARE[node.op], node.number

        def numeric(text: str) -> bool:
            number = _number(text)
            return number is not None and compare(number, bound)

        return _on_text(node.field, numeric, True)
    if isinstance(node, FieldRef):
        return _field_ref(node)
    part, number = node.part, node.number
    return _on_text(node.field, lambda text: _time_part(text, part) == number, True)


def _field_ref(node: FieldRef) -> Test:
    field, other, starts, ends = node.field, node.other, node.starts, node.ends

    def test(view: EventView) -> bool:
        value, ref = view[field], view[other]
        if not isinstance(ref, str) or value is None:
            return False
        values = (value,) if isinstance(value, str) else value
        for v in values:
            if starts and ends:
                ok = ref in v
            elif starts:
                ok = v.startswith(ref)
            elif ends:
                ok = v.endswith(ref)
            else:
                ok = v == ref
            if ok:
                return True
        return False

    return test
