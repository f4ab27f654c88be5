"""STIX 2.1 indicator patterns → the observables Steppe can match on.

An indicator's pattern is stored whatever it says, but only a pattern that is "any of
these values" can be matched by looking observables up. :func:`parse_pattern` says
which kind a pattern is, and lists its observables in canonical form::

    >>> p = parse_pattern("[ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'X.ORG']")
    >>> p.matchable, [(str(o.type), o.value) for o in p.observables]
    (True, [('ipv4', '198.51.100.7'), ('domain', 'x.org')])

A pattern that needs more than one lookup to decide (AND, FOLLOWEDBY, qualifiers, an
operator other than ``=``/``IN``, a property with no observable type) is valid but not
matchable; ``reason`` says the first thing that stood in the way, read outside-in and
left to right::

    >>> parse_pattern("[file:name = 'a.exe' AND file:size = 4096]")
    ParsedPattern(observables=(), matchable=False, reason='AND of two comparisons')

So is a valid pattern whose literal is not a valid value of its observable type::

    >>> print(parse_pattern("[ipv4-addr:value = '999.0.0.1']").reason)
    object path ipv4-addr:value: '999.0.0.1' is not a valid IPv4 address: octet 999 (> 255) ...

Text that is not STIX 2.1 pattern syntax raises :class:`~steppe.errors.InvalidPattern`::

    >>> parse_pattern("[ipv4-addr:value = '198.51.100.7'")
    Traceback (most recent call last):
    ...
    steppe.errors.InvalidPattern: invalid STIX pattern: 1:33: mismatched input '<EOF>' expecting ']'
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final, NamedTuple

from stix2patterns.exceptions import ParseException
from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser as _P
from stix2patterns.v21.pattern import Pattern

from steppe.errors import InvalidObservable, InvalidPattern
from steppe.intel.observables import ObservableType, canonicalise

__all__ = ["ParsedPattern", "PatternObservable", "parse_pattern"]


# Named tuples rather than frozen dataclasses: one of each is built for every imported
# indicator, and a frozen dataclass's __init__ (object.__setattr__ per field) took
# ~1.6 µs of the ~5 µs a simple pattern cost (timeit); a named tuple ~0.4 µs.


class PatternObservable(NamedTuple):
    """One value a pattern looks for: ``type`` and its canonical ``value``."""

    type: ObservableType
    value: str


class ParsedPattern(NamedTuple):
    """What :func:`parse_pattern` found in a pattern.

    ``matchable`` is True when a hit on ANY of ``observables`` means the pattern
    matches; then ``reason`` is None. Otherwise ``observables`` is empty and ``reason``
    says why the pattern cannot be matched by lookup.
    """

    observables: tuple[PatternObservable, ...]
    matchable: bool
    reason: str | None


def parse_pattern(pattern: str) -> ParsedPattern:
    """Parse a STIX 2.1 pattern into the observables it matches.

    Raise InvalidPattern(message) when the pattern is not valid STIX 2.1 pattern syntax.

    >>> parse_pattern("[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']").observables[0]
    PatternObservable(type=<ObservableType.MD5: 'md5'>, value='d41d8cd98f00b204e9800998ecf8427e')
    >>> parse_pattern("[network-traffic:dst_port = 443]").reason
    'object path network-traffic:dst_port has no observable type'
    """
    parsed = _parse_common(pattern)
    if parsed is None:
        parsed = _parse_fast(pattern)
        if parsed is None:
            parsed = _parse_with_stix2patterns(pattern)
    return parsed


# --------------------------------------------------------------------------- shared rules


class _NotMatchable(Exception):
    """Internal: carries the reason a (valid) pattern cannot be matched by lookup."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Object paths (object type, property path) whose values are observables. File hashes
# are handled apart, since feeds spell the hash name several ways ('SHA-256', SHA256,
# sha256, …).
_PATH_TYPES: Final[dict[tuple[str, tuple[str, ...]], ObservableType]] = {
    ("ipv4-addr", ("value",)): ObservableType.IPV4,
    ("ipv6-addr", ("value",)): ObservableType.IPV6,
    ("domain-name", ("value",)): ObservableType.DOMAIN,
    ("url", ("value",)): ObservableType.URL,
    ("email-addr", ("value",)): ObservableType.EMAIL,
    ("email-message", ("from_ref", "value")): ObservableType.EMAIL,
    ("email-message", ("sender_ref", "value")): ObservableType.EMAIL,
    ("file", ("name",)): ObservableType.FILENAME,
    ("autonomous-system", ("number",)): ObservableType.ASN,
}

# Hash name, upper-cased and without hyphens → observable type, and the hex length the
# stix2-patterns validator insists on for it.
_HASH_TYPES: Final[dict[str, tuple[ObservableType, int]]] = {
    "MD5": (ObservableType.MD5, 32),
    "SHA1": (ObservableType.SHA1, 40),
    "SHA256": (ObservableType.SHA256, 64),
}

# The keywords of the grammar: the lexer never reads these as identifiers.
_KEYWORDS: Final = frozenset(
    [
        "AND",
        "OR",
        "NOT",
        "FOLLOWEDBY",
        "LIKE",
        "MATCHES",
        "ISSUPERSET",
        "ISSUBSET",
        "EXISTS",
        "LAST",
        "IN",
        "START",
        "STOP",
        "SECONDS",
        "true",
        "false",
        "WITHIN",
        "REPEATS",
        "TIMES",
    ]
)
_BARE_KEY_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPE_RE: Final = re.compile(r"\\(['\\])")


def _unescape(body: str) -> str:
    """The value of a string literal from the text between its quotes.

    Inside a STIX string literal only ``\\\\`` and ``\\'`` are escapes (the grammar
    rejects any other backslash), so one left-to-right pass is exact.
    """
    return _ESCAPE_RE.sub(r"\1", body) if "\\" in body else body


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class _Index(NamedTuple):
    """An index step of an object path, as written: ``0``, ``-1``, ``+2`` or ``*``."""

    text: str


# A step of an object path: a key or an index.
_Step = str | _Index


def _render_path(obj_type: str, steps: list[_Step]) -> str:
    """Object path as text, spelled the same whichever way the pattern spelled it."""
    out = [obj_type, ":"]
    for i, step in enumerate(steps):
        if isinstance(step, _Index):
            out.append(f"[{step.text}]")
        else:
            if i:
                out.append(".")
            bare = _BARE_KEY_RE.fullmatch(step) and step not in _KEYWORDS
            out.append(step if bare else _quote(step))
    return _cut("".join(out))


_MAX_SHOWN: Final = 120


def _cut(text: str) -> str:
    """Text for a reason, cut short so a junk megabyte stays readable."""
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _path_type(obj_type: str, keys: tuple[str, ...]) -> ObservableType | None:
    """Observable type of an object path given as its keys (no index steps), or None."""
    if obj_type == "file" and len(keys) == 2 and keys[0] == "hashes":
        found = _HASH_TYPES.get(keys[1].upper().replace("-", ""))
        return found[0] if found else None
    return _PATH_TYPES.get((obj_type, keys))


# Address types → the prefix length that still means one address.
_HOST_PREFIX: Final[dict[ObservableType, str]] = {
    ObservableType.IPV4: "32",
    ObservableType.IPV6: "128",
}


def _observable(kind: ObservableType, value: str, path: str) -> PatternObservable:
    """Canonical observable of a literal, or _NotMatchable saying why it is not one."""
    try:
        host_prefix = _HOST_PREFIX.get(kind)
        if host_prefix is not None and "/" in value:
            # A network in an address object is stored as a CIDR; a /32 (/128) is the
            # address itself, which canonicalise handles.
            stripped = value.strip()
            if stripped.partition("/")[2] != host_prefix:
                network = canonicalise(ObservableType.CIDR, stripped)
                if (":" in network) != (host_prefix == "128"):
                    family = "IPv4" if ":" not in network else "IPv6"
                    raise _NotMatchable(
                        f"object path {path}: {_cut(repr(value))} is an {family} network"
                    )
                return PatternObservable(ObservableType.CIDR, network)
        return PatternObservable(kind, canonicalise(kind, value))
    except InvalidObservable as err:
        raise _NotMatchable(f"object path {path}: {err.message}") from None


def _result(observables: list[PatternObservable]) -> ParsedPattern:
    unique = tuple(observables) if len(observables) == 1 else tuple(dict.fromkeys(observables))
    return ParsedPattern(unique, True, None)


def _not_matchable(reason: str) -> ParsedPattern:
    return ParsedPattern((), False, reason)


# --------------------------------------------------------------------------- fast path
#
# Why a fast path: an import of 100,000 indicators must run at >= 50,000 indicators/s end
# to end, i.e. under 20 µs per indicator for everything. The ANTLR parser of
# stix2-patterns is far too slow for that. Measured (CPython 3.11, dev box, warm):
#
#                                          full parser          this fast path
#   [ipv4-addr:value = '198.51.100.7']     ~210 µs              ~3 µs
#   [file:hashes.'SHA-256' = '<64 hex>']   ~260 µs              ~3.5 µs
#   [url:value = 'http://…']               ~220 µs              ~5 µs
#   three comparisons ORed in one [...]    ~480 µs              ~10 µs
#   two [...] ORed                         ~480 µs              ~9 µs
#
# (full parser = _parse_with_stix2patterns: Pattern(p) alone is ~200 µs, .inspect() adds
# ~40 µs, run_validator() ~300 µs. Fast path figures include canonicalise, ~0.4 µs, and
# the regex, ~0.7 µs.) 100,000 distinct single-comparison patterns: ~0.35 s, i.e.
# ~280,000 patterns/s. Nearly every pattern in real feeds is "[type:path = 'literal']",
# perhaps with a few ORs; everything else, and anything the fast path is unsure of, goes
# to stix2-patterns. tests/intel/test_patterns.py checks that both paths agree.
#
# The fast grammar is a strict subset of the STIX 2.1 grammar (STIXPattern.g4):
#   pattern     := WS* obs (WS* "OR" WS* obs)* WS*
#   obs         := "[" WS* comparison (WS* "OR" WS+ comparison)* WS* "]"
#   comparison  := type ":" key ("." (key | quoted-key))* WS* ("=" | "==") WS* string
#   type        := [a-z][a-z0-9-]*          (STIX 2.1 type names; grammar allows more)
#   key         := [A-Za-z_][A-Za-z0-9_]*   (IdentifierWithoutHyphen, not a keyword)
#   quoted-key  := "'" [A-Za-z0-9_-]* "'"   (a StringLiteral with no escapes)
#   string      := "'" ([^'\\] | "\\'" | "\\\\")* "'"    (StringLiteral; the regex is
#                  the unrolled form, ~7x faster on a 64-hex-digit literal)
#   WS          := [ \t\r\n]                (a subset of the grammar's WS; no comments)
# "OR" needs whitespace after it inside a bracket, or the lexer would read "ORfile" as
# one identifier. Keywords and true/false are checked after the match (they lex as
# keyword tokens, not identifiers). Not handled here, so left to the full parser: a
# literal that canonicalise refuses (the full parser builds the reason), and any path
# with a "hashes" step other than a file MD5/SHA-1/SHA-256 with a hex literal of the
# right length (the stix2-patterns validator checks hash literals; we never accept
# what it would refuse).

_WS: Final = r"[ \t\r\n]"
_COMPARISON: Final = (
    r"([a-z][a-z0-9-]*):"
    r"([A-Za-z_][A-Za-z0-9_]*(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|'[A-Za-z0-9_-]*'))*)"
    rf"{_WS}*==?{_WS}*'([^'\\]*(?:\\['\\][^'\\]*)*)'"
)
_COMPARISON_RE: Final = re.compile(_COMPARISON)
_SINGLE_RE: Final = re.compile(rf"{_WS}*\[{_WS}*{_COMPARISON}{_WS}*\]{_WS}*")
_BARE_COMPARISON: Final = re.sub(r"\((?!\?)", "(?:", _COMPARISON)
_OBSERVATION: Final = rf"\[{_WS}*{_BARE_COMPARISON}(?:{_WS}*OR{_WS}+{_BARE_COMPARISON})*{_WS}*\]"
_MULTI_RE: Final = re.compile(rf"{_WS}*{_OBSERVATION}(?:{_WS}*OR{_WS}*{_OBSERVATION})*{_WS}*")
_HEX_RE: Final = re.compile(r"[0-9A-Fa-f]*")
_HASH_LENGTHS: Final[dict[ObservableType, int]] = dict(_HASH_TYPES.values())


def _fast_path_info(obj_type: str, path: str) -> tuple[ObservableType | None, str] | None:
    """(observable type or None, path as text) of a path the fast regex matched.

    None when the fast path must decline: a keyword where the grammar needs an
    identifier, or a "hashes" step that is not a file MD5/SHA-1/SHA-256.
    """
    if len(obj_type) + len(path) > _MAX_CACHED_PATH:
        return _path_info(obj_type, path)
    return _cached_path_info(obj_type, path)


def _path_info(obj_type: str, path: str) -> tuple[ObservableType | None, str] | None:
    if obj_type in _KEYWORDS:
        return None
    keys: list[str] = []
    for key in path.split("."):
        if key[0] == "'":
            keys.append(key[1:-1])
        elif key in _KEYWORDS:
            return None
        else:
            keys.append(key)
    kind = _path_type(obj_type, tuple(keys))
    if "hashes" in keys and kind not in _HASH_LENGTHS:
        return None
    return kind, _render_path(obj_type, list[_Step](keys))


# A feed uses few distinct paths; cache the short ones (the long are junk, and rare).
_MAX_CACHED_PATH: Final = 64
_cached_path_info: Final = functools.lru_cache(maxsize=1024)(_path_info)


def _parse_fast(pattern: str) -> ParsedPattern | None:
    """Parse the common simple patterns; None when the full parser must decide."""
    match = _SINGLE_RE.fullmatch(pattern)
    if match is not None:
        return _parse_single(match[1], match[2], match[3])
    if not _MULTI_RE.fullmatch(pattern):
        return None
    comparisons: list[tuple[str, str, str]] = _COMPARISON_RE.findall(pattern)

    # First pass: the syntax checks the regex cannot make, and the hash literals.
    paths: list[tuple[ObservableType | None, str]] = []
    for obj_type, path, literal in comparisons:
        info = _fast_path_info(obj_type, path)
        if info is None:
            return None
        length = _HASH_LENGTHS.get(info[0])  # type: ignore[arg-type]
        if length is not None and (len(literal) != length or not _HEX_RE.fullmatch(literal)):
            return None
        paths.append(info)

    # Second pass: the same semantics as _prop_test, in the same order.
    observables: list[PatternObservable] = []
    for (kind, path), (_, _, literal) in zip(paths, comparisons, strict=True):
        if kind is None:
            return _not_matchable(f"object path {path} has no observable type")
        if kind is ObservableType.ASN:
            return _not_matchable(f"object path {path} compared with a string literal")
        try:
            observables.append(_observable(kind, _unescape(literal), path))
        except _NotMatchable:
            return None  # rare; the full parser words the reason
    return _result(observables)


def _parse_single(obj_type: str, path: str, literal: str) -> ParsedPattern | None:
    """_parse_fast's two passes for one comparison, the shape of nearly every feed's
    patterns: the same checks in the same order, without the lists and loops (12% fewer
    instructions a pattern, callgrind; tests/intel/test_patterns.py checks it against
    the library)."""
    info = _fast_path_info(obj_type, path)
    if info is None:
        return None
    kind, rendered = info
    length = _HASH_LENGTHS.get(kind)  # type: ignore[arg-type]
    if length is not None and (len(literal) != length or not _HEX_RE.fullmatch(literal)):
        return None
    if kind is None:
        return _not_matchable(f"object path {rendered} has no observable type")
    if kind is _ASN:
        return _not_matchable(f"object path {rendered} compared with a string literal")
    value = _unescape(literal)
    if kind in _HOST_PREFIX and "/" in value:  # a network, maybe: _observable decides
        try:
            return ParsedPattern((_observable(kind, value, rendered),), True, None)
        except _NotMatchable:
            return None  # rare; the full parser words the reason
    # _observable's common case, inline (a call less an indicator).
    try:
        canonical = canonicalise(kind, value)
    except InvalidObservable:
        return None  # rare; the full parser words the reason
    return ParsedPattern((PatternObservable(kind, canonical),), True, None)


_ASN: Final = ObservableType.ASN  # a module constant: an enum member's lookup is a descriptor call


# --------------------------------------------------------------------------- common shapes
#
# Nearly every indicator a feed or a TAXII client sends is "[<path> = '<value>']" with
# single spaces, one of a few paths, and a value already in canonical form. That shape
# is recognised with string operations and one canonicalise call, ahead of the fast
# path's regex grammar and its path and literal checks: 27% fewer instructions a pattern
# over bench/taxii.py's mix (callgrind), where parsing was a sixth of a TAXII import.
# Anything else — another path, spacing or escape, a value canonicalise changes or
# refuses — goes on to _parse_fast with nothing decided. tests/intel/test_patterns.py
# checks (hypothesis) that this gives what _parse_fast and stix2-patterns give.

_COMMON_PATHS: Final[dict[str, ObservableType]] = {
    "ipv4-addr:value": ObservableType.IPV4,
    "domain-name:value": ObservableType.DOMAIN,
    "url:value": ObservableType.URL,
    "file:hashes.'SHA-256'": ObservableType.SHA256,
    "file:hashes.MD5": ObservableType.MD5,
    "file:hashes.'SHA-1'": ObservableType.SHA1,
}


def _parse_common(pattern: str) -> ParsedPattern | None:
    """The common shape with a canonical value; None for anything else."""
    if not (pattern.startswith("[") and pattern.endswith("']")):
        return None
    path, _, value = pattern[1:-2].partition(" = '")
    kind = _COMMON_PATHS.get(path)
    # No quote or backslash: the literal is the value itself, with no escapes.
    if kind is None or "'" in value or "\\" in value:
        return None
    try:
        if canonicalise(kind, value) != value:
            return None
    except InvalidObservable:
        return None
    return ParsedPattern((PatternObservable(kind, value),), True, None)


# --------------------------------------------------------------------------- full parser


class _TreeGrabber:
    """A "visitor" that returns the parse tree itself: Pattern.visit's public way in."""

    def visit(self, tree: Any) -> Any:
        return tree


_MAX_MESSAGE: Final = 300


def _one_line(message: str) -> str:
    """stix2-patterns' message on one line (it quotes the input, line separators and
    all) and cut to a readable length (it may quote a megabyte of input)."""
    text = " ".join(message.split())
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 3] + "..."
    return text


def _parse_with_stix2patterns(pattern: str) -> ParsedPattern:
    """Parse with the full ANTLR parser of stix2-patterns (slow; see the fast path)."""
    try:
        tree = Pattern(pattern).visit(_TreeGrabber())
    except ParseException as err:
        raise InvalidPattern(f"invalid STIX pattern: {_one_line(str(err))}") from None
    except RecursionError:
        raise InvalidPattern("invalid STIX pattern: nested too deeply to parse") from None
    _check_qualifiers(tree)
    try:
        return _result(_analyse(tree))
    except _NotMatchable as err:
        return _not_matchable(err.reason)


def _check_qualifiers(tree: Any) -> None:
    """Raise InvalidPattern for two qualifiers of one kind directly on one ``[...]``.

    stix2-patterns' validator refuses those (its ValidationListener) but its parser does
    not. Done here rather than with that listener because ANTLR's tree walker recurses
    and a long OR chain is a deep tree; this walks only the observation level.
    """
    stack: list[Any] = [tree.observationExpressions()]
    while stack:
        ctx = stack.pop()
        if type(ctx) in _QUALIFIER_NAMES:
            chain = []
            while type(ctx) in _QUALIFIER_NAMES:
                chain.append(_QUALIFIER_NAMES[type(ctx)])
                ctx = ctx.observationExpression()
            if isinstance(ctx, _P.ObservationExpressionSimpleContext):
                seen: set[str] = set()
                for name in reversed(chain):  # innermost first, as the validator does
                    if name in seen:
                        raise InvalidPattern(
                            f"invalid STIX pattern: Duplicate qualifier type encountered: {name}"
                        )
                    seen.add(name)
            stack.append(ctx)
        elif isinstance(
            ctx,
            _P.ObservationExpressionsContext
            | _P.ObservationExpressionOrContext
            | _P.ObservationExpressionAndContext
            | _P.ObservationExpressionCompoundContext,
        ):
            stack.extend(ctx.getChildren())


# Qualifier context → its name in the validator's message.
_QUALIFIER_NAMES: Final[dict[type[Any], str]] = {
    _P.ObservationExpressionWithinContext: "WITHIN",
    _P.ObservationExpressionRepeatedContext: "REPEATS",
    _P.ObservationExpressionStartStopContext: "STARTSTOP",
}

_QUALIFIERS: Final[dict[type[Any], str]] = {
    _P.ObservationExpressionWithinContext: "WITHIN qualifier",
    _P.ObservationExpressionRepeatedContext: "REPEATS qualifier",
    _P.ObservationExpressionStartStopContext: "START/STOP qualifier",
}

# Token type of a literal → how a reason names it.
_LITERAL_KINDS: Final[dict[int, str]] = {
    _P.StringLiteral: "a string",
    _P.IntPosLiteral: "an integer",
    _P.IntNegLiteral: "an integer",
    _P.FloatPosLiteral: "a float",
    _P.FloatNegLiteral: "a float",
    _P.HexLiteral: "a hex",
    _P.BinaryLiteral: "a binary",
    _P.TimestampLiteral: "a timestamp",
    _P.BoolLiteral: "a boolean",
}


def _terminals(ctx: Any) -> list[Any]:
    """The terminal nodes under ``ctx``, in text order (iterative: paths can be long)."""
    out: list[Any] = []
    stack = [ctx]
    while stack:
        node = stack.pop()
        if node.getChildCount() == 0:
            if hasattr(node, "symbol"):
                out.append(node)
        else:
            stack.extend(reversed(list(node.getChildren())))
    return out


def _analyse(tree: Any) -> list[PatternObservable]:
    """Observables of a parse tree, or _NotMatchable at the first obstacle.

    The tree is walked pre-order, left to right, so the reason is the outermost obstacle,
    and among siblings the leftmost. Iterative: a long OR chain is a deep tree.
    """
    observables: list[PatternObservable] = []
    stack: list[Any] = [tree.observationExpressions()]
    while stack:
        ctx = stack.pop()
        if isinstance(ctx, _P.ObservationExpressionsContext):
            if ctx.FOLLOWEDBY() is not None:
                raise _NotMatchable("FOLLOWEDBY of two observations")
            stack.append(ctx.observationExpressionOr())
        elif isinstance(ctx, _P.ObservationExpressionOrContext):
            if ctx.OR() is not None:
                stack.extend(reversed(ctx.observationExpressionOr()))
            else:
                stack.append(ctx.observationExpressionAnd())
        elif isinstance(ctx, _P.ObservationExpressionAndContext):
            if ctx.AND() is not None:
                raise _NotMatchable("AND of two observations")
            stack.append(ctx.observationExpression())
        elif isinstance(ctx, _P.ObservationExpressionSimpleContext):
            stack.append(ctx.comparisonExpression())
        elif isinstance(ctx, _P.ObservationExpressionCompoundContext):
            stack.append(ctx.observationExpressions())
        elif type(ctx) in _QUALIFIERS:
            raise _NotMatchable(_QUALIFIERS[type(ctx)])
        elif isinstance(ctx, _P.ComparisonExpressionContext):
            if ctx.OR() is not None:
                stack.extend(reversed(ctx.comparisonExpression()))
            else:
                stack.append(ctx.comparisonExpressionAnd())
        elif isinstance(ctx, _P.ComparisonExpressionAndContext):
            if ctx.AND() is not None:
                raise _NotMatchable("AND of two comparisons")
            stack.append(ctx.propTest())
        elif isinstance(ctx, _P.PropTestParenContext):
            stack.append(ctx.comparisonExpression())
        else:
            observables.extend(_prop_test(ctx))
    return observables


def _prop_test(ctx: Any) -> list[PatternObservable]:
    """Observables of one comparison (``=`` or ``IN``), or _NotMatchable."""
    negated = ctx.NOT() is not None
    if isinstance(ctx, _P.PropTestEqualContext):
        operator = (ctx.EQ() or ctx.NEQ()).getText()
        literals = [ctx.primitiveLiteral()]
        equality = ctx.EQ() is not None
    elif isinstance(ctx, _P.PropTestSetContext):
        operator = "IN"
        literals = ctx.setLiteral().primitiveLiteral()
        equality = True
    else:
        # Order, LIKE, MATCHES, ISSUBSET, ISSUPERSET, EXISTS: the operator is the first
        # token after the object path (EXISTS comes before it).
        tokens = [t for t in ctx.getChildren() if hasattr(t, "symbol")]
        operator = next(t.getText() for t in tokens if t.getText() != "NOT")
        literals = []
        equality = False
    if negated:
        operator = "NOT " + operator
    if not equality or negated:
        raise _NotMatchable(f"operator {operator}")
    if not literals:
        raise _NotMatchable("operator IN with an empty set")

    obj_type, steps = _object_path(ctx.objectPath())
    path = _render_path(obj_type, steps)
    keys = tuple(step for step in steps if isinstance(step, str))
    kind = _path_type(obj_type, keys) if len(keys) == len(steps) else None
    if kind is None:
        raise _NotMatchable(f"object path {path} has no observable type")

    wanted = _P.IntPosLiteral if kind is ObservableType.ASN else _P.StringLiteral
    out = []
    for literal in literals:
        token = _terminals(literal)[0]
        token_type = token.getSymbol().type
        if token_type != wanted and not (
            kind is ObservableType.ASN and token_type == _P.IntNegLiteral
        ):
            raise _NotMatchable(
                f"object path {path} compared with {_LITERAL_KINDS[token_type]} literal"
            )
        text = token.getText()
        # An integer literal has no leading zeros; its sign is left to canonicalise.
        value = _unescape(text[1:-1]) if token_type == _P.StringLiteral else text.lstrip("+")
        out.append(_observable(kind, value, path))
    return out


def _object_path(ctx: Any) -> tuple[str, list[_Step]]:
    """(object type, steps) of an objectPath context."""
    tokens = _terminals(ctx)
    steps: list[_Step] = []
    for token in tokens[2:]:  # after the type and the colon
        token_type = token.getSymbol().type
        text = token.getText()
        if token_type == _P.StringLiteral:
            steps.append(_unescape(text[1:-1]))
        elif token_type == _P.IdentifierWithoutHyphen:
            steps.append(text)
        elif token_type in (_P.IntPosLiteral, _P.IntNegLiteral, _P.ASTERISK):
            steps.append(_Index(text))
        # DOT, LBRACK, RBRACK carry no information
    return tokens[0].getText(), steps
