"""Plain lists and delimited (CSV-like) feeds, read through a column mapping.

A :class:`ListMapping` says how a feed's lines are laid out; :data:`PRESETS` holds the
ones for well-known feeds. :func:`read_list` yields one :class:`FeedEntry` per good row
and one :class:`RowProblem` per bad row, so one bad line never stops a feed::

    >>> lines = ["# a comment", "198.51.100.7\\t3", "999.1.1.1\\t10", "203.0.113.9"]
    >>> for item in read_list(lines, PRESETS["ipsum"], "ipsum.txt"):
    ...     print(item if isinstance(item, RowProblem) else (item.value, item.confidence))
    ('198.51.100.7', 30)
    ipsum.txt:3: value: '999.1.1.1' is not a valid IPv4 address: octet 999 (> 255) not permitted
    ipsum.txt:4: columns: expected 2 columns separated by '\\t', got 1

A mapping comes from a dict (JSON, the CLI's options) through pydantic::

    >>> m = ListMapping.model_validate({"delimiter": ",", "header": True,
    ...     "value_column": "indicator", "comment_column": "description"})
    >>> [e.comment for e in read_list("indicator,description\\nevil.example,c2\\n", m, "x.csv")]
    ['c2']

Speed: this is the first step of a feed pull (≈120,000 lines for ipsum), so the loop
splits with ``str.split`` (no csv module, no regex per line) and lets
:func:`~steppe.intel.guess.canonical_observable` take its already-canonical fast
path. A line with a ``"`` in it goes through the csv module (quoted fields, delimiters
inside quotes).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from steppe.errors import InputError, InvalidObservable
from steppe.ingest.intel.entries import FeedEntry, RowProblem, looks_defanged, refang
from steppe.intel.guess import canonical_observable
from steppe.intel.observables import ObservableType, canonicalise
from steppe.storage import timestamps

__all__ = [
    "PRESETS",
    "ListMapping",
    "mapping_from",
    "preset_for_file",
    "read_list",
]

Column = Annotated[int, Field(ge=0)] | str


class ListMapping(BaseModel):
    """How the lines of a list feed map onto entries.

    Columns are 0-based indexes, or header names when ``header`` is true. A column named
    both as ``confidence_column`` and ``comment_column`` is a score when it is a number
    and a comment otherwise (signature-base mixes the two).

    Confidence: the column's number is mapped linearly from ``score_min``..``score_max``
    onto 0..100 and clamped, e.g. ipsum counts the blacklists an address is on, 1 to 10
    or more: with ``score_max=10`` one list gives 10 and ten or more give 100.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    delimiter: str | None = Field(
        default=None, min_length=1, description="None: the whole line is the value"
    )
    comment_prefix: str | None = Field(default="#", min_length=1)
    header: bool = False
    columns: int | None = Field(default=None, ge=1, description="exact column count, if fixed")
    value_column: Column = 0
    type: ObservableType | None = Field(default=None, description="None: guess per row")
    confidence_column: Column | None = None
    score_min: float = 0.0
    score_max: float = 100.0
    comment_column: Column | None = None
    first_seen_column: Column | None = None
    tags_column: Column | None = None
    tags_separator: str = Field(default=",", min_length=1)
    tags: tuple[str, ...] = Field(default=(), description="labels added to every entry")
    block_comments: bool = Field(
        default=False,
        description="comment lines name the block below; rows without a comment get it",
    )
    refang: bool = Field(default=True, description="undo hxxp, [.] and the like in values")

    @model_validator(mode="after")
    def _check(self) -> ListMapping:
        others = [
            c
            for c in (
                self.confidence_column,
                self.comment_column,
                self.first_seen_column,
                self.tags_column,
            )
            if c is not None
        ]
        if self.delimiter is None and (others or self.value_column != 0):
            raise ValueError("columns other than the value need a delimiter")
        if not self.header and any(isinstance(c, str) for c in [self.value_column, *others]):
            raise ValueError("columns named by header need header: true")
        if self.score_max <= self.score_min:
            raise ValueError("score_max must be greater than score_min")
        return self


PRESETS: dict[str, ListMapping] = {
    # stamparm/ipsum: "ip<TAB>number of blacklists"; 1 list -> 10, 10 or more -> 100.
    "ipsum": ListMapping(
        delimiter="\t",
        columns=2,
        type=ObservableType.IPV4,
        confidence_column=1,
        score_max=10,
        refang=False,
    ),
    # Neo23x0 signature-base (LOKI) c2 and hash IOCs: "value[;comment or score]", a
    # "# heading" line names the block below it.
    "signature-base": ListMapping(
        delimiter=";",
        confidence_column=1,
        comment_column=1,
        block_comments=True,
    ),
    # One value per line, type guessed per row.
    "plain": ListMapping(),
}


def preset_for_file(name: str) -> ListMapping:
    """The signature-base preset for one of its files, chosen as LOKI does: by name.

    ``*filename*`` files hold regular expressions over paths (``\\\\svchost\\.exe$``),
    not file names; Steppe's ``filename`` observable is a literal name, so they are
    refused rather than half-read::

        >>> preset_for_file("filename-iocs.txt")
        Traceback (most recent call last):
        ...
        steppe.errors.InputError: filename-iocs.txt: signature-base filename IOCs are regular expressions over paths; Steppe matches literal file names only, so this file is not imported
    """
    lowered = name.lower()
    if "filename" in lowered:
        raise InputError(
            "signature-base filename IOCs are regular expressions over paths; Steppe "
            "matches literal file names only, so this file is not imported",
            source=name,
        )
    return PRESETS["signature-base"]


class _Layout:
    """A mapping with its columns resolved to indexes (after the header, if any)."""

    def __init__(self, mapping: ListMapping, header: list[str] | None) -> None:
        value = self._index(mapping.value_column, header)
        assert value is not None  # value_column is never None
        self.value: int = value
        self.confidence = self._index(mapping.confidence_column, header)
        self.comment = self._index(mapping.comment_column, header)
        self.first_seen = self._index(mapping.first_seen_column, header)
        self.tags = self._index(mapping.tags_column, header)
        # Only the value is required; the other columns may be missing from a row.
        self.required = self.value + 1

    @staticmethod
    def _index(column: int | str | None, header: list[str] | None) -> int | None:
        if column is None or isinstance(column, int):
            return column
        assert header is not None  # the model validator ensures it
        try:
            return header.index(column)
        except ValueError:
            raise InputError(
                f"column {column!r} is not in the header ({', '.join(header)})",
                field="header",
            ) from None


def _lines(data: Iterable[str] | str | bytes) -> Iterable[str]:
    if isinstance(data, bytes):
        data = data.decode("utf-8-sig", errors="replace")
    if isinstance(data, str):
        return data.removeprefix("\ufeff").splitlines()
    return data


def read_list(
    data: Iterable[str] | str | bytes, mapping: ListMapping, source: str
) -> Iterator[FeedEntry | RowProblem]:
    """Entries and problems of a list feed, in line order (lines count from 1).

    ``data`` is the whole text (``str`` or UTF-8 ``bytes``) or its lines (an open text
    file will do). A header that lacks a named column raises :class:`InputError`: the
    whole mapping is wrong, not one row.
    """
    lines = iter(_lines(data))
    delimiter = mapping.delimiter
    prefix = mapping.comment_prefix
    kind = mapping.type
    lineno = 0
    header: list[str] | None = None
    if mapping.header:
        for raw in lines:
            lineno += 1
            line = raw.strip()
            if line and not (prefix and line.startswith(prefix)):
                header = [c.strip() for c in line.split(delimiter)]
                break
    if mapping.header and header is None:
        return  # nothing but comments and blank lines: an empty feed
    try:
        layout = _Layout(mapping, header)
    except InputError as exc:
        raise exc.located(source=source, line=lineno or 1) from None
    expected = mapping.columns
    scale = (mapping.score_min, 100.0 / (mapping.score_max - mapping.score_min))
    tags = mapping.tags
    block: str | None = None
    block_comments = mapping.block_comments
    do_refang = mapping.refang
    value_at = layout.value
    required = layout.required
    score_at = layout.confidence if layout.confidence is not None else -1
    score_only = (
        score_at >= 0
        and layout.comment is None
        and layout.first_seen is None
        and layout.tags is None
        and not tags
        and not block_comments
    )
    scores: dict[str, int | None] = {"": None}
    for raw in lines:
        lineno += 1
        line = raw.strip()
        if not line:
            continue
        if prefix is not None and line.startswith(prefix):
            if block_comments:
                heading = line[len(prefix) :].strip(" #-=\t")
                if heading:
                    block = heading
            continue
        if delimiter is None:
            fields = [line]
            width = 1
        else:
            if '"' in line and len(delimiter) == 1:
                # Quoted fields are rare in feeds: only those lines pay for the csv module.
                try:
                    fields = next(csv.reader([line], delimiter=delimiter), [])
                except csv.Error:  # e.g. a NUL in the line: read it unquoted
                    fields = line.split(delimiter)
            else:
                fields = line.split(delimiter)
            width = len(fields)
            if expected is not None and width != expected:
                yield RowProblem(
                    source,
                    lineno,
                    "columns",
                    f"expected {expected} columns separated by {delimiter!r}, got {width}",
                )
                continue
            if width < required:
                yield RowProblem(
                    source,
                    lineno,
                    "columns",
                    f"expected at least {required} columns separated by {delimiter!r}, got {width}",
                )
                continue
        value = fields[value_at].strip()
        if do_refang and looks_defanged(value):
            value = refang(value)
        try:
            if kind is not None:
                found, canonical = kind, canonicalise(kind, value)
            else:
                found, canonical = canonical_observable(value)
        except InvalidObservable as exc:
            yield RowProblem(source, lineno, "value", exc.message)
            continue
        if width == 1 and block is None and not tags:
            yield FeedEntry(found, canonical, None, None, lineno)  # a plain list's row
            continue
        if score_only:
            # ipsum's shape (value and a score), the hot one: a few distinct scores.
            score = fields[score_at] if width > score_at else ""
            confidence = scores.get(score)
            if confidence is None:
                try:
                    confidence = scores[score] = _confidence(score.strip(), scale)
                except _BadField as exc:
                    yield RowProblem(source, lineno, exc.field, exc.message)
                    continue
            yield FeedEntry(found, canonical, confidence, None, lineno)
            continue
        try:
            item = _extras(fields, layout, scale, block, tags, mapping.tags_separator)
        except _BadField as exc:
            yield RowProblem(source, lineno, exc.field, exc.message)
            continue
        confidence, comment, first_seen, row_tags = item
        yield FeedEntry(found, canonical, confidence, comment, lineno, first_seen, row_tags)


class _BadField(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _field(fields: list[str], index: int | None) -> str | None:
    if index is None or index >= len(fields):
        return None
    text = fields[index].strip()
    return text or None


def _confidence(score: str, scale: tuple[float, float]) -> int | None:
    """0-100 from the feed's score (see :class:`ListMapping`); None for an empty one."""
    if not score:
        return None
    try:
        number = float(score)
    except ValueError:
        raise _BadField("confidence", f"{score!r} is not a number") from None
    if number != number:  # NaN
        raise _BadField("confidence", f"{score!r} is not a number")
    low, factor = scale
    return max(0, min(100, round((number - low) * factor)))


def _extras(
    fields: list[str],
    layout: _Layout,
    scale: tuple[float, float],
    block: str | None,
    tags: tuple[str, ...],
    separator: str,
) -> tuple[int | None, str | None, str | None, tuple[str, ...]]:
    """Confidence, comment, first_seen and tags of a row; :class:`_BadField` if one is bad."""
    confidence: int | None = None
    comment = _field(fields, layout.comment)
    score = _field(fields, layout.confidence)
    if score is not None:
        if layout.confidence != layout.comment:
            confidence = _confidence(score, scale)
        else:
            try:
                confidence = _confidence(score, scale)
            except _BadField:
                pass  # not a number: it is the comment
            else:
                comment = None
    if comment is None:
        comment = block
    first_seen = _field(fields, layout.first_seen)
    if first_seen is not None:
        try:
            first_seen = timestamps.normalise(first_seen)
        except ValueError as exc:
            raise _BadField("first_seen", f"{first_seen!r} is not a timestamp: {exc}") from None
    row_tags = tags
    raw_tags = _field(fields, layout.tags)
    if raw_tags is not None:
        row_tags = (*tags, *(t.strip() for t in raw_tags.split(separator) if t.strip()))
    return confidence, comment, first_seen, row_tags


def mapping_from(options: dict[str, Any]) -> ListMapping:
    """A mapping from loose options (a preset name under ``"preset"`` plus overrides).

    >>> mapping_from({"preset": "ipsum", "score_max": 5}).score_max
    5.0
    """
    options = dict(options)
    preset = options.pop("preset", None)
    if preset is None:
        return ListMapping.model_validate(options)
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    base = PRESETS[preset].model_dump(exclude_unset=True)
    return ListMapping.model_validate({**base, **options})
