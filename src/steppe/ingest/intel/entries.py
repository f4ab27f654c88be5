"""What the list and text readers yield: one value per entry, or a problem with a row.

A :class:`FeedEntry` holds a value already in canonical form (see
:mod:`steppe.intel.observables`), so the feed store can dedup on ``(type, value)``
without looking at it again. A :class:`RowProblem` says which row of which source
could not be read, in the same ``file:line: field: message`` form as
:class:`~steppe.errors.InputError`::

    >>> entry_of("Evil.Example.", None, line=3, source="f.txt")
    FeedEntry(type=<ObservableType.DOMAIN: 'domain'>, value='evil.example', confidence=None, comment=None, line=3, first_seen=None, tags=())
    >>> print(entry_of("999.1.1.1", "ipv4", line=4, source="f.txt"))
    f.txt:4: value: '999.1.1.1' is not a valid IPv4 address: octet 999 (> 255) not permitted
    >>> refang("hxxps://evil[.]example(.)com[:]8443/x")
    'https://evil.example.com:8443/x'

Both are NamedTuples: a feed of 120,000 lines builds 120,000 of them, and a tuple is
the cheapest object Python builds (a frozen dataclass costs about three times as much).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from steppe.errors import InputError, InvalidObservable
from steppe.intel.guess import canonical_observable
from steppe.intel.observables import ObservableType

__all__ = ["FeedEntry", "RowProblem", "entry_of", "looks_defanged", "refang"]


class FeedEntry(NamedTuple):
    """One value of a feed, canonical already.

    The first five fields are those of the feed store's own entry type, in its order.
    ``confidence`` is 0-100 (see the list reader's score scale); ``first_seen`` is a
    stored-form timestamp; ``tags`` are free labels (a feed's category, a block name).
    """

    type: ObservableType
    value: str
    confidence: int | None = None
    comment: str | None = None
    line: int | None = None
    first_seen: str | None = None
    tags: tuple[str, ...] = ()


class RowProblem(NamedTuple):
    """A row that could not be read; the rest of the source still is."""

    source: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        return str(self.to_error())

    def to_error(self) -> InputError:
        """The same problem as an :class:`InputError`, e.g. to raise it or show it."""
        return InputError(self.message, source=self.source, line=self.line, field=self.field)


def entry_of(
    value: str,
    kind: ObservableType | str | None,
    *,
    line: int | None,
    source: str,
    confidence: int | None = None,
    comment: str | None = None,
    first_seen: str | None = None,
    tags: tuple[str, ...] = (),
) -> FeedEntry | RowProblem:
    """An entry for ``value`` (its type guessed when ``kind`` is None), or the problem."""
    try:
        found, canonical = canonical_observable(value, kind)
    except InvalidObservable as exc:
        return RowProblem(source, line, "value", exc.message)
    return FeedEntry(found, canonical, confidence, comment, line, first_seen, tags)


# --------------------------------------------------------------------------- refanging

# Defanged spellings seen in reports and feeds, longest first where they overlap.
# Brackets may hold "." or "dot" (any case, optional spaces); ":" and "@" likewise.
_DOT_RE = re.compile(r"\s?[\[\(\{<]\s?(?:\.|dot)\s?[\]\)\}>]\s?|\\\.", re.IGNORECASE)
_BARE_DOT_RE = re.compile(r"(?<=[a-z0-9])\s(?:dot|DOT)\s(?=[a-z0-9])")
_COLON_RE = re.compile(r"[\[\(\{]\s?:\s?[\]\)\}]")
_AT_RE = re.compile(r"\s?[\[\(\{<]\s?(?:@|at)\s?[\]\)\}>]\s?", re.IGNORECASE)
_SLASHES_RE = re.compile(r"\[/\]|\[//\]")
_SCHEME_RE = re.compile(
    r"\b(?:hxxps?|hXXps?|hxxxps?|h\[tt\]ps?|meow|fxps?|fxxp|hxtps?|htxps?)(\[?:\]?)//",
    re.IGNORECASE,
)
_SCHEMES = {"f": "ftp", "h": "http", "m": "http"}
_DEFANG_MARKS = ("[", "(", "{", "<", "hxx", "hXX", "HXX", "fxp", "fxxp", "meow", "\\.", " dot ")
# One search for any mark: ``any(mark in text …)`` over the twelve was a third of a plain
# list's read time (100,000 lines, bench/intel_ingest.py).
_DEFANG_MARK_RE = re.compile("|".join(re.escape(mark) for mark in _DEFANG_MARKS))


def _scheme(match: re.Match[str]) -> str:
    word = match.group(0).lower()
    base = _SCHEMES[word[0]]
    secure = "s" if word.rstrip(":/[]").endswith("s") and base == "http" else ""
    return f"{base}{secure}://"


def looks_defanged(text: str) -> bool:
    """Cheap test: could :func:`refang` change ``text``? (Lists call it on every row.)"""
    return _DEFANG_MARK_RE.search(text) is not None


def refang(text: str) -> str:
    """``text`` with defanged indicators made live again (for parsing, never for clicking).

    Handles ``hxxp``/``hxxps``/``fxp``/``meow`` schemes, ``[.]`` ``(.)`` ``{.}`` ``[dot]``
    `` dot `` ``\\.``, ``[:]``, ``[at]`` ``[@]`` and ``[/]``::

        >>> refang("bad-actor[at]evil[dot]example and fxp://files{.}example[.]net")
        'bad-actor@evil.example and ftp://files.example.net'
    """
    if not looks_defanged(text):
        return text
    text = _SCHEME_RE.sub(_scheme, text)
    text = _DOT_RE.sub(".", text)
    text = _BARE_DOT_RE.sub(".", text)
    text = _COLON_RE.sub(":", text)
    text = _AT_RE.sub("@", text)
    return _SLASHES_RE.sub("/", text)
