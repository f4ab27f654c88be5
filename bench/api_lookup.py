"""Benchmark: bulk look-up over the REST API against the same look-up called in-process.

    python bench/api_lookup.py                  # 1,000,000 indicators, 50 look-ups of 10,000
    python bench/api_lookup.py --postgres       # the same, then again on PostgreSQL
    python bench/api_lookup.py --quick          # 50,000 indicators, 10 look-ups: seconds

Builds a store of ``--indicators`` indicators (35% domains, 30% IPv4, 15% URLs, 20%
SHA-256; every 20th repeats the value of the one before, as overlapping feeds do) in a
fresh database, owned by the seven organisations of a small coalition and spread over
the ``community``, ``groups`` (three sharing groups) and ``organisation``
distributions, imported with the importer in chunks. The caller is an analyst of one
member, in two of the three groups: it sees about 70% of the store.

Then ``--requests`` look-ups of ``--batch`` values each: ``--hit-rate`` of the values are
in the store (some visible to the caller, some not, so the policy filter decides),
``--invalid-rate`` are not valid observables, the rest are absent; a tenth of them are
spelt the way sensors send them (upper case, spaces), so canonicalisation has work. In
one run, each look-up goes through both paths, alternating which goes first:

1. the baseline: ``lookup_values(conn, actor, values)`` in this process, on a connection
   checked out of the pool, as the endpoint's handler does;
2. ``POST /api/v1/intel/lookup`` to a real server — uvicorn serving ``create_app`` in a
   subprocess, as ``steppe serve`` does — with httpx over loopback: the client's JSON
   encoding, HTTP, token check, validation, the same call, the response model, JSON
   back, and the client's decoding.

Both paths must return the same matches, and those the policy oracle
(``steppe.sharing.policy.can_see``) expects; the script stops if not. It prints p50,
p99 and mean latency and values/s for each path, the ratios HTTP / in-process, and
whether the aims (p99 ≤ 100 ms over HTTP, HTTP within 2× of in-process) are met. With
50 look-ups the p99 is, in effect, the slowest one. Calls are 50 ms apart, so that
neither process's tail work (freeing a request, returning a connection) lands in the
other's timing: on 2 cores, with other jobs about, that skewed the first versions.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine, text

from steppe.audit.trail import AuditTrail
from steppe.errors import InvalidObservable
from steppe.intel.guess import canonical_observable
from steppe.intel.importer import Marking, import_objects
from steppe.intel.queries import LookupResult, lookup_values
from steppe.intel.stix import tlp_marking_id
from steppe.sharing import directory
from steppe.sharing.model import Actor, Distribution, ObjectRights, OrgKind, Role, TlpLevel
from steppe.sharing.policy import can_see
from steppe.storage import migrate
from steppe.storage.engine import make_engine

KEY = "bench-secret-key-0123456789"
WHEN = "2026-11-01T00:00:00.000Z"
LOOKUP = "/api/v1/intel/lookup"
AIM_P99_MS = 100.0
AIM_RATIO = 2.0
PAUSE = 0.05  # seconds between timed calls

# The coalition: (name, country, kind), then (group, owner, members). The caller is an
# analyst of KZ-CERT: in "Central Asia" and "Caspian", not in "Pamir".
ORGS = (
    ("Bench Center", None, OrgKind.COORDINATOR),
    ("KZ-CERT", "KZ", OrgKind.MEMBER),
    ("KG-CERT", "KG", OrgKind.MEMBER),
    ("UZ-CERT", "UZ", OrgKind.MEMBER),
    ("TJ-CERT", "TJ", OrgKind.MEMBER),
    ("TM-CERT", "TM", OrgKind.MEMBER),
    ("AF-CERT", "AF", OrgKind.MEMBER),
)
GROUPS = (
    ("Central Asia", "Bench Center", ("KZ-CERT", "KG-CERT", "UZ-CERT", "TJ-CERT", "TM-CERT")),
    ("Pamir", "Bench Center", ("KG-CERT", "TJ-CERT", "AF-CERT")),
    ("Caspian", "KZ-CERT", ("KZ-CERT", "TM-CERT")),
)
CALLER = ("analyst.kz", "KZ-CERT")
# Groups each organisation may mark for (member or owner): the importer insists.
OWNER_GROUPS = tuple(
    tuple(g for g, (_n, owner, members) in enumerate(GROUPS) if name == owner or name in members)
    for name, _c, _k in ORGS
)
TLPS = {
    Distribution.COMMUNITY: (TlpLevel.CLEAR, TlpLevel.GREEN, TlpLevel.AMBER),
    Distribution.GROUPS: (TlpLevel.GREEN, TlpLevel.AMBER, TlpLevel.AMBER_STRICT, TlpLevel.RED),
    Distribution.ORGANISATION: (TlpLevel.AMBER, TlpLevel.RED),
}
WORDS = ("update", "cdn", "login", "secure", "mail", "api", "static", "portal", "sync", "files")
TLDS = ("com", "net", "org", "ru", "kz", "xyz", "top", "info", "online", "site")
DUPLICATE_EVERY = 20  # indicator i with i % 20 == 19 repeats the value of indicator i - 1

_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: any indicator's value and marking from its index, without storing them."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


@dataclass(frozen=True, slots=True)
class Placement:
    owner: int  # index into ORGS
    distribution: Distribution
    group: int | None  # index into GROUPS
    tlp: TlpLevel


class World:
    """The generated store as pure functions of (seed, index), for building and checking."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def value(self, b: int) -> tuple[str, str, str]:
        """(type, STIX pattern, canonical value) of value number ``b``, distinct for each ``b``."""
        h = _mix((self.seed << 48) + 2 * b)
        kind = h % 100
        word, tld = WORDS[(h >> 8) % 10], TLDS[(h >> 16) % 10]
        if kind < 35:
            v = f"{word}-{b:x}.{tld}"
            return "domain", f"[domain-name:value = '{v}']", v
        if kind < 65:
            n = (b * 2654435761 + self.seed * 40503) % 2**32  # a bijection for b < 2**32
            v = f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
            return "ipv4", f"[ipv4-addr:value = '{v}']", v
        if kind < 80:
            host, path = f"{word}{(h >> 24) % 100}.{tld}", WORDS[(h >> 32) % 10]
            v = f"http://{host}/{path}/{b:x}?id={(h >> 40) % 99991}"
            return "url", f"[url:value = '{v}']", v
        v = hashlib.sha256(f"{self.seed}:{b}".encode()).hexdigest()
        return "sha256", f"[file:hashes.'SHA-256' = '{v}']", v

    @staticmethod
    def value_of_indicator(i: int) -> int:
        return i - 1 if i % DUPLICATE_EVERY == DUPLICATE_EVERY - 1 else i

    def placement(self, i: int) -> Placement:
        h = _mix((self.seed << 48) + 2 * i + 1)
        owner = h % len(ORGS)
        roll = (h >> 8) % 100
        if roll < 45:
            distribution, group = Distribution.COMMUNITY, None
        elif roll < 80:
            choices = OWNER_GROUPS[owner]
            distribution, group = Distribution.GROUPS, choices[(h >> 16) % len(choices)]
        else:
            distribution, group = Distribution.ORGANISATION, None
        levels = TLPS[distribution]
        return Placement(owner, distribution, group, levels[(h >> 24) % len(levels)])

    def indicator(self, i: int, placement: Placement) -> dict[str, Any]:
        h = _mix((self.seed << 48) + 2 * i + 1)
        _kind, pattern, _value = self.value(self.value_of_indicator(i))
        return {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.UUID(int=_mix(h) << 64 | _mix(h + 1), version=4)}",
            "created": WHEN,
            "modified": WHEN,
            "name": f"generated indicator {i}",
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": WHEN,
            "confidence": 10 + (h >> 32) % 91,
            "object_marking_refs": [tlp_marking_id(placement.tlp)],
        }

    def carriers(self, b: int, count: int) -> list[int]:
        """The indicators (of ``count``) that carry value number ``b``."""
        found = [b] if b < count else []
        nxt = b + 1
        if nxt < count and self.value_of_indicator(nxt) == b:
            found.append(nxt)
        return found


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True, slots=True)
class Store:
    engine: Engine
    url: str
    actor: Actor
    token: str
    org_ids: tuple[int, ...]  # by index into ORGS
    group_ids: tuple[int, ...]  # by index into GROUPS
    indicators: int
    seconds: float
    vacuum_seconds: float  # PostgreSQL only
    observables: int


def build_store(url: str, world: World, count: int, chunk: int, label: str) -> Store:
    engine = make_engine(url)
    migrate.upgrade(engine)
    trail = AuditTrail(KEY, "bench")
    with engine.begin() as conn:
        orgs = [directory.add_organisation(conn, trail, n, c, k) for n, c, k in ORGS]
        by_name = {o.name: o for o in orgs}
        groups = []
        for name, owner, members in GROUPS:
            group = directory.add_group(conn, trail, name, by_name[owner])
            for member in members:
                group = directory.add_group_member(conn, trail, group, by_name[member])
            groups.append(group)
        directory.add_user(conn, trail, CALLER[0], by_name[CALLER[1]], frozenset({Role.ANALYST}))
        token = directory.create_token(conn, trail, CALLER[0], label="bench").token
        actor = directory.load_actor(conn, CALLER[0])

    observables = 0
    started = time.perf_counter()
    with Progress(
        TextColumn(f"building the {label} store"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task("build", total=count)
        for start in range(0, count, chunk):
            # One import per (owner, distribution, group) within the chunk: that is the
            # unit the importer marks; TLP comes from each object's own marking ref.
            parts: dict[tuple[int, Distribution, int | None], list[dict[str, Any]]] = defaultdict(
                list
            )
            for i in range(start, min(start + chunk, count)):
                p = world.placement(i)
                parts[(p.owner, p.distribution, p.group)].append(world.indicator(i, p))
            with engine.begin() as conn:
                for (owner, distribution, group), objects in parts.items():
                    report = import_objects(
                        conn,
                        trail,
                        orjson.dumps(objects),
                        objects,
                        owner=orgs[owner],
                        marking=Marking(
                            distribution,
                            TlpLevel.AMBER,
                            () if group is None else (groups[group],),
                        ),
                        source=f"bench chunk {start // chunk}",
                    )
                    assert report.created == len(objects), report
                    observables += report.observables
            progress.advance(task, min(chunk, count - start))
    seconds = time.perf_counter() - started
    vacuum = 0.0
    if engine.dialect.name == "postgresql":
        # What autovacuum would do a little later, so that it does not do it mid-run.
        started = time.perf_counter()
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        vacuum = time.perf_counter() - started
    # Both paths start from fresh connections: the server opens its own, and the
    # baseline should not inherit the builder's (its page cache, its prepared statements).
    engine.dispose()
    return Store(
        engine,
        url,
        actor,
        token,
        tuple(o.id for o in orgs),
        tuple(g.id for g in groups),
        count,
        seconds,
        vacuum,
        observables,
    )


# --------------------------------------------------------------------------- the requests


@dataclass(frozen=True, slots=True)
class Batch:
    values: list[str]
    expected: dict[int, int]  # index of a value the caller should find → objects it sees
    present: int  # values in the store, visible or not
    invalid: int


def _raw_spelling(kind: str, value: str, rng: random.Random) -> str:
    """How a sensor might send ``value``: case, spaces; the same canonical value."""
    if kind == "url":
        host, slash, rest = value.removeprefix("http://").partition("/")
        return "HTTP://" + host.upper() + slash + rest
    if kind == "ipv4":
        return f"  {value} "
    return value.upper() if rng.random() < 0.5 else f" {value}\t"


_INVALID = (
    lambda x: f"{256 + x % 700}.{x % 256}.1.1",  # octet out of range
    lambda x: f"not-an-indicator-{x}",  # no recognisable type
    lambda x: f"http://:{x}/no-host",  # URL without a host
    lambda x: f"bad..name-{x}.example",  # empty label
    lambda x: "ab" * 16 + f"{x:031x}",  # 63 hex digits: no hash is that long
)


def make_batches(
    world: World, store: Store, count: int, batches: int, size: int, hit_rate: float, bad: float
) -> list[Batch]:
    rng = random.Random(world.seed * 1_000_003 + 1)
    rights: dict[int, ObjectRights] = {}
    out: list[Batch] = []
    for _ in range(batches):
        hits, invalid = round(size * hit_rate), round(size * bad)
        roles = ["hit"] * hits + ["invalid"] * invalid + ["absent"] * (size - hits - invalid)
        rng.shuffle(roles)
        values: list[str] = []
        expected: dict[int, int] = {}
        for index, role in enumerate(roles):
            if role == "invalid":
                values.append(_INVALID[rng.randrange(len(_INVALID))](rng.getrandbits(32)))
                continue
            if role == "hit":
                b = rng.randrange(count)
                while world.value_of_indicator(b) != b:
                    b = rng.randrange(count)
                seen = 0
                for i in world.carriers(b, count):
                    if i not in rights:
                        p = world.placement(i)
                        group = () if p.group is None else (store.group_ids[p.group],)
                        rights[i] = ObjectRights(
                            store.org_ids[p.owner], p.distribution, p.tlp, frozenset(group)
                        )
                    seen += bool(can_see(store.actor, rights[i]))
                if seen:
                    expected[index] = seen
            else:
                b = count + rng.randrange(2**31)  # never stored: values are distinct per b
            kind, _pattern, value = world.value(b)
            values.append(_raw_spelling(kind, value, rng) if rng.random() < 0.1 else value)
        out.append(Batch(values, expected, hits, invalid))
    return out


def self_check(world: World, batch: Batch) -> None:
    """The generated values are what they claim: canonical, or invalid, as meant."""
    for b in range(0, 2000):
        kind, _pattern, value = world.value(b)
        assert canonical_observable(value) == (kind, value), (kind, value)
        assert canonical_observable(_raw_spelling(kind, value, random.Random(b))) == (kind, value)
    invalid = 0
    for value in batch.values:
        try:
            canonical_observable(value)
        except InvalidObservable:
            invalid += 1
    assert invalid == batch.invalid, (invalid, batch.invalid)


# --------------------------------------------------------------------------- the two paths


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(url: str, port: int) -> None:
    """The server subprocess: what `steppe serve` runs, on the benchmark's database."""
    import uvicorn

    from steppe.api.app import create_app, settle_heap
    from steppe.settings import Settings

    settings = Settings(
        data_dir=Path(tempfile.gettempdir()),
        database_url=url,
        secret_key=KEY,
        # The limiter still runs on every request; it just must not refuse the bench.
        api_rate_per_minute=1_000_000,
        api_rate_burst=1_000_000,
    )
    app = create_app(settings)
    settle_heap()  # as `steppe serve` does
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Server:
    def __init__(self, url: str, token: str) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", url, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
        )
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the API server exited with status {self.proc.returncode}")
            try:
                if self.client.get("/api/v1/me").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise SystemExit("the API server did not answer within 60 s")
            time.sleep(0.1)

    def lookup(self, values: list[str]) -> dict[str, Any]:
        response = self.client.post(LOOKUP, json={"values": values})
        if response.status_code != 200:
            raise SystemExit(f"{LOOKUP} answered {response.status_code}: {response.text[:500]}")
        found: dict[str, Any] = response.json()
        return found

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def in_process(engine: Engine, actor: Actor, values: list[str]) -> LookupResult:
    with engine.connect() as conn:
        return lookup_values(conn, actor, values)


def _summary_of_result(r: LookupResult) -> tuple[Any, ...]:
    matches = [
        (m.index, m.canonical, tuple(sorted(h.stix_id for h in m.objects))) for m in r.matches
    ]
    return matches, [i for i, _v, _r in r.invalid], r.unmatched


def _summary_of_json(r: dict[str, Any]) -> tuple[Any, ...]:
    matches = [
        (m["index"], m["canonical"], tuple(sorted(o["stix_id"] for o in m["objects"])))
        for m in r["matches"]
    ]
    return matches, [i["index"] for i in r["invalid"]], r["unmatched"]


def check(batch: Batch, local: LookupResult, remote: dict[str, Any]) -> int:
    """Stop unless both paths agree with each other and with the policy oracle."""
    mine, theirs = _summary_of_result(local), _summary_of_json(remote)
    if mine != theirs:
        raise SystemExit("the HTTP and in-process look-ups returned different results")
    found = {index: len(ids) for index, _canonical, ids in mine[0]}
    if found != batch.expected or len(mine[1]) != batch.invalid:
        raise SystemExit(
            f"the look-up found {len(found)} values ({len(mine[1])} invalid); the policy "
            f"oracle expects {len(batch.expected)} ({batch.invalid} invalid)"
        )
    return len(found)


def percentile(samples: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(samples)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Stats:
    p50: float
    p99: float
    mean: float
    rate: float  # values/s

    @classmethod
    def of(cls, seconds: list[float], batch: int) -> Stats:
        return cls(
            percentile(seconds, 0.5) * 1e3,
            percentile(seconds, 0.99) * 1e3,
            sum(seconds) / len(seconds) * 1e3,
            batch * len(seconds) / sum(seconds),
        )


def measure(store: Store, batches: list[Batch], warmup: int) -> tuple[Stats, Stats, float]:
    server = Server(store.url, store.token)
    try:
        local_s: list[float] = []
        remote_s: list[float] = []
        matches = 0
        for n, batch in enumerate(batches):
            timed = n >= warmup
            # Alternate which path goes first, so neither always meets a warmer cache.
            order = ("local", "remote") if n % 2 == 0 else ("remote", "local")
            for path in order:
                started = time.perf_counter()
                if path == "local":
                    local = in_process(store.engine, store.actor, batch.values)
                else:
                    remote = server.lookup(batch.values)
                elapsed = time.perf_counter() - started
                if timed:
                    (local_s if path == "local" else remote_s).append(elapsed)
                # Let the other side finish its tail (freeing the request, returning the
                # connection) so that it does not run into the next timed call.
                time.sleep(PAUSE)
            found = check(batch, local, remote)
            if timed:
                matches += found
    finally:
        server.close()
    size = len(batches[0].values)
    timed_count = len(batches) - warmup
    return Stats.of(local_s, size), Stats.of(remote_s, size), matches / timed_count


def report(
    label: str, store: Store, local: Stats, remote: Stats, matches: float, present: int
) -> None:
    vacuum = f", then VACUUM ANALYZE {store.vacuum_seconds:.1f} s" if store.vacuum_seconds else ""
    rate = store.indicators / store.seconds
    print(
        f"{label}: store built in {store.seconds:.1f} s ({rate:,.0f} indicators/s, "
        f"{store.observables:,} observables){vacuum}"
    )
    print(f"  {'path':<32} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'values/s':>11}")
    for name, s in (
        ("in-process lookup_values (base)", local),
        ("HTTP POST, uvicorn + httpx", remote),
    ):
        print(f"  {name:<32} {s.p50:>8.1f} {s.p99:>8.1f} {s.mean:>8.1f} {s.rate:>11,.0f}")
    r50, r99, rmean = remote.p50 / local.p50, remote.p99 / local.p99, remote.mean / local.mean
    print(f"  {'HTTP / in-process':<32} {r50:>7.2f}× {r99:>7.2f}× {rmean:>7.2f}×")
    print(
        f"  matches per look-up: {matches:.1f} of the {present:,} values in the store (the rest "
        "invisible to the caller), the same on both paths and as the policy oracle expects"
    )
    p99_ok = remote.p99 <= AIM_P99_MS
    ratio_ok = max(r50, r99) <= AIM_RATIO
    print(
        f"  aim p99 ≤ {AIM_P99_MS:.0f} ms over HTTP: {'met' if p99_ok else 'NOT met'} "
        f"({remote.p99:.1f} ms); aim HTTP within {AIM_RATIO:.0f}× of in-process: "
        f"{'met' if ratio_ok else 'NOT met'} (p50 {r50:.2f}×, p99 {r99:.2f}×)"
    )


def run(label: str, url: str, args: argparse.Namespace, world: World) -> None:
    store = build_store(url, world, args.indicators, args.chunk, label)
    try:
        batches = make_batches(
            world,
            store,
            args.indicators,
            args.warmup + args.requests,
            args.batch,
            args.hit_rate,
            args.invalid_rate,
        )
        self_check(world, batches[0])
        # The in-process baseline runs in this process, whose heap holds the store's
        # generator and the batches: settle it as the server settles its own, so that
        # neither path pays for full garbage collections of start-up objects.
        gc.collect()
        gc.freeze()
        local, remote, matches = measure(store, batches, args.warmup)
        report(label, store, local, remote, matches, batches[0].present)
    finally:
        store.engine.dispose()


def describe(args: argparse.Namespace) -> None:
    hits = round(args.batch * args.hit_rate)
    bad = round(args.batch * args.invalid_rate)
    print(
        f"store: {args.indicators:,} indicators (35% domains, 30% IPv4, 15% URLs, 20% SHA-256), "
        f"{len(ORGS)} organisations, {len(GROUPS)} sharing groups; "
        f"caller {CALLER[0]} ({CALLER[1]})"
    )
    print(
        f"look-ups: {args.requests} timed (+{args.warmup} warm-up) of {args.batch:,} values: "
        f"{hits:,} in the store (visible or not), {bad:,} invalid, "
        f"{args.batch - hits - bad:,} absent"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--indicators", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--requests", type=int, default=None, help="timed look-ups; default 50")
    parser.add_argument("--batch", type=int, default=10_000, help="values per look-up")
    parser.add_argument("--hit-rate", type=float, default=0.01)
    parser.add_argument("--invalid-rate", type=float, default=0.001)
    parser.add_argument("--warmup", type=int, default=3, help="untimed look-ups first")
    parser.add_argument("--chunk", type=int, default=50_000, help="indicators per transaction")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="50,000 indicators, 10 look-ups")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument(
        "--postgres-dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the server subprocess
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if args.indicators is None:
        args.indicators = 50_000 if args.quick else 1_000_000
    if args.requests is None:
        args.requests = 10 if args.quick else 50
    world = World(args.seed)
    describe(args)

    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.db", args, world)

    if args.postgres:
        name = f"steppe_bench_{uuid.uuid4().hex[:8]}"
        params = dict(p.split("=", 1) for p in args.postgres_dsn.split())
        with psycopg.connect(args.postgres_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            user, host = params.get("user", "postgres"), params.get("host", "127.0.0.1")
            url = f"postgresql+psycopg://{user}@{host}:{params.get('port', '5432')}/{name}"
            run("PostgreSQL", url, args, world)
        finally:
            with psycopg.connect(args.postgres_dsn, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
