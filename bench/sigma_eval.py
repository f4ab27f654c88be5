"""Benchmark: Steppe's Sigma engine against pySigma's SQLite backend (what Zircolite does).

    python bench/sigma_eval.py                 # every Windows rule over 100,000 events
    python bench/sigma_eval.py --events 20000  # quicker
    python bench/sigma_eval.py --profile       # also cProfile the engine's matching

Rules: every SigmaHQ Windows rule in tests/data/sigma (rules, rules-emerging-threats,
rules-threat-hunting). Events: the Windows true-positive events of
tests/data/sigma/regression_data (evtx-crate JSON), varied up to ``--events``: each copy
gets another computer, record id and time; about 60% are made benign (process, file,
registry and script fields replaced by everyday values), the others keep their attack
fields with the letter case shuffled (Sigma matching is case-insensitive). Seeded.

In one run, over the same events:

1. **Steppe**: ``load_rules`` + compile (every plan the events need built up front),
   then ``SigmaEngine.matching_rules`` on each event, in memory.
2. **Baseline**: the same rules converted by pySigma's ``sqlite`` backend, one query per
   rule, over one table holding the events (a TEXT COLLATE NOCASE column per field, a
   ``fulltext`` column for keyword rules, a Python REGEXP function, an index on
   EventID and Channel): Zircolite's design.
   The backend has no logsource mapping of its own, so each query is ANDed with the
   Channel/EventID clause of the rule's logsource from Steppe's table (Sysmon
   alternatives only: the baseline does not rename Security 4688 fields).

It prints load+compile time, events/s — wall clock and per CPU second, as the machine
is shared (baseline: insert + queries) — and compares hit
counts rule by rule over the rules both sides run: they must agree (exit 1 if not).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import re
import sqlite3
import sys
import time
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from steppe.detection.sigma.engine import SigmaEngine
from steppe.detection.sigma.loader import load_rules, rule_files
from steppe.detection.sigma.logsource import CATEGORIES, SERVICES, route
from steppe.detection.sigma.predicates import text_of
from steppe.ingest.telemetry.formats import read_path
from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "sigma"
RULE_DIRS = [DATA / d for d in ("rules", "rules-emerging-threats", "rules-threat-hunting")]

BENIGN: dict[str, list[str]] = {
    "Image": [
        "C:\\Windows\\System32\\svchost.exe",
        "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
        "C:\\Windows\\explorer.exe",
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
        "C:\\Windows\\System32\\SearchIndexer.exe",
    ],
    "CommandLine": [
        "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
        '"C:\\Program Files\\Mozilla Firefox\\firefox.exe" -contentproc --channel=1234',
        "C:\\Windows\\Explorer.EXE",
        '"C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE" /n report.docx',
    ],
    "ParentImage": ["C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\services.exe"],
    "ParentCommandLine": ["C:\\Windows\\Explorer.EXE", "C:\\Windows\\system32\\services.exe"],
    "OriginalFileName": ["svchost.exe", "firefox.exe", "WINWORD.EXE", "explorer.exe"],
    "TargetFilename": [
        "C:\\Users\\ann\\Documents\\report-{n}.docx",
        "C:\\Users\\bob\\AppData\\Local\\Mozilla\\Firefox\\cache2\\entries\\{n}",
    ],
    "TargetObject": [
        "HKU\\S-1-5-21-1\\Software\\Vendor\\App\\Setting{n}",
        "HKLM\\SOFTWARE\\Vendor\\Updater\\LastCheck{n}",
    ],
    "Details": ["DWORD (0x00000001)", "Binary Data"],
    "ImageLoaded": ["C:\\Windows\\System32\\kernel32.dll", "C:\\Windows\\System32\\user32.dll"],
    "ScriptBlockText": ["Get-ChildItem -Path C:\\Users\\ann\\Documents | Measure-Object"],
    "PipeName": ["\\vendor-pipe-{n}"],
    "Description": ["Host Process for Windows Services", "Firefox"],
    "Product": ["Microsoft Windows Operating System", "Firefox"],
    "Company": ["Microsoft Corporation", "Mozilla Corporation"],
}


def windows_events() -> list[NormalisedEvent]:
    events: list[NormalisedEvent] = []
    for path in sorted((DATA / "regression_data").rglob("*.json")):
        for _, item in read_path(path, "winjson"):
            if not isinstance(item, ParseProblem) and item.get("event.module") == "windows":
                events.append(item)
    return events


def _shuffle_case(text: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def vary(base: list[NormalisedEvent], count: int, seed: int) -> list[NormalisedEvent]:
    rng = random.Random(seed)
    out: list[NormalisedEvent] = []
    for i in range(count):
        source = base[i % len(base)]
        raw = dict(source["raw"])
        raw["Computer"] = f"ws{rng.randrange(5000):04d}.corp.example"
        raw["EventRecordID"] = i
        if rng.random() < 0.6:
            for name, choices in BENIGN.items():
                if name in raw:
                    raw[name] = rng.choice(choices).replace("{n}", str(rng.randrange(10**6)))
        else:
            for name in ("Image", "CommandLine", "ParentImage", "TargetFilename"):
                if isinstance(raw.get(name), str):
                    raw[name] = _shuffle_case(raw[name], rng)
        event = dict(source)
        event["raw"] = raw
        event["@timestamp"] = (
            f"2026-11-28T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.000000Z"
        )
        out.append(event)
    return out


def is_windows(logsource: dict[str, Any]) -> bool:
    return str(logsource.get("product", "")).lower() == "windows"


# --- Steppe -------------------------------------------------------------------------


def run_steppe(
    events: list[NormalisedEvent], profile: bool
) -> tuple[Counter[str], dict[str, float], SigmaEngine]:
    started = time.perf_counter()
    loaded = load_rules(RULE_DIRS)
    loaded.rules = [r for r in loaded.rules if is_windows(r.logsource.to_dict())]
    loaded_at = time.perf_counter()
    engine = SigmaEngine(loaded)
    engine.warm({route(e)[0] for e in events})
    compiled_at = time.perf_counter()
    counts: Counter[str] = Counter()
    matching = engine.matching_rules
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    start, cpu = time.perf_counter(), time.process_time()
    for event in events:
        for info in matching(event):
            counts[info.id] += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    times = {
        "load": loaded_at - started,
        "compile": compiled_at - loaded_at,
        "match": elapsed,
        "match_cpu": cpu,
    }
    return counts, times, engine


# --- Baseline: pySigma sqlite backend, one query per rule -----------------------------


def _logsource_clause(logsource: dict[str, Any]) -> str | None:
    category = str(logsource.get("category") or "").lower() or None
    service = str(logsource.get("service") or "").lower() or None
    parts: list[str] = []
    if service is not None:
        channels = SERVICES.get(service)
        if channels is None:
            return None
        parts.append("Channel IN (" + ", ".join(f"'{c}'" for c in channels) + ")")
    if category is not None:
        alternatives = [
            "(Channel IN ("
            + ", ".join(f"'{c}'" for c in channels)
            + ") AND EventID IN ("
            + ", ".join(f"'{i}'" for i in sorted(ids))
            + "))"
            for channels, ids, renames in CATEGORIES.get(category, ())
            if not renames
        ]
        if not alternatives:
            return None
        parts.append("(" + " OR ".join(alternatives) + ")")
    return " AND ".join(parts) if parts else "1"


def baseline_rules() -> tuple[list[SigmaRule], float]:
    started = time.perf_counter()
    docs: list[Any] = []
    for path in rule_files(RULE_DIRS):
        docs.extend(
            d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) if d
        )
    collection = SigmaCollection.from_dicts(docs, collect_errors=True)
    rules = [
        r
        for r in collection.rules
        if isinstance(r, SigmaRule) and not r.errors and is_windows(r.logsource.to_dict())
    ]
    return rules, time.perf_counter() - started


def convert(rules: list[SigmaRule]) -> tuple[dict[str, str], dict[str, str], float]:
    backend = sqliteBackend(collate_nocase=False, fulltext_field="fulltext")
    queries: dict[str, str] = {}
    rejected: dict[str, str] = {}
    started = time.perf_counter()
    for rule in rules:
        rid = str(rule.id)
        clause = _logsource_clause(rule.logsource.to_dict())
        if clause is None:
            rejected[rid] = "logsource without a Channel/EventID mapping"
            continue
        try:
            converted = backend.convert_rule(rule)
        except SigmaError as exc:
            rejected[rid] = " ".join(str(exc).split())[:100]
            continue
        where = " OR ".join(f"({q.split(' WHERE ', 1)[1]})" for q in converted)
        queries[rid] = f"SELECT COUNT(*) FROM logs WHERE ({clause}) AND ({where})"
    return queries, rejected, time.perf_counter() - started


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and _regex(pattern).search(str(value)) is not None


def run_baseline(
    events: list[NormalisedEvent], queries: dict[str, str]
) -> tuple[Counter[str], dict[str, float]]:
    conn = sqlite3.connect(":memory:")
    conn.create_function("REGEXP", 2, _regexp, deterministic=True)
    docs = [route(e)[1] for e in events]  # the same flat fields Steppe matches on
    started, cpu = time.perf_counter(), time.process_time()
    columns = sorted({name for doc in docs for name in doc})
    quoted = ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in columns)
    conn.execute(f"CREATE TABLE logs ({quoted}, fulltext TEXT COLLATE NOCASE)")
    placeholders = ", ".join("?" for _ in range(len(columns) + 1))
    index = {name: i for i, name in enumerate(columns)}
    rows = []
    for doc in docs:
        row: list[str | None] = [None] * len(columns)
        for name, value in doc.items():
            text = text_of(value)
            row[index[name]] = text if isinstance(text, str) or text is None else "\n".join(text)
        rows.append((*row, "\n".join(v for v in row if v is not None)))
    conn.executemany(f"INSERT INTO logs VALUES ({placeholders})", rows)
    # Zircolite's queries select on EventID/Channel first; an index lets SQLite seek.
    conn.execute('CREATE INDEX logs_event ON logs ("EventID", "Channel")')
    conn.commit()
    inserted = time.perf_counter()
    counts: Counter[str] = Counter()
    for rid, query in queries.items():
        while True:
            try:
                (count,) = conn.execute(query).fetchone()
                break
            except sqlite3.OperationalError as exc:
                # A field no event has: add it (all NULL), as Zircolite's schema would.
                missing = re.match(r"no such column: (.+)", str(exc))
                if missing is None:
                    raise
                name = missing.group(1).strip('"')
                conn.execute(f'ALTER TABLE logs ADD COLUMN "{name}" TEXT COLLATE NOCASE')
        if count:
            counts[rid] = count
    return counts, {
        "insert": inserted - started,
        "query": time.perf_counter() - inserted,
        "cpu": time.process_time() - cpu,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)

    base = windows_events()
    events = vary(base, args.events, args.seed)
    print(f"events: {len(events):,} (varied from {len(base)} regression events)")

    ours, times, engine = run_steppe(events, args.profile)
    print(
        f"steppe: {len(engine.rules):,} Windows rules; load {times['load']:.2f} s, "
        f"compile {times['compile']:.2f} s (load+compile {times['load'] + times['compile']:.2f} s); "
        f"match {times['match']:.2f} s = {len(events) / times['match']:,.0f} events/s "
        f"({len(events) / times['match_cpu']:,.0f} events per CPU second)"
    )

    rules, load_s = baseline_rules()
    queries, rejected, convert_s = convert(rules)
    theirs, btimes = run_baseline(events, queries)
    total = btimes["insert"] + btimes["query"]
    print(
        f"baseline (pySigma sqlite, one query per rule): {len(queries):,} rules converted, "
        f"{len(rejected)} rejected; load {load_s:.2f} s, convert {convert_s:.2f} s "
        f"(load+convert {load_s + convert_s:.2f} s); insert {btimes['insert']:.2f} s, "
        f"queries {btimes['query']:.2f} s = {len(events) / total:,.0f} events/s "
        f"({len(events) / btimes['cpu']:,.0f} events per CPU second)"
    )
    print(
        f"speed-up: {total / times['match']:.1f}x (wall), "
        f"{btimes['cpu'] / times['match_cpu']:.1f}x (CPU)"
    )

    compared = list(queries)
    disagree = [
        (rid, ours.get(rid, 0), theirs.get(rid, 0))
        for rid in compared
        if ours.get(rid, 0) != theirs.get(rid, 0)
    ]
    firing = sum(1 for rid in compared if theirs.get(rid, 0))
    print(
        f"per-rule hit counts compared over {len(compared):,} rules ({firing} fire, "
        f"{sum(theirs.values()):,} hits): {len(disagree)} disagree"
    )
    titles = {info.id: info.title for info in engine.rules}
    for rid, a, b in disagree[:30]:
        print(f"  {rid} {titles.get(rid, '?')}: steppe {a}, sqlite {b}")
    reasons = Counter(r.split(":")[0] for r in rejected.values())
    for reason, n in reasons.most_common(5):
        print(f"  rejected by the baseline: {n} × {reason}")
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
