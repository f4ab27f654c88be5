"""Benchmark: bounded correlation, and the warninglist index against the library's check.

    python bench/intel_correlation.py                        # 1,000,000 attributes, cap 50
    python bench/intel_correlation.py --attributes 100000 --cap 20
    python bench/intel_correlation.py --warninglists-only

Correlation: ``--attributes`` objects of one observable each go into a fresh, migrated
SQLite database; ``--repeat-ratio`` of them (10%) carry a value drawn, with a skew, from
a small pool of hot values (a few past the cap, like CDN addresses or sinkholes); the
rest are unique. ``correlate`` then indexes them all. Printed: the correlation rows
against the ``cap × distinct values`` bound, and the pairwise rows a MISP-style table
would hold (Σ k·(k-1)/2 per value, computed from the counts, not materialised).

Warninglists: building :class:`steppe.intel.warninglists.WarninglistIndex` and checking
100,000 values (IPs, domains, hashes), against ``pymispwarninglists.WarningLists``: its
fast mode (exact strings only: it misses CIDR ranges and subdomains) and its slow mode
(the same semantics as ours), whose rate is measured on a sample because it tests every
entry of every list per value.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from steppe.intel.correlation import CorrelationConfig, correlate, correlation_rows
from steppe.intel.observables import ObservableType
from steppe.intel.warninglists import DEFAULT_DISABLED, WarninglistIndex, _load
from steppe.storage import migrate
from steppe.storage.bulk import bulk_insert
from steppe.storage.engine import make_engine, writing
from steppe.storage.schema import intel_objects, observables, organisations

NOW = "2026-11-01T00:00:00.000000Z"


def values(n_attributes: int, repeat_ratio: float, seed: int = 7) -> list[str]:
    """One value per attribute: unique ones, and repeats from a skewed pool of hot values."""
    rng = random.Random(seed)
    repeats = int(n_attributes * repeat_ratio)
    pool = max(1, repeats // 20)  # 20 objects per hot value on average
    out = [f"u{i}.unique.bench" for i in range(n_attributes - repeats)]
    for _ in range(repeats):
        # Pareto: most hot values are in a handful of objects, a few in thousands.
        rank = min(int(rng.paretovariate(1.2)) - 1, pool - 1)
        out.append(
            f"h{rank}.hot.bench" if rng.random() < 0.5 else f"h{rng.randrange(pool)}.hot.bench"
        )
    rng.shuffle(out)
    return out


def run(
    n_attributes: int = 1_000_000,
    repeat_ratio: float = 0.10,
    cap: int = 50,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Load ``n_attributes`` one-value objects, correlate them; the figures as a dict."""
    attrs = values(n_attributes, repeat_ratio)
    counts = Counter(attrs)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(database_url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate.upgrade(engine)
        with writing(engine) as conn:
            org = conn.execute(
                organisations.insert()
                .values(name="Bench", country="KZ", kind="member", created_at=NOW)
                .returning(organisations.c.id)
            ).scalar_one()
            started = time.perf_counter()
            columns = ("pk", "stix_id", "type", "modified", "owner_org_id", "distribution",
                       "tlp", "revoked", "is_current", "imported_at", "body")  # fmt: skip
            for start in range(0, n_attributes, 50_000):
                chunk = range(start + 1, min(start + 50_000, n_attributes) + 1)
                bulk_insert(conn, intel_objects, columns, [
                    (pk, f"indicator--{pk}", "indicator", NOW, org, "community", "green",
                     False, True, NOW, "{}") for pk in chunk
                ])  # fmt: skip
                bulk_insert(conn, observables, ("id", "object_pk", "type", "value"),
                            [(pk, pk, "domain", attrs[pk - 1]) for pk in chunk])  # fmt: skip
            loaded = time.perf_counter() - started
            started = time.perf_counter()
            report = correlate(conn, range(1, n_attributes + 1), CorrelationConfig(cap))
            took = time.perf_counter() - started
            rows = correlation_rows(conn)
        engine.dispose()
    distinct = len(counts)
    return {
        "attributes": n_attributes,
        "distinct_values": distinct,
        "repeated_values": sum(1 for c in counts.values() if c > 1),
        "largest_value": max(counts.values()),
        "over_cap_values": report.over_cap,
        "correlation_rows": rows,
        "bound": cap * distinct,
        "expected_rows": sum(c for c in counts.values() if c <= cap),
        "pairwise_rows": sum(c * (c - 1) // 2 for c in counts.values()),
        "load_s": loaded,
        "correlate_s": took,
    }


def warninglists(n_values: int = 100_000, slow_sample: int = 20) -> dict[str, float]:
    """Index build and checks/s, ours against pymispwarninglists' own."""
    rng = random.Random(3)
    sample: list[tuple[ObservableType, str]] = []
    for i in range(n_values):
        kind = i % 3
        if kind == 0:
            ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
            sample.append((ObservableType.IPV4, ip))
        elif kind == 1:
            sample.append((ObservableType.DOMAIN, f"host{i}.site{rng.randrange(5000)}.com"))
        else:
            sample.append((ObservableType.MD5, f"{rng.getrandbits(128):032x}"))
    sample[:3] = [(ObservableType.IPV4, "8.8.8.8"), (ObservableType.DOMAIN, "mail.google.com"),
                  (ObservableType.MD5, "d41d8cd98f00b204e9800998ecf8427e")]  # fmt: skip
    _load.cache_clear()
    started = time.perf_counter()
    index = WarninglistIndex.load(DEFAULT_DISABLED)
    build = time.perf_counter() - started
    started = time.perf_counter()
    hits = index.flag(sample)
    ours = n_values / (time.perf_counter() - started)

    started = time.perf_counter()
    from pymispwarninglists import WarningLists  # type: ignore[attr-defined]

    fast_lists = WarningLists(slow_search=False)
    lib_fast_build = time.perf_counter() - started
    started = time.perf_counter()
    lib_fast_hits = sum(1 for _k, v in sample if fast_lists.search(v))
    lib_fast = n_values / (time.perf_counter() - started)
    started = time.perf_counter()
    slow_lists = WarningLists(slow_search=True)
    lib_slow_build = time.perf_counter() - started
    started = time.perf_counter()
    for _kind, value in sample[:slow_sample]:
        slow_lists.search(value)
    lib_slow = slow_sample / (time.perf_counter() - started)
    return {
        "index_build_s": build,
        "index_checks_per_s": ours,
        "index_hits": len(hits),
        "lib_fast_build_s": lib_fast_build,
        "lib_fast_checks_per_s": lib_fast,
        "lib_fast_hits": lib_fast_hits,
        "lib_slow_build_s": lib_slow_build,
        "lib_slow_checks_per_s": lib_slow,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attributes", type=int, default=1_000_000)
    parser.add_argument("--repeat-ratio", type=float, default=0.10)
    parser.add_argument("--cap", type=int, default=50)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--warninglists-only", action="store_true")
    parser.add_argument("--no-warninglists", action="store_true")
    args = parser.parse_args()
    if not args.warninglists_only:
        r = run(args.attributes, args.repeat_ratio, args.cap, args.database_url)
        print(f"correlation: {r['attributes']:,} attributes, {r['distinct_values']:,} distinct "
              f"values ({r['repeated_values']:,} repeated, largest in {r['largest_value']:,} "
              f"objects), cap {args.cap}")  # fmt: skip
        print(f"  rows {r['correlation_rows']:,} (expected {r['expected_rows']:,}); bound "
              f"cap x distinct = {r['bound']:,}; {r['over_cap_values']:,} values over the cap")  # fmt: skip
        print(f"  pairwise (MISP-style) rows would be {r['pairwise_rows']:,}: "
              f"{r['pairwise_rows'] / max(r['correlation_rows'], 1):.2f}x ours")  # fmt: skip
        print(f"  load {r['load_s']:.1f} s; correlate {r['correlate_s']:.1f} s "
              f"({r['attributes'] / r['correlate_s']:,.0f} attributes/s)")  # fmt: skip
    if not args.no_warninglists:
        w = warninglists()
        print(f"warninglists: our index builds in {w['index_build_s']:.2f} s and checks "
              f"{w['index_checks_per_s']:,.0f} values/s ({w['index_hits']} hits)")  # fmt: skip
        print(f"  pymispwarninglists fast (exact only): {w['lib_fast_build_s']:.2f} s to load, "
              f"{w['lib_fast_checks_per_s']:,.0f} values/s ({w['lib_fast_hits']} hits)")  # fmt: skip
        print(f"  pymispwarninglists slow (CIDR, subdomains): {w['lib_slow_build_s']:.2f} s to "
              f"load, {w['lib_slow_checks_per_s']:,.1f} values/s -> ours is "
              f"{w['index_checks_per_s'] / w['lib_slow_checks_per_s']:,.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
