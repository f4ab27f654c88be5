"""Readers of list feeds (plain lists, CSV with a column mapping, presets) into entries.

A stop-gap until the readers of :mod:`steppe.ingest.intel` land: same idea (canonical
values, bad rows reported with file and line, the rest kept), small on purpose.

    >>> entries, problems = read_list(b"# c\\n198.51.100.7\\t3\\nnope\\n", "f.txt", preset="ipsum")
    >>> [(e.type.value, e.value, e.confidence) for e in entries]
    [('ipv4', '198.51.100.7', 30)]
    >>> [str(p) for p in problems]
    ["f.txt:3: cannot tell what kind of observable 'nope' is; give its type"]
"""

from __future__ import annotations

import csv
import io
from typing import Any

from steppe.errors import InputError, InvalidObservable
from steppe.intel.feed_ingest import FeedEntry
from steppe.intel.observables import ObservableType, canonical_observable

__all__ = ["read_list"]


def read_list(
    data: bytes,
    source: str,
    *,
    preset: str | None = None,
    mapping: dict[str, Any] | None = None,
) -> tuple[list[FeedEntry], list[InputError]]:
    """Entries of a plain list or a CSV feed, and the rows that could not be read."""
    text = data.decode("utf-8", errors="replace")
    if preset == "ipsum":
        return _ipsum(text, source)
    if mapping is not None:
        return _csv(text, source, mapping)
    return _plain(text, source, with_comment=preset == "signature-base")


def _ipsum(text: str, source: str) -> tuple[list[FeedEntry], list[InputError]]:
    entries: list[FeedEntry] = []
    problems: list[InputError] = []
    ipv4 = ObservableType.IPV4
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line or line[0] == "#":
            continue
        value, _, score = line.partition("\t")
        try:
            kind, canonical = canonical_observable(value.strip())
            confidence = min(100, 10 * int(score)) if score else None
        except InvalidObservable as exc:
            _problem(problems, exc.message, source, lineno)
            continue
        except ValueError:
            _problem(problems, f"score {score!r} is not a number", source, lineno)
            continue
        entries.append(
            FeedEntry(ipv4 if kind is ipv4 else kind, canonical, confidence, None, lineno)
        )
    return entries, problems


def _plain(
    text: str, source: str, *, with_comment: bool
) -> tuple[list[FeedEntry], list[InputError]]:
    """One value per line; ``value;comment`` and ``# section`` comments (signature-base)."""
    entries: list[FeedEntry] = []
    problems: list[InputError] = []
    section: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line[0] == "#":
            heading = line.lstrip("#").strip()
            if with_comment and heading and "FORMAT" not in heading:
                section = heading
            continue
        comment = section
        if with_comment and ";" in line:
            line, _, comment = line.partition(";")
        try:
            kind, canonical = canonical_observable(line.strip())
        except InvalidObservable as exc:
            _problem(problems, exc.message, source, lineno)
            continue
        if kind is ObservableType.CVE:
            _problem(problems, "a CVE is not an indicator value", source, lineno)
            continue
        entries.append(FeedEntry(kind, canonical, None, comment or None, lineno))
    return entries, problems


def _csv(
    text: str, source: str, mapping: dict[str, Any]
) -> tuple[list[FeedEntry], list[InputError]]:
    """Rows with columns named by number (0-based) or by header name.

    Mapping keys: ``value`` (required), ``type``, ``confidence``, ``comment``,
    ``delimiter`` (default ``,``), ``header`` (default: true when a column is a name).
    """
    entries: list[FeedEntry] = []
    problems: list[InputError] = []
    delimiter = str(mapping.get("delimiter", ","))
    columns = {k: mapping[k] for k in ("value", "type", "confidence", "comment") if k in mapping}
    header = bool(mapping.get("header", any(isinstance(c, str) for c in columns.values())))
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line and line[0] != "#"]
    reader = csv.reader(io.StringIO("\n".join(line for _n, line in lines)), delimiter=delimiter)
    index: dict[str, int] = {}
    for (lineno, _line), row in zip(lines, reader, strict=False):
        if header and not index:
            index = {name.strip(): i for i, name in enumerate(row)}
            missing = [c for c in columns.values() if isinstance(c, str) and c not in index]
            if missing:
                raise InputError(
                    f"no column {missing[0]!r} in the header", source=source, line=lineno
                )
            continue
        cells = {k: _cell(row, c if isinstance(c, int) else index[c]) for k, c in columns.items()}
        try:
            kind, canonical = canonical_observable(cells["value"] or "", cells.get("type") or None)
            score = cells.get("confidence")
            confidence = int(score) if score else None
            if confidence is not None and not 0 <= confidence <= 100:
                raise ValueError(confidence)
        except InvalidObservable as exc:
            _problem(problems, exc.message, source, lineno)
            continue
        except ValueError:
            _problem(problems, "confidence must be a number 0-100", source, lineno)
            continue
        entries.append(FeedEntry(kind, canonical, confidence, cells.get("comment"), lineno))
    return entries, problems


def _cell(row: list[str], at: int) -> str | None:
    return row[at].strip() if at < len(row) else None


def _problem(problems: list[InputError], message: str, source: str, line: int) -> None:
    problems.append(InputError(message, source=source, line=line))
