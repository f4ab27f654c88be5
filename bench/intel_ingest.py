"""Benchmark: feeds end to end (fetch, read, store, commit), against the checked STIX import.

    python bench/intel_ingest.py                  # ipsum, a plain list, MISP, free text on SQLite
    python bench/intel_ingest.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres
    python bench/intel_ingest.py --correlation    # also bench/intel_correlation.py's run()
    python bench/intel_ingest.py --only csv --repull  # and a re-pull of ipsum, 2% changed

Each case pulls a ``file://`` feed into a fresh, migrated database with
:func:`steppe.ingest.feeds.pull.pull_feed` — reading the file, the format's reader,
canonical values, rows, warninglist flags, correlation, the feed's state, the audit entry
and the commit — and prints observables/s (values stored per second). Beside it, in the
same run, the baseline: the same values as a STIX 2.1 bundle of indicators through
``import_objects`` (every object checked, patterns parsed) into another fresh database,
and the ratio of the two.

- csv: the whole ipsum feed (tests/data/feeds/ipsum/ipsum.txt, ≈120,000 IPs, ``ipsum``
  preset) — the issue's aim is ≥ 100,000 observables/s into SQLite;
- plain: ``--plain-count`` generated values, one per line (domains, IPv4, SHA-256, URLs);
- misp: a generated MISP event of ``--misp-count`` attributes, as a ``misp-event`` feed
  (the formats helper's reader, then ``import_objects``);
- text: a generated report with ``--text-count`` defanged values in prose (``text``).

The warninglist index is built once before the timings (it is cached per process; its
build time is printed on its own).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import psycopg

from steppe.audit.trail import AuditTrail
from steppe.ingest.feeds.fetch import FetchLimits
from steppe.ingest.feeds.hosts import HostPolicy
from steppe.ingest.feeds.pull import pull_feed, register_feed
from steppe.intel.config import IntelConfig
from steppe.intel.feed_ingest import pattern_of
from steppe.intel.feeds import FeedFormat, FeedSpec
from steppe.intel.importer import Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.intel.warninglists import WarninglistIndex
from steppe.sharing import directory
from steppe.sharing.model import Distribution, OrgKind, TlpLevel
from steppe.storage import migrate
from steppe.storage.engine import make_engine, writing

ROOT = Path(__file__).resolve().parents[1]
IPSUM = ROOT / "tests" / "data" / "feeds" / "ipsum" / "ipsum.txt"
KEY = "bench-secret-key-0123456789"
TRAIL = AuditTrail(KEY, "bench")
WHEN = "2026-11-01T00:00:00.000Z"


class Database:
    """A fresh, migrated database per measurement: SQLite in ``folder``, or a new
    PostgreSQL database (dropped afterwards) when ``pg_admin`` is given."""

    def __init__(self, folder: Path, name: str, pg_admin: str | None) -> None:
        self.pg_admin = pg_admin
        self.cpu = 0.0  # CPU seconds of the last pull (time.process_time)
        self.name = f"steppe_bench_{name}_{random.randrange(10**9)}"
        if pg_admin:
            with psycopg.connect(_dsn(pg_admin), autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{self.name}"')
            url = pg_admin.rsplit("/", 1)[0] + f"/{self.name}"
        else:
            url = f"sqlite:///{folder / (name + '.db')}"
        self.engine = make_engine(url)
        migrate.upgrade(self.engine)
        with writing(self.engine) as conn:
            self.owner = directory.add_organisation(conn, TRAIL, "Bench", None, OrgKind.COORDINATOR)

    def close(self) -> None:
        self.engine.dispose()
        if self.pg_admin:
            with psycopg.connect(_dsn(self.pg_admin), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def feed_rate(db: Database, path: Path, fmt: FeedFormat, preset: str | None) -> tuple[int, float]:
    # file:// feeds may read only allowed folders (STEPPE_FEED_FILE_ROOTS): allow the
    # generated file's folder, as an operator would allow the feeds' folder.
    hosts = HostPolicy.from_entries((), [path.parent])
    with writing(db.engine) as conn:
        register_feed(
            conn,
            TRAIL,
            FeedSpec("bench", path.as_uri(), fmt, db.owner, Distribution.COMMUNITY, TlpLevel.CLEAR, preset=preset),
            hosts=hosts,
        )  # fmt: skip
    started, cpu = time.perf_counter(), time.process_time()
    limits = FetchLimits(hosts=hosts)
    result = pull_feed(db.engine, TRAIL, "bench", limits=limits, config=IntelConfig())
    took = time.perf_counter() - started
    # The WAL is copied into the database by a thread after the commit (storage.engine's
    # checkpoint_after): not waited for by the pull, but its CPU is counted here.
    for thread in threading.enumerate():
        if thread.name == "steppe-checkpoint":
            thread.join()
    db.cpu = time.process_time() - cpu  # every thread of the process: load-independent-ish
    if result.status != "ok" or result.stats is None:
        sys.exit(f"bench feed failed: {result.error}")
    stored = (
        result.stats.new
        if fmt in (FeedFormat.CSV, FeedFormat.PLAIN, FeedFormat.TEXT)
        else result.stats.entries
    )
    return stored, took


def repull_rate(tmp: Path, pg: str | None) -> tuple[int, float, float]:
    """The ipsum feed pulled, then pulled again from a changed file: 2% of its addresses
    gone, 2% new, the rest unchanged (what a daily pull of ipsum sees). Returns the
    entries and the seconds of the first and of the second pull."""
    lines = [line for line in IPSUM.read_text().splitlines() if line and line[0] != "#"]
    path = tmp / "repull" / "ipsum.txt"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    db = Database(tmp, "repull", pg)
    try:
        entries, first = feed_rate(db, path, FeedFormat.CSV, "ipsum")
        cut = len(lines) // 50
        fresh = [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}\t3" for i in range(cut)]
        path.write_text("\n".join(lines[cut:] + fresh) + "\n")
        later = time.time() + 60  # a newer mtime: the file:// fetch reads it again
        os.utime(path, (later, later))
        hosts = HostPolicy.from_entries((), [path.parent])
        started = time.perf_counter()
        result = pull_feed(db.engine, TRAIL, "bench", limits=FetchLimits(hosts=hosts))
        second = time.perf_counter() - started
        if result.stats is None or result.stats.unchanged != len(lines) - cut:
            sys.exit(f"bench re-pull failed: {result.status} {result.error}")
    finally:
        db.close()
    return entries, first, second


def stix_rate(db: Database, values: list[tuple[str, str]]) -> tuple[int, float]:
    """The baseline: the same values as indicators through the checked import."""
    objects = [
        {
            "type": "indicator", "spec_version": "2.1",
            "id": f"indicator--{_uuid(i)}", "created": WHEN, "modified": WHEN,
            "pattern": pattern_of(kind, value), "pattern_type": "stix", "valid_from": WHEN,
        }
        for i, (kind, value) in enumerate(values)
    ]  # fmt: skip
    data = orjson.dumps({"type": "bundle", "id": f"bundle--{_uuid(10**9)}", "objects": objects})
    started = time.perf_counter()
    parsed = read_bundle(data, "bench.json")
    with writing(db.engine) as conn:
        report = import_objects(
            conn, TRAIL, data, parsed, owner=db.owner,
            marking=Marking(Distribution.COMMUNITY, TlpLevel.CLEAR), source="bench.json",
            config=IntelConfig(),
        )  # fmt: skip
    return report.created, time.perf_counter() - started


def _uuid(i: int) -> str:
    h = f"{i:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"


def plain_values(count: int, seed: int = 5) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        k = i % 4
        if k == 0:
            out.append(("domain", f"h{i}.{rng.choice(['kzx', 'qvz', 'ptw'])}-bench{i % 97}.ru"))
        elif k == 1:
            out.append(
                (
                    "ipv4",
                    f"{rng.randint(31, 95)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                )
            )
        elif k == 2:
            out.append(("sha256", f"{rng.getrandbits(256):064x}"))
        else:
            out.append(("url", f"http://u{i}.qvz-bench.ru/p/{rng.getrandbits(32):x}"))
    return list(dict.fromkeys(out))


def misp_event(count: int) -> tuple[bytes, list[tuple[str, str]]]:
    attributes = []
    values = []
    for i, (kind, value) in enumerate(plain_values(count, seed=9)):
        misp_type = {"domain": "domain", "ipv4": "ip-dst", "sha256": "sha256", "url": "url"}[kind]
        attributes.append({
            "uuid": _uuid(i + 1), "type": misp_type, "category": "Network activity",
            "value": value, "to_ids": True, "timestamp": "1767225600", "comment": "bench",
        })  # fmt: skip
        values.append((kind, value))
    event = {"Event": {
        "uuid": _uuid(0), "info": "bench", "distribution": "3", "timestamp": "1767225600",
        "date": "2026-01-01", "Tag": [{"name": "tlp:clear"}], "Attribute": attributes,
    }}  # fmt: skip
    return orjson.dumps(event), values


def report_text(count: int) -> tuple[bytes, list[tuple[str, str]]]:
    values = plain_values(count, seed=11)
    lines = []
    for kind, value in values:
        shown = (
            value.replace(".", "[.]")
            if kind in ("domain", "ipv4")
            else value.replace("http", "hxxp")
        )
        lines.append(f"The actor then contacted {shown} from the staging host, see below.")
    return "\n".join(lines).encode(), values


def measure(
    name: str,
    tmp: Path,
    pg: str | None,
    write: Callable[[Path], tuple[Path, FeedFormat, str | None, list[tuple[str, str]]]],
) -> dict[str, Any]:
    path, fmt, preset, values = write(tmp)
    db = Database(tmp, f"{name}_feed", pg)
    try:
        stored, took = feed_rate(db, path, fmt, preset)
        cpu = db.cpu
    finally:
        db.close()
    base_db = Database(tmp, f"{name}_stix", pg)
    try:
        base_stored, base_took = stix_rate(base_db, values)
    finally:
        base_db.close()
    return {
        "case": name,
        "stored": stored,
        "seconds": took,
        "cpu": cpu,
        "rate": stored / took,
        "baseline_rate": base_stored / base_took,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres", metavar="URL", help="admin URL of a PostgreSQL server to bench on"
    )
    parser.add_argument("--plain-count", type=int, default=100_000)
    parser.add_argument("--misp-count", type=int, default=10_000)
    parser.add_argument("--text-count", type=int, default=10_000)
    parser.add_argument("--only", action="append", choices=["csv", "plain", "misp", "text"])
    parser.add_argument(
        "--correlation", action="store_true", help="run bench/intel_correlation.py too"
    )
    parser.add_argument(
        "--repull", action="store_true", help="also time a re-pull of ipsum with 2%% changed"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    WarninglistIndex.load(IntelConfig().warninglists_disabled)
    print(f"warninglist index built in {time.perf_counter() - started:.2f} s (once per process)")

    def csv_case(tmp: Path) -> tuple[Path, FeedFormat, str | None, list[tuple[str, str]]]:
        if not IPSUM.exists():
            sys.exit("tests/data/feeds/ipsum/ipsum.txt is missing")
        values = [
            ("ipv4", line.split("\t")[0])
            for line in IPSUM.read_text().splitlines()
            if line and line[0] != "#"
        ]
        return IPSUM, FeedFormat.CSV, "ipsum", values

    def plain_case(tmp: Path) -> tuple[Path, FeedFormat, str | None, list[tuple[str, str]]]:
        values = plain_values(args.plain_count)
        path = tmp / "plain.txt"
        path.write_text("".join(f"{v}\n" for _k, v in values))
        return path, FeedFormat.PLAIN, None, values

    def misp_case(tmp: Path) -> tuple[Path, FeedFormat, str | None, list[tuple[str, str]]]:
        data, values = misp_event(args.misp_count)
        path = tmp / "event.json"
        path.write_bytes(data)
        return path, FeedFormat.MISP_EVENT, None, values

    def text_case(tmp: Path) -> tuple[Path, FeedFormat, str | None, list[tuple[str, str]]]:
        data, values = report_text(args.text_count)
        path = tmp / "report.txt"
        path.write_bytes(data)
        return path, FeedFormat.TEXT, None, values

    cases = {"csv": csv_case, "plain": plain_case, "misp": misp_case, "text": text_case}

    def small(case: Callable[[Path], Any], keep: int = 200) -> Callable[[Path], Any]:
        def run(tmp: Path) -> tuple[Path, FeedFormat, str | None, list[tuple[str, str]]]:
            path, fmt, preset, values = case(tmp)
            if fmt in (FeedFormat.CSV, FeedFormat.PLAIN, FeedFormat.TEXT):
                lines = path.read_text().splitlines()[:keep]
                path = tmp / f"small-{path.name}"
                path.write_text("\n".join(lines) + "\n")
            return path, fmt, preset, values[:keep]

        return run

    # One-time costs (imports, taxonomies, the text extractor's grammar) are paid by a
    # small untimed round of every case first, so neither side of a ratio carries them.
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only or list(cases):
            measure(f"warm_{name}", Path(folder), args.postgres, small(cases[name]))
    where = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{'case':<6} {'stored':>8} {'seconds':>8} {'CPU s':>6} {'feed path/s':>12} {'STIX import/s':>14} {'ratio':>6}   ({where})"
    )
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only or list(cases):
            r = measure(name, Path(folder), args.postgres, cases[name])
            print(
                f"{r['case']:<6} {r['stored']:>8,} {r['seconds']:>8.2f} {r['cpu']:>6.2f} {r['rate']:>12,.0f} "
                f"{r['baseline_rate']:>14,.0f} {r['rate'] / r['baseline_rate']:>5.1f}x",
                flush=True,
            )
    if args.repull:
        with tempfile.TemporaryDirectory() as folder:
            entries, first, second = repull_rate(Path(folder), args.postgres)
        print(
            f"re-pull of ipsum, 2% gone and 2% new: {second:.2f} s ({entries / second:,.0f} "
            f"entries/s), against {first:.2f} s for its first pull ({first / second:.1f}x)"
        )
    if args.correlation:
        bench = Path(__file__).with_name("intel_correlation.py")
        if not bench.exists():
            print("bench/intel_correlation.py is not there; skipped")
            return
        sys.path.insert(0, str(bench.parent))
        from intel_correlation import run  # type: ignore[import-not-found]

        figures = run()
        print(
            f"correlation: {figures['attributes']:,} attributes, {figures['distinct_values']:,} "
            f"distinct values → {figures['correlation_rows']:,} rows "
            f"(bound cap × distinct = {figures['bound']:,}; pairwise would be {figures['pairwise_rows']:,}); "
            f"correlate {figures['correlate_s']:.1f} s"
        )


if __name__ == "__main__":
    main()
