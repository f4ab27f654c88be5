"""A Sigma rule's condition as a small tree our compiler reads: the rule's meaning with
pySigma's parsing done and its types resolved.

pySigma reads the rule and applies the value modifiers (``contains``, ``windash``, ``base64offset``, ``utf16`` …,
which expand into plain strings). What is left is ``And``/``Or``/``Not`` over leaves:

- :class:`Match` — a (case-insensitive unless ``cased``) string test: ``eq``,
  ``contains``, ``startswith``, ``endswith``, ``glob`` (general wildcards, kept as a
  regular expression), ``any`` (a lone ``*``); with several values ORed, or ANDed for
  ``|all``. Numbers and booleans compare as their text, as Sigma backends do.
- :class:`Null`, :class:`Exists`, :class:`Regex`, :class:`Cidr`, :class:`Compare`,
  :class:`FieldRef`, :class:`TimePart` — the other modifiers.

``field`` None is a keyword (matched against every value of the event).

    >>> from sigma.rule import SigmaRule
    >>> rule = SigmaRule.from_dict({"title": "t", "logsource": {"product": "windows"},
    ...     "detection": {"sel": {"CommandLine|contains|all": ["-enc", "JAB"]},
    ...                   "filter": {"Image|endswith": [".exe", ".com"]},
    ...                   "condition": "sel and not filter"}})
    >>> rule_tree(rule)
    And(items=(Match(field='CommandLine', kind='contains', values=('-enc', 'jab'), cased=False, all=True), Not(item=Match(field='Image', kind='endswith', values=('.exe', '.com'), cased=False, all=False))))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

__all__ = [
    "And",
    "Cidr",
    "Compare",
    "Const",
    "Exists",
    "FieldRef",
    "Match",
    "Node",
    "Not",
    "Null",
    "Or",
    "Regex",
    "TimePart",
    "Unsupported",
    "rule_tree",
]


class Unsupported(Exception):
    """A rule uses something this engine cannot evaluate; the message says what."""


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class Match:
    field: str | None
    kind: str  # eq, contains, startswith, endswith, glob, search (keywords), any
    values: tuple[str, ...]  # lower case unless cased; a regex source for glob
    cased: bool = False
    all: bool = False  # every value must match (|all) rather than one
    hint: str = dc_field(default="", repr=False)  # glob only: the longest text a match must contain


@dataclass(frozen=True, slots=True)
class Null:
    field: str


@dataclass(frozen=True, slots=True)
class Exists:
    field: str
    exists: bool


@dataclass(frozen=True, slots=True)
class Regex:
    field: str | None
    pattern: str
    flags: int
    hint: str = dc_field(default="", repr=False)  # text every match contains (lower case)


@dataclass(frozen=True, slots=True)
class Cidr:
    field: str | None
    network: IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: str  # lt, lte, gt, gte
    number: float


@dataclass(frozen=True, slots=True)
class FieldRef:
    field: str
    other: str
    starts: bool  # the value must start with the other field's (wildcard after)
    ends: bool


@dataclass(frozen=True, slots=True)
class TimePart:
    field: str
    part: str  # minute, hour, day, week, month, year
    number: int


Node = And | Or | Not | Const | Match | Null | Exists | Regex | Cidr | Compare | FieldRef | TimePart

_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
_OPS = {
    CompareOperators.LT: "lt",
    CompareOperators.LTE: "lte",
    CompareOperators.GT: "gt",
    CompareOperators.GTE: "gte",
}


def rule_tree(rule: SigmaRule) -> Node:
    """The condition tree of a rule (several conditions are ORed). Raises
    :class:`Unsupported` when it cannot be built.

    The condition string is parsed here rather than by pySigma's pyparsing grammar,
    which took a third of the load time of the SigmaHQ set; the grammar is the same
    (``and``, ``or``, ``not``, parentheses, ``1 of``/``any of``/``all of`` a pattern or
    ``them``), and the detections it names are pySigma's, modifiers applied.
    """
    detections = rule.detection.detections
    trees = [_Condition(text, detections).parse() for text in rule.detection.condition]
    return trees[0] if len(trees) == 1 else _merge(Or(tuple(trees)))


_TOKEN = re.compile(r"\(|\)|[^\s()]+")


class _Condition:
    def __init__(self, text: str, detections: dict[str, SigmaDetection]) -> None:
        if not isinstance(text, str):
            raise Unsupported(f"condition {text!r} is not text")
        if "|" in text:
            raise Unsupported("aggregations in conditions (the old '| count()' syntax)")
        self.tokens: list[str] = _TOKEN.findall(text)
        self.pos = 0
        self.text = text
        self.detections = detections

    def parse(self) -> Node:
        node = self.expr()
        if self.pos != len(self.tokens):
            raise Unsupported(f"condition {self.text!r}: unexpected {self.tokens[self.pos]!r}")
        return node

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise Unsupported(f"condition {self.text!r} ends too early")
        self.pos += 1
        return token

    def expr(self) -> Node:
        items = [self.conjunction()]
        while self.peek() == "or":
            self.pos += 1
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else _merge(Or(tuple(items)))

    def conjunction(self) -> Node:
        items = [self.negation()]
        while self.peek() == "and":
            self.pos += 1
            items.append(self.negation())
        return items[0] if len(items) == 1 else _merge(And(tuple(items)))

    def negation(self) -> Node:
        if self.peek() == "not":
            self.pos += 1
            return Not(self.negation())
        return self.atom()

    def atom(self) -> Node:
        token = self.take()
        if token == "(":
            node = self.expr()
            if self.take() != ")":
                raise Unsupported(f"condition {self.text!r}: unbalanced parentheses")
            return node
        if token in ("1", "any", "all") and self.peek() == "of":
            self.pos += 1
            return self.selector(token, self.take())
        if token in (")", "and", "or", "of"):
            raise Unsupported(f"condition {self.text!r}: unexpected {token!r}")
        detection = self.detections.get(token)
        if detection is None:
            raise Unsupported(f"detection {token!r} is not defined")
        return _detection(detection)

    def selector(self, quantifier: str, pattern: str) -> Node:
        if pattern == "them":
            names = [n for n in self.detections if not n.startswith("_")]
        else:
            regex = re.compile(re.escape(pattern).replace(r"\*", ".*"))
            names = [
                n
                for n in self.detections
                if regex.fullmatch(n) and (pattern.startswith("_") or not n.startswith("_"))
            ]
        if not names:
            raise Unsupported(f"'{quantifier} of {pattern}' matches no detection")
        items = tuple(_detection(self.detections[n]) for n in names)
        if len(items) == 1:
            return items[0]
        return _merge(And(items) if quantifier == "all" else Or(items))


def _detection(detection: SigmaDetection) -> Node:
    items: list[Node] = []
    for item in detection.detection_items:
        items.append(_detection(item) if isinstance(item, SigmaDetection) else _item(item))
    if len(items) == 1:
        return items[0]
    linked = tuple(items)
    return _merge(And(linked) if detection.item_linking is ConditionAND else Or(linked))


def _item(item: SigmaDetectionItem) -> Node:
    if not item.value:
        if item.field is None:
            raise Unsupported("a null value must be bound to a field")
        node: Node = Null(item.field)
    else:
        leaves = tuple(_leaf(item.field, v) for v in item.value)
        if len(leaves) == 1:
            node = leaves[0]
        else:
            node = _merge(And(leaves) if item.value_linking is ConditionAND else Or(leaves))
    return Not(node) if item.negated else node


def _merge(node: And | Or) -> Node:
    """Flatten nested And/Or and join same-field string tests of one kind into one leaf
    (a list of values), which the compiler turns into one C-level test."""
    kind = type(node)
    flat: list[Node] = []
    for item in node.items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    want_all = kind is And
    groups: dict[tuple[str | None, str, bool], list[str]] = {}
    rest: list[Node] = []
    for item in flat:
        if (
            isinstance(item, Match)
            and item.kind in ("eq", "contains", "startswith", "endswith")
            and (len(item.values) == 1 or item.all == want_all)
        ):
            groups.setdefault((item.field, item.kind, item.cased), []).extend(item.values)
        else:
            rest.append(item)
    items: list[Node] = [
        Match(f, k, tuple(dict.fromkeys(vals)), cased, want_all and len(vals) > 1)
        for (f, k, cased), vals in groups.items()
    ]
    items.extend(rest)
    return items[0] if len(items) == 1 else kind(tuple(items))


def _leaf(field: str | None, value: Any) -> Node:
    if isinstance(value, SigmaExpansion):
        return _merge(Or(tuple(_leaf(field, v) for v in value.values)))
    if isinstance(value, SigmaString):  # includes SigmaCasedString
        return _string(field, value, isinstance(value, SigmaCasedString))
    if isinstance(value, SigmaTimestampPart):
        if field is None:
            raise Unsupported("a time-part modifier needs a field")
        return TimePart(field, value.timestamp_part.name.lower(), int(value.number))
    if isinstance(value, SigmaBool):
        return Match(field, "eq", ("true" if value.boolean else "false",))
    if isinstance(value, SigmaNumber):
        return Match(field, "eq", (str(value.number).lower(),))
    if isinstance(value, SigmaNull):
        if field is None:
            raise Unsupported("null without a field")
        return Null(field)
    if isinstance(value, SigmaExists):
        if field is None:
            raise Unsupported("exists without a field")
        return Exists(field, bool(value.exists))
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= _RE_FLAGS[flag]
        pattern = str(value.regexp)
        try:
            re.compile(pattern, flags)
        except re.error as exc:
            raise Unsupported(f"regular expression {pattern!r}: {exc}") from exc
        return Regex(field, pattern, flags, _regex_hint(pattern, flags))
    if isinstance(value, SigmaCIDRExpression):
        return Cidr(field, value.network)
    if isinstance(value, SigmaCompareExpression):
        if field is None:
            raise Unsupported("a comparison needs a field")
        if value.op not in _OPS:
            raise Unsupported(f"comparison {value.op.name}")
        return Compare(field, _OPS[value.op], float(value.number.number))
    if isinstance(value, SigmaFieldReference):
        if field is None:
            raise Unsupported("fieldref needs a field")
        return FieldRef(field, value.field, value.starts_with, value.ends_with)
    raise Unsupported(f"value type {type(value).__name__}")


def _string(field: str | None, value: SigmaString, cased: bool) -> Node:
    parts: list[str | SpecialChars] = []
    for part in value.s:
        if isinstance(part, str):
            parts.append(part if cased else part.lower())
        elif isinstance(part, SpecialChars):
            parts.append(part)
        else:
            raise Unsupported(
                f"placeholder %{part.name}% (expand modifier) has no value without a pipeline"
            )
    # Adjacent text parts (from modifiers) join; runs of * collapse.
    norm: list[str | SpecialChars] = []
    for part in parts:
        if norm and isinstance(part, str) and isinstance(norm[-1], str):
            norm[-1] = norm[-1] + part
        elif not (part is SpecialChars.WILDCARD_MULTI and norm and norm[-1] is part):
            norm.append(part)
    multi = SpecialChars.WILDCARD_MULTI
    texts = [p for p in norm if isinstance(p, str)]
    if field is None:
        return _keyword(norm, texts, cased)
    if not norm:
        return Match(field, "eq", ("",), cased)
    if len(texts) == len(norm):
        return Match(field, "eq", (texts[0],), cased)
    if norm == [multi]:
        return Match(field, "any", (), cased)
    if SpecialChars.WILDCARD_SINGLE not in norm and len(texts) == 1:
        if norm == [multi, texts[0], multi]:
            return Match(field, "contains", (texts[0],), cased)
        if norm == [texts[0], multi]:
            return Match(field, "startswith", (texts[0],), cased)
        if norm == [multi, texts[0]]:
            return Match(field, "endswith", (texts[0],), cased)
    regex = "".join(
        re.escape(p) if isinstance(p, str) else (".*" if p is multi else ".") for p in norm
    )
    return Match(field, "glob", (regex,), cased, hint=max(texts, key=len, default=""))


def _keyword(norm: list[str | SpecialChars], texts: list[str], cased: bool) -> Node:
    """Keywords search the whole event: a value *containing* the text matches. The
    engine offers an event's values as one text joined by NULs, so inner wildcards
    must not cross a NUL."""
    multi = SpecialChars.WILDCARD_MULTI
    while norm and norm[0] is multi:
        norm = norm[1:]
    while norm and norm[-1] is multi:
        norm = norm[:-1]
    if not norm:
        return Match(None, "any", (), cased)
    if len(norm) == 1 and isinstance(norm[0], str):
        return Match(None, "contains", (norm[0],), cased)
    regex = "".join(
        re.escape(p) if isinstance(p, str) else ("[^\\x00]*" if p is multi else "[^\\x00]")
        for p in norm
    )
    return Match(None, "search", (regex,), cased, hint=max(texts, key=len, default=""))


# Under re.IGNORECASE these letters also match characters that str.lower() does not
# map to them (long s, the Kelvin sign, dotless and dotted i), so a hint avoids them.
_FOLD_SPECIAL = re.compile("[ski]")


def _regex_hint(pattern: str, flags: int) -> str:
    """The longest run of plain characters at the top level of a regex: every match
    contains it, so it can trigger the rule in the prefilter."""
    try:
        parsed = re._parser.parse(pattern, flags)  # type: ignore[attr-defined]
    except (re.error, AttributeError, RecursionError):
        return ""
    best, run = "", []
    for op, arg in [*parsed, (None, None)]:
        if op is re._constants.LITERAL:  # type: ignore[attr-defined]
            run.append(chr(arg))
            continue
        if len(run) > len(best):
            best = "".join(run)
        run = []
    best = best.lower()
    if flags & re.IGNORECASE or pattern.startswith("(?i"):
        best = max(_FOLD_SPECIAL.split(best), key=len)
    return best
