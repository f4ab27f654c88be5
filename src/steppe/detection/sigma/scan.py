"""Scan mode: run Sigma rules over files and report, storing nothing (the job Zircolite,
Chainsaw and Hayabusa do for responders).

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "dns.yml").write_text(
    ...     "title: Evil DNS\\nid: 3f1b0c4e-1d6e-4c5a-9f2e-1a2b3c4d5e6f\\nlevel: high\\n"
    ...     "logsource: {product: zeek, service: dns}\\n"
    ...     "detection: {sel: {query|endswith: '.evil.example'}, condition: sel}\\n")
    >>> log = folder / "dns.log"
    >>> _ = log.write_text('{"ts": 1.5, "uid": "C1", "_path": "dns", "query": "x.evil.example"}\\n'
    ...                    '{"ts": 2.5, "uid": "C2", "_path": "dns", "query": "ok.example"}\\n')
    >>> engine = SigmaEngine.from_paths([folder / "dns.yml"])
    >>> report = scan(engine, [log])
    >>> report.events, [(s.title, s.hits) for s in report.summary()]
    (2, [('Evil DNS', 1)])
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from steppe.detection.sigma.engine import SigmaEngine
from steppe.detection.sigma.hits import SigmaHit
from steppe.ingest.telemetry.formats import detect_format, read_path
from steppe.ingest.telemetry.model import ParseProblem

__all__ = ["LEVELS", "RuleSummary", "ScanReport", "input_files", "scan"]


@dataclass(frozen=True, slots=True)
class RuleSummary:
    rule_id: str
    title: str
    level: str
    hits: int


LEVELS = ("informational", "low", "medium", "high", "critical")


@dataclass
class ScanReport:
    events: int = 0
    files: int = 0
    skipped: list[Path] = field(default_factory=list)  # not telemetry (auto format only)
    problems: list[ParseProblem] = field(default_factory=list)
    problem_count: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    rules: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (title, level)

    def summary(self) -> list[RuleSummary]:
        """Hits per rule, most severe level first, then most hits."""
        order = {level: -i for i, level in enumerate(LEVELS)}
        rows = [RuleSummary(rid, *self.rules[rid], count) for rid, count in self.hits.items()]
        return sorted(rows, key=lambda r: (order.get(r.level, 5), -r.hits, r.title))


def input_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The files to read: files as given, folders walked (sorted, hidden files skipped)."""
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if not name.startswith("."):
                        yield Path(root) / name
        else:
            yield path


def _is_telemetry(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(65536)
    except OSError:
        return True  # let the reader report it with its reason
    return detect_format(head) is not None


#: Problems kept in the report (the rest are counted).
KEPT_PROBLEMS = 1000


def scan(
    engine: SigmaEngine,
    paths: Iterable[Path],
    fmt: str = "auto",
    on_hit: Callable[[str, SigmaHit], None] | None = None,
    on_event: Callable[[Path], None] | None = None,
    on_file: Callable[[Path], None] | None = None,
    min_level: str = "informational",
) -> ScanReport:
    """Run every rule over every event of ``paths``; ``on_hit(source, hit)`` is called
    as hits come, ``on_event``/``on_file`` drive a progress display. Hits below
    ``min_level`` are left out. With ``fmt="auto"``, files that are no telemetry format
    (a README, an info.yml) are skipped and listed in ``report.skipped``."""
    report = ScanReport()
    floor = LEVELS.index(min_level)
    for path in input_files(paths):
        report.files += 1
        if fmt == "auto" and not _is_telemetry(path):
            report.skipped.append(path)
            if on_file is not None:
                on_file(path)
            continue
        for _source, item in read_path(path, fmt):
            if isinstance(item, ParseProblem):
                report.problem_count += 1
                if len(report.problems) < KEPT_PROBLEMS:
                    report.problems.append(item)
                continue
            report.events += 1
            for hit in engine.evaluate(item):
                if hit.level in LEVELS and LEVELS.index(hit.level) < floor:
                    continue
                report.hits[hit.rule_id] += 1
                report.rules.setdefault(hit.rule_id, (hit.title, hit.level))
                if on_hit is not None:
                    on_hit(str(path), hit)
            if on_event is not None:
                on_event(path)
        if on_file is not None:
            on_file(path)
    return report
