"""Benchmark: every export format over 1,000,000 indicators, streamed to a file — seconds
and peak RSS, at 100,000 and 1,000,000 indicators to show memory stays flat.

    python bench/exports.py                  # 100,000 and 1,000,000 indicators
    python bench/exports.py --sizes 20000    # seconds
    python bench/exports.py --formats nft,csv

For each size it builds a fresh, migrated SQLite store: a coalition of three members,
the requester's organisation one of them, and ``size`` indicators with one observable
each (30% IPv4, 5% IPv6, 5% CIDRs, 30% domains, 10% URLs, 20% SHA-256), written
straight into ``intel_objects`` / ``observables`` with :func:`steppe.storage.bulk.
bulk_insert` (the importer's column lists; generating the data is not what is
measured). 85% are ``community``, 10% organisation-only of another member (the policy
filter must drop them), 5% TLP:RED of the requester (the TLP ceiling drops them).

Each run happens in a fresh subprocess, so its peak RSS (``VmHWM``) is that run's
alone, and writes to a file in the same directory:

- the floor: the plain ``SELECT type, value`` of the joined rows in export order (no
  policy filter, no scoring, no formatting) written as lines with ``sqlite3``, with the
  64 MB page cache Steppe's engine sets;
- each format through :func:`steppe.response.exports.stream_export` as the CLI and API
  run it, for an analyst of the requester.

It prints seconds, values/s, the ratio to the floor, peak RSS and the output size, and
the aims (≤ 10 s per format at 1,000,000; memory flat as the count grows).
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

AIM_SECONDS = 10.0
NOW = "2026-11-28T00:00:00.000000Z"
CREATED = "2026-11-27T00:00:00.000000Z"  # a day old: no decay has expired anything
#: Creation times spread over the day before CREATED, so scores differ row to row.
_STARTS = [
    f"2026-11-26T{h:02d}:{m:02d}:{s:02d}.000000Z"
    for h in range(24)
    for m in range(60)
    for s in range(0, 60, 7)
]
FORMATS = ("csv", "nft", "rpz", "snort", "stix", "suricata", "suricata-datasets", "zeek")
_KINDS = (("ipv4", 30), ("ipv6", 5), ("cidr", 5), ("domain", 30), ("url", 10), ("sha256", 20))


def _value(kind: str, i: int, rng: random.Random) -> str:
    if kind == "ipv4":
        return str(ipaddress.IPv4Address(0x2D000000 + i))  # 45.0.0.0 onwards: public
    if kind == "ipv6":
        return f"2a0b:{i >> 16 & 0xFFFF:x}:{i & 0xFFFF:x}::1"
    if kind == "cidr":
        return f"{ipaddress.IPv4Address(0x59000000 + (i << 8))}/24"  # 89.0.0.0 onwards
    if kind == "domain":
        return f"h{i:x}.{rng.choice(('evil', 'bad', 'c2'))}{i % 997}.example"
    if kind == "url":
        return f"http://u{i:x}.example/p/{i}?id={rng.randrange(10**6)}"
    return f"{rng.getrandbits(256):064x}"


def build(path: Path, size: int, seed: int = 11) -> None:
    """A fresh store of ``size`` indicators (see the module docstring)."""
    from steppe.audit.trail import AuditTrail
    from steppe.intel.importer import OBJECT_COLUMNS, OBSERVABLE_COLUMNS
    from steppe.sharing import directory
    from steppe.sharing.model import OrgKind, Role
    from steppe.storage import migrate
    from steppe.storage.bulk import bulk_insert
    from steppe.storage.engine import make_engine, writing
    from steppe.storage.schema import intel_objects, observables

    rng = random.Random(seed)
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    trail = AuditTrail(key="bench-secret-key-0123456789", actor="bench")
    with writing(engine) as conn:
        orgs = [
            directory.add_organisation(conn, trail, name, cc, OrgKind.MEMBER)
            for name, cc in (("KZ-CERT", "KZ"), ("KG-CERT", "KG"), ("UZ-CERT", "UZ"))
        ]
        directory.add_user(conn, trail, "ana", orgs[0], frozenset({Role.ANALYST}))
    kinds = [k for k, share in _KINDS for _ in range(share)]
    chunk = 50_000
    with writing(engine) as conn:
        for start in range(0, size, chunk):
            objects, values = [], []
            for i in range(start + 1, min(size, start + chunk) + 1):
                kind = kinds[i % len(kinds)]
                roll = i % 20
                owner, dist, tlp = orgs[1].id, "community", ("green", "amber")[i % 2]
                if roll < 2:
                    owner, dist = orgs[2].id, "organisation"  # not the requester's
                elif roll == 2:
                    owner, dist, tlp = orgs[0].id, "organisation", "red"  # over the ceiling
                stix_id = f"indicator--00000000-0000-4000-8000-{i:012d}"
                value = _value(kind, i, rng)
                body = orjson.dumps({"type": "indicator", "id": stix_id, "v": value}).decode()
                start = _STARTS[i % len(_STARTS)]
                objects.append(
                    (
                        i,
                        stix_id,
                        "indicator",
                        start,
                        start,
                        owner,
                        dist,
                        tlp,
                        80,
                        start,
                        None,
                        False,
                        True,
                        True,
                        None,
                        f"bench {kind}",
                        CREATED,
                        body,
                    )
                )
                values.append((i, i, kind, value, None))
            bulk_insert(conn, intel_objects, OBJECT_COLUMNS, objects)
            bulk_insert(conn, observables, OBSERVABLE_COLUMNS, values)
    engine.dispose()


def run_floor(db: Path, out: Path) -> None:
    conn = sqlite3.connect(db)
    # The page cache Steppe's engine sets (steppe.storage.engine): the same memory budget.
    conn.execute("PRAGMA cache_size=-65536")
    query = (
        "SELECT v.type, v.value FROM intel_objects o JOIN observables v ON v.object_pk = o.pk "
        "ORDER BY v.type, v.value, o.stix_id, v.id"
    )
    with out.open("w") as sink:
        cursor = conn.execute(query)
        while rows := cursor.fetchmany(5_000):
            sink.write("".join(f"{t},{v}\n" for t, v in rows))
    conn.close()


def run_format(db: Path, fmt: str, out: Path) -> None:
    from steppe.heap import settle_heap
    from steppe.response.exports import ExportOptions, plan_export, stream_export
    from steppe.sharing import directory
    from steppe.storage.engine import make_engine

    settle_heap()  # as `steppe export` and `steppe serve` do before their work
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn, out.open("wb") as sink:
        actor = directory.load_actor(conn, "ana")
        plan = plan_export(actor, fmt, ExportOptions(), requester="KZ-CERT", now=NOW)
        for chunk in stream_export(conn, actor, plan):
            sink.write(chunk)
    print(plan.stats.added)


def peak_rss_kb() -> int:
    """This process's peak RSS. Not ``ru_maxrss``: a child keeps the maximum of the
    process it was forked from (here the builder, at 100+ MB), which hid the children's."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(db: Path, what: str, out: Path) -> tuple[float, float, int]:
    """Seconds, peak RSS (MB) and values of one run in a fresh interpreter."""
    code = (
        "import resource, sys, time; sys.path.insert(0, 'bench'); import exports as b; "
        "import steppe.response.exports, steppe.sharing.directory; "
        "from pathlib import Path; t = time.perf_counter(); "
        f"(b.run_floor if {what!r} == 'floor' else "
        f"(lambda d, o: b.run_format(d, {what!r}, o)))(Path({str(db)!r}), Path({str(out)!r})); "
        "print('T', time.perf_counter() - t, b.peak_rss_kb())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = done.stdout.split("\n")
    timing = next(line for line in lines if line.startswith("T "))
    _, seconds, rss_kb = timing.split()
    count = next((int(line) for line in lines if line.isdigit()), 0)
    return float(seconds), int(rss_kb) / 1024, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    formats = [f for f in args.formats.split(",") if f]
    results: dict[tuple[int, str], tuple[float, float, int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            db = Path(tmp) / f"store-{size}.db"
            started = time.perf_counter()
            build(db, size)
            print(f"built {size:,} indicators in {time.perf_counter() - started:.1f} s", flush=True)
            for what in ("floor", *formats):
                out = Path(tmp) / f"out-{size}-{what}"
                seconds, rss, count = _child(db, what, out)
                results[(size, what)] = (seconds, rss, count, out.stat().st_size)
                out.unlink()
                print(f"  {what:18} {seconds:6.2f} s  {rss:7.1f} MB", flush=True)
            db.unlink()
    print()
    print(
        "| format | indicators | values | seconds | values/s | × floor | peak RSS MB | output MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        floor = results[(size, "floor")][0]
        for what in ("floor", *formats):
            seconds, rss, count, nbytes = results[(size, what)]
            values = count or size
            print(
                f"| {what} | {size:,} | {values:,} | {seconds:.2f} | {values / seconds:,.0f} | "
                f"{seconds / floor:.1f}× | {rss:.0f} | {nbytes / 2**20:.0f} |"
            )
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print()
        for what in formats:
            grow = results[(large, what)][1] / results[(small, what)][1]
            ok = results[(large, what)][0] <= AIM_SECONDS
            print(f"{what:18} RSS ×{grow:.2f} from {small:,} to {large:,}; "
                  f"≤ {AIM_SECONDS:.0f} s at {large:,}: {'yes' if ok else 'no'}")  # fmt: skip


if __name__ == "__main__":
    main()
