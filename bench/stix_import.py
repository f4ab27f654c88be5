"""Benchmark: STIX 2.1 bundle import, end to end, against the stix2 library's own parse.

    python bench/stix_import.py                   # 100,000 indicators, SQLite and PostgreSQL
    python bench/stix_import.py --count 20000 --no-postgres
    python bench/stix_import.py --batch-size 100000   # one batch: no writer thread

Generates a bundle of ``--count`` indicators (domains, IPv4, URLs, SHA-256, MD5, a few
OR-patterns; ``--complex-share`` of them AND-patterns that need the full ANTLR parser),
then in one run:

1. the baseline: ``stix2.parse`` on the first ``--stix2-sample`` indicators of the same
   bundle (one by one, as a consumer of the library would; the rate is per indicator,
   so a sample gives it without waiting ~100 s for the whole bundle);
2. ``steppe intel import`` of the whole bundle into a fresh, migrated SQLite database:
   reading the file, JSON, checks, pattern parsing, canonicalisation, observables,
   version lookup, inserts, audit entry and commit (``--batch-size`` objects are checked
   while the batch before is inserted; see ``steppe.intel.importer``);
3. the same into a fresh database on PostgreSQL (``--postgres-dsn``).

It prints indicators/s for each and the ratio to the stix2 baseline.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import orjson
import psycopg

from steppe.audit.trail import AuditTrail
from steppe.intel.importer import BATCH_SIZE, Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.sharing import directory
from steppe.sharing.model import Distribution, OrgKind, TlpLevel
from steppe.storage import migrate
from steppe.storage.engine import make_engine

KEY = "bench-secret-key-0123456789"
WHEN = "2026-11-01T00:00:00.000Z"


def generate(count: int, complex_share: float, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = []
    for i in range(count):
        kind = rng.random()
        if rng.random() < complex_share:
            pattern = f"[domain-name:value = 'c{i}.example'] AND [network-traffic:dst_port = {rng.randint(1, 65535)}]"
        elif kind < 0.35:
            pattern = f"[domain-name:value = 'host{i}.{rng.choice(['evil', 'bad', 'c2'])}.example']"
        elif kind < 0.65:
            pattern = f"[ipv4-addr:value = '{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}']"
        elif kind < 0.8:
            pattern = f"[url:value = 'http://site{i}.example/path/{rng.randint(0, 10**6)}?q=1']"
        elif kind < 0.9:
            pattern = f"[file:hashes.'SHA-256' = '{rng.getrandbits(256):064x}']"
        elif kind < 0.97:
            pattern = f"[file:hashes.MD5 = '{rng.getrandbits(128):032x}']"
        else:
            pattern = f"[domain-name:value = 'a{i}.example' OR domain-name:value = 'b{i}.example']"
        objects.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                "created": WHEN,
                "modified": WHEN,
                "name": f"generated indicator {i}",
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": WHEN,
                "confidence": rng.randint(10, 100),
            }
        )
    bundle = {
        "type": "bundle",
        "id": f"bundle--{uuid.UUID(int=seed, version=4)}",
        "objects": objects,
    }
    return orjson.dumps(bundle)


def stix2_rate(data: bytes, sample: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import stix2

    objects = orjson.loads(data)["objects"][:sample]
    texts = [orjson.dumps(o).decode() for o in objects]  # the library's input: JSON text
    started = time.perf_counter()
    for text in texts:
        stix2.parse(text, allow_custom=False)
    return len(texts) / (time.perf_counter() - started)


def steppe_rate(url: str, path: Path, batch_size: int) -> tuple[float, int]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    trail = AuditTrail(KEY, "bench")
    with engine.begin() as conn:
        owner = directory.add_organisation(conn, trail, "Bench CERT", "KZ", OrgKind.MEMBER)
    started = time.perf_counter()
    data = path.read_bytes()
    objects = read_bundle(data, str(path))
    with engine.begin() as conn:
        report = import_objects(
            conn,
            trail,
            data,
            objects,
            owner=owner,
            marking=Marking(Distribution.COMMUNITY, TlpLevel.GREEN),
            source=path.name,
            batch_size=batch_size,
        )
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert report.created == len(objects), report
    return len(objects) / elapsed, report.observables


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--complex-share", type=float, default=0.0)
    parser.add_argument("--stix2-sample", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--postgres-dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.json"
        path.write_bytes(generate(args.count, args.complex_share))
        size_mb = path.stat().st_size / 1e6
        print(
            f"bundle: {args.count:,} indicators, {size_mb:.1f} MB, complex share {args.complex_share:.0%}, batches of {args.batch_size:,}"
        )

        base = stix2_rate(path.read_bytes(), min(args.stix2_sample, args.count))
        print(
            f"stix2.parse (baseline, {min(args.stix2_sample, args.count):,} indicators): {base:>10,.0f} indicators/s"
        )

        rate, observables = steppe_rate(f"sqlite:///{tmp}/bench.db", path, args.batch_size)
        print(
            f"steppe import → SQLite:      {rate:>10,.0f} indicators/s  {rate / base:6.1f}× stix2  ({observables:,} observables)"
        )

        if not args.no_postgres:
            name = f"steppe_bench_{uuid.uuid4().hex[:8]}"
            params = dict(p.split("=", 1) for p in args.postgres_dsn.split())
            with psycopg.connect(args.postgres_dsn, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{name}"
                rate, _ = steppe_rate(url, path, args.batch_size)
                print(
                    f"steppe import → PostgreSQL:  {rate:>10,.0f} indicators/s  {rate / base:6.1f}× stix2"
                )
            finally:
                with psycopg.connect(args.postgres_dsn, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
