"""Reading Sigma rule files, unmodified, with pySigma — and saying which did not load.

YAML is parsed with PyYAML's C loader (``CSafeLoader``): the pure-Python one takes most
of the ~15 s pySigma's own ``load_ruleset`` spends on the SigmaHQ set. The parsed
documents go to ``SigmaCollection.from_dicts`` one document at a time, so one broken rule
costs only itself; what fails is reported as a :class:`LoadProblem` (file, line, reason)
and the rest load. Filters (``filter:`` documents) are applied to the rules they name,
and correlation rules are resolved against everything loaded.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "ok.yml").write_text(
    ...     "title: Whoami\\nid: 0b5d5a58-9e46-4d6b-9b8a-6b7a4a4b1f01\\n"
    ...     "logsource: {product: windows, category: process_creation}\\n"
    ...     "detection: {sel: {Image|endswith: '\\\\\\\\whoami.exe'}, condition: sel}\\n")
    >>> _ = (folder / "bad.yml").write_text("title: Broken\\nlogsource: {}\\ndetection: [\\n")
    >>> loaded = load_rules([folder])
    >>> [rule.title for rule in loaded.rules], [p.source.rsplit('/', 1)[-1] for p in loaded.problems]
    (['Whoami'], ['bad.yml'])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from steppe.heap import gc_paused

__all__ = ["LoadProblem", "LoadedRules", "gc_paused", "load_rules", "rule_files", "snapshot"]

_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """A rule (or file) that did not load, and why.

    >>> str(LoadProblem("rules/x.yml", 4, "unknown modifier 'foo'"))
    "rules/x.yml:4: unknown modifier 'foo'"
    """

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass
class LoadedRules:
    """Detection rules, correlation rules and the problems met on the way."""

    rules: list[SigmaRule] = field(default_factory=list)
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)
    filters: list[SigmaFilter] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    files: int = 0


def rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every ``.yml``/``.yaml`` file under the given files and folders, sorted."""
    for path in paths:
        if path.is_dir():
            found = (
                Path(root) / name
                for root, _dirs, names in os.walk(path)
                for name in names
                if name.endswith(_SUFFIXES) and not name.startswith(".")
            )
            yield from sorted(found)
        else:
            yield path


def snapshot(paths: Iterable[Path]) -> dict[str, tuple[int, int]]:
    """(mtime ns, size) of every rule file: what a reload compares to see a change."""
    out: dict[str, tuple[int, int]] = {}
    for path in rule_files(paths):
        try:
            st = path.stat()
        except OSError:
            continue
        out[str(path)] = (st.st_mtime_ns, st.st_size)
    return out


def _document_lines(text: str) -> list[int]:
    """The line each YAML document of ``text`` starts on (1-based)."""
    starts = [1]
    content = False  # a "---" before any content opens the first document
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if line.rstrip() == "---":
            if content:
                starts.append(number + 1)
            else:
                starts = [number + 1]
            content = True
        elif stripped and not stripped.startswith("#"):
            content = True
    return starts


def _reason(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, SigmaError) and exc.args else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def _load_file(path: Path, out: LoadedRules) -> None:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        out.problems.append(LoadProblem(source, None, f"cannot read: {exc}"))
        return
    try:
        docs: list[Any] = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        out.problems.append(LoadProblem(source, line, f"not valid YAML: {problem}"))
        return
    lines = _document_lines(text)
    if any(isinstance(d, dict) and "action" in d for d in docs):
        # Collection actions (global/repeat) tie the documents of a file together.
        _add(docs, SigmaRuleLocation(path), source, None, out)
        return
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        line = lines[index] if index < len(lines) else None
        if not isinstance(doc, dict):
            out.problems.append(LoadProblem(source, line, "a rule must be a YAML mapping"))
            continue
        _add([doc], SigmaRuleLocation(path, line), source, line, out)


def _add(
    docs: list[Any], where: SigmaRuleLocation, source: str, line: int | None, out: LoadedRules
) -> None:
    try:
        collection = SigmaCollection.from_dicts(
            docs, collect_errors=True, source=where, collect_filters=True, resolve_references=False
        )
    except (SigmaError, TypeError, ValueError, AttributeError, KeyError) as exc:
        out.problems.append(LoadProblem(source, line, _reason(exc)))
        return
    # One problem per rule (its reasons joined); collection-level errors on their own.
    of_rules = {id(e) for item in [*collection.rules, *collection.filters] for e in item.errors}
    for error in collection.errors:
        if id(error) not in of_rules:
            out.problems.append(LoadProblem(source, line, _reason(error)))
    for rule in collection.rules:
        if rule.errors:
            reasons = "; ".join(dict.fromkeys(_reason(e) for e in rule.errors))
            out.problems.append(LoadProblem(source, line, reasons))
            continue
        if isinstance(rule, SigmaCorrelationRule):
            out.correlations.append(rule)
        else:
            out.rules.append(rule)
    for flt in collection.filters:
        if flt.errors:
            reasons = "; ".join(dict.fromkeys(_reason(e) for e in flt.errors))
            out.problems.append(LoadProblem(source, line, reasons))
        else:
            out.filters.append(flt)


def _location(rule: SigmaRule | SigmaCorrelationRule | SigmaFilter) -> tuple[str, int | None]:
    src = rule.source
    return (str(src.path), src.line) if src is not None else ("<rules>", None)


def load_rules(paths: Iterable[Path]) -> LoadedRules:
    """Load every rule under ``paths``; problems are collected, never raised."""
    out = LoadedRules()
    with gc_paused():
        for path in rule_files(paths):
            out.files += 1
            _load_file(path, out)
    if out.filters:
        kept: list[SigmaRule] = []
        for rule in out.rules:
            try:
                for flt in out.filters:
                    applied = flt.apply_on_rule(rule)
                    assert isinstance(applied, SigmaRule)
                    rule = applied
            except SigmaError as exc:
                out.problems.append(LoadProblem(*_location(rule), f"filter: {_reason(exc)}"))
                continue
            kept.append(rule)
        out.rules = kept
    if out.correlations:
        every: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = [
            *out.rules,
            *out.correlations,
        ]
        collection = SigmaCollection(every, resolve_references=False)
        resolved: list[SigmaCorrelationRule] = []
        for corr in out.correlations:
            try:
                corr.resolve_rule_references(collection)
            except SigmaError as exc:
                out.problems.append(LoadProblem(*_location(corr), _reason(exc)))
                continue
            resolved.append(corr)
        out.correlations = resolved
    return out
