"""Benchmark: TAXII 2.1 POST and paged GET against baselines measured in the same run.

    python bench/taxii.py                   # POST 10,000 in envelopes of 500; GET 100,000
    python bench/taxii.py --quick           # 2,000 / 20,000: seconds
    python bench/taxii.py --page 5000       # bigger GET pages
    python bench/taxii.py --sync            # TAXII POST imported before the 202 (the old way)

A fresh SQLite database (the embedded default) with one member organisation and one
analyst, served by `steppe serve` in a subprocess (uvicorn, as in production); the client
is httpx over loopback in this process. Three sets of ``--post`` generated indicators
(domains, IPv4, URLs, hashes) go in, in envelopes of ``--envelope``, one set per path:

1. baseline: ``import_objects`` in this process, one transaction per envelope (what the
   TAXII POST does under the HTTP layer);
2. baseline: ``POST /api/v1/intel/objects`` (the REST import) with the same envelopes;
3. ``POST /taxii2/steppe/collections/{community}/objects/`` (202 + a status resource
   with one entry per object).

The three take turns, ``--block`` envelopes each (10), so each meets about the same
database size. The server answers a TAXII POST 202 ``pending`` once the envelope is
spooled and imports in the background (``taxii_async_post``; under ``steppe serve`` in
a child process, ``STEPPE_TAXII_INTAKE_PROCESS=false`` in the environment for the
thread of before): a TAXII block is posted
back to back, as a client sends a feed, and timed from its first POST to the moment its
LAST status resource reads ``complete`` (polled), not to the 202s (printed apart). ``--sync`` serves with ``STEPPE_TAXII_ASYNC_POST=false`` (the
import before the answer, one transaction per envelope) for a comparison in one session.
One untimed envelope per path goes first: it builds the warninglist index (once per
process).

Then the store is filled up to ``--get`` objects (bulk import) and read page by page
(``--page`` objects a page, ``next`` cursors) three ways:

1. baseline: ``read_page`` + ``serialise_objects`` in this process (no HTTP);
2. baseline: ``GET /api/v1/intel/objects`` paged with its cursor (the REST search);
3. ``GET /taxii2/steppe/collections/{community}/objects/`` paged with ``next``.

Each GET path must return every object exactly once; the script stops if not. Printed:
objects/s for each path, p99 (and max) per request, and the ratios to the baselines.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine

from steppe.audit.trail import AuditTrail
from steppe.federation.collections import find_collection
from steppe.federation.reading import ObjectFilter, read_page, serialise_objects
from steppe.intel.importer import Marking, import_objects
from steppe.sharing import directory
from steppe.sharing.model import Distribution, OrgKind, Role, TlpLevel
from steppe.storage import migrate
from steppe.storage.engine import make_engine, writing

KEY = "bench-secret-key-0123456789abcdef"
WHEN = "2026-01-01T00:00:00.000Z"
TAXII = "application/taxii+json;version=2.1"


def indicators(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        kind = rng.random()
        if kind < 0.35:
            pattern = f"[domain-name:value = 'h{seed}-{i}.example']"
        elif kind < 0.65:
            pattern = f"[ipv4-addr:value = '{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}']"
        elif kind < 0.8:
            pattern = f"[url:value = 'http://site{seed}-{i}.example/p?q=1']"
        else:
            pattern = f"[file:hashes.'SHA-256' = '{rng.getrandbits(256):064x}']"
        out.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                "created": WHEN,
                "modified": WHEN,
                "name": f"generated indicator {seed}-{i}",
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": WHEN,
                "confidence": rng.randint(10, 100),
            }
        )
    return out


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def coalition(data_dir: Path) -> tuple[Engine, AuditTrail, int, str]:
    """A migrated SQLite store in ``data_dir`` with one member and its analyst "ana":
    the engine, the audit trail, the member's id and the analyst's API token."""
    engine = make_engine(f"sqlite:///{data_dir / 'steppe.db'}")
    migrate.upgrade(engine)
    trail = AuditTrail(KEY, "bench")
    with engine.begin() as conn:
        org = directory.add_organisation(conn, trail, "KZ-CERT", "KZ", OrgKind.MEMBER)
        directory.add_user(conn, trail, "ana", org, frozenset({Role.ANALYST}))
        token = directory.create_token(conn, trail, "ana").token
    return engine, trail, org, token


def server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a benched ``steppe serve`` of ``data_dir``: no rate limit, and
    ``settings`` (STEPPE_* names) on top."""
    return {
        **os.environ,
        "STEPPE_SECRET_KEY": KEY,
        "STEPPE_DATA_DIR": str(data_dir),
        "STEPPE_API_RATE_PER_MINUTE": "100000000",
        "STEPPE_API_RATE_BURST": "100000000",
        **settings,
    }


def community_of_served(http: httpx.Client) -> str:
    """Wait (30 s at most) until the ``steppe serve`` behind ``http`` answers TAXII
    discovery; the id of its community collection."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if http.get("/taxii2/").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.1)
    listing = http.get("/taxii2/steppe/collections/").json()["collections"]
    return str(next(c["id"] for c in listing if c["alias"] == "community"))


def post_envelope(http: httpx.Client, cid: str, data: bytes) -> str:
    """POST envelope ``data`` to collection ``cid`` over TAXII; the status id of its 202
    (whose counts must add up)."""
    answer = http.post(
        f"/taxii2/steppe/collections/{cid}/objects/",
        content=data,
        headers={"Content-Type": TAXII},
    )
    assert answer.status_code == 202, answer.text
    status = answer.json()
    counts = status["success_count"] + status["failure_count"] + status["pending_count"]
    assert counts == status["total_count"], status
    return str(status["id"])


def wait_complete(http: httpx.Client, status_id: str, pause: float = 0.005) -> None:
    """Poll status ``status_id`` every ``pause`` seconds until it reads complete, every
    object stored."""
    while True:
        status = http.get(f"/taxii2/steppe/status/{status_id}/").json()
        if status["status"] == "complete":
            assert status["success_count"] == status["total_count"], status
            return
        time.sleep(pause)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its live child processes (the TAXII
    intake's import) (Linux /proc): load-independent-ish."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(cpu_seconds(int(child)) for child in children)
    return total


def settle() -> None:
    """Keep the client's garbage collector out of the timings (same for every path)."""
    gc.collect()
    gc.freeze()


def line(label: str, count: int, elapsed: float, per_request: list[float]) -> float:
    rate = count / elapsed
    print(
        f"  {label:<44} {rate:>9,.0f} objects/s   p99 {p99(per_request) * 1000:7.1f} ms"
        f"   max {max(per_request) * 1000:7.1f} ms   ({len(per_request)} requests)"
    )
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--post", type=int, default=10_000)
    parser.add_argument("--envelope", type=int, default=500)
    parser.add_argument("--get", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--no-idle-wait",
        action="store_true",
        help="read at once after the fill-up (as before 2026-11-29)",
    )
    parser.add_argument(
        "--block", type=int, default=10, help="envelopes a path sends before the next's turn"
    )
    parser.add_argument(
        "--sync", action="store_true", help="serve with STEPPE_TAXII_ASYNC_POST=false"
    )
    args = parser.parse_args()
    if args.quick:
        args.post, args.get = 2_000, 20_000

    with tempfile.TemporaryDirectory(prefix="steppe-bench-taxii-") as tmp:
        data_dir = Path(tmp)
        engine, trail, org, token = coalition(data_dir)
        port = free_port()
        env = server_env(
            data_dir,
            STEPPE_TAXII_MAX_PAGE_SIZE=str(max(args.page, 10_000)),
            STEPPE_TAXII_ASYNC_POST="false" if args.sync else "true",
        )
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from steppe.cli.main import main; main()",
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}", "Accept": TAXII}
        try:
            with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
                cid = community_of_served(http)
                rates = run(args, engine, trail, org, http, cid, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
            engine.dispose()
    post_in, post_rest, post_taxii, get_in, get_rest, get_taxii = rates
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    print(
        f"POST: TAXII {post_taxii:,.0f}/s = {post_taxii / post_in:.2f}x in-process import, "
        f"{post_taxii / post_rest:.2f}x REST import; aim 20,000/s: {'met' if post_taxii >= 20_000 else 'NOT met'}"
    )
    print(
        f"GET:  TAXII {get_taxii:,.0f}/s = {get_taxii / get_in:.2f}x in-process read, "
        f"{get_taxii / get_rest:.2f}x REST search; aim 20,000/s: {'met' if get_taxii >= 20_000 else 'NOT met'}"
    )
    return 0


def run(
    args: argparse.Namespace,
    engine: Any,
    trail: AuditTrail,
    org: Any,
    http: httpx.Client,
    cid: str,
    server_pid: int,
) -> tuple[float, ...]:
    env_size = args.envelope
    print(f"POST {args.post:,} indicators in envelopes of {env_size} (community, TLP:GREEN):")
    marking = Marking(Distribution.COMMUNITY, TlpLevel.GREEN)

    sets = [indicators(args.post, seed) for seed in (1, 2, 3)]
    envelopes = [
        [orjson.dumps({"objects": objs[i : i + env_size]}) for i in range(0, len(objs), env_size)]
        for objs in sets
    ]
    # The three paths take turns, envelope by envelope, so each meets the same database
    # size and the same moments of the (shared, noisy) machine.
    bundle_prefix = b'{"type":"bundle","id":"bundle--'

    def in_process(data: bytes) -> None:
        objects = orjson.loads(data)["objects"]
        with writing(engine) as conn:
            import_objects(conn, trail, data, objects, owner=org, marking=marking, source="bench")

    def rest(data: bytes) -> None:
        body = data.replace(
            b'{"objects"', bundle_prefix + str(uuid.uuid4()).encode() + b'","objects"', 1
        )
        answer = http.post(
            "/api/v1/intel/objects",
            content=body,
            params={"distribution": "community", "tlp": "green"},
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 201, answer.text

    def taxii(data: bytes) -> None:
        wait_complete(http, post_envelope(http, cid, data))

    paths = [in_process, rest, taxii]
    # The first call of each path builds the warninglist index (in this process for the
    # in-process path, in the server for the other two): 0.6-2 s, once per process. It
    # was the p99 outlier of the POST figures; shown apart, kept out of the rates.
    first = []
    for path, seed in zip(paths, (7, 8, 9), strict=True):
        data = orjson.dumps({"objects": indicators(env_size, seed)})
        t0 = time.perf_counter()
        path(data)
        first.append(time.perf_counter() - t0)
    print(
        "  first call of each path (the first in a process builds the warninglist index;"
        " not in the rates): " + ", ".join(f"{t * 1000:,.0f} ms" for t in first)
    )
    # The paths take turns, a block of --block envelopes each, so each meets about the
    # same database size, the same moments of the (shared, noisy) machine and the same
    # rounds of the server's detector refresh. A TAXII block is posted back to back and
    # timed until its last status reads complete (the envelopes are imported in order:
    # the last one is polled, every 20 ms — a client polling harder steals the
    # importer's CPU — then the others, complete by then).
    timings: list[list[float]] = [[], []]
    spent = [0.0, 0.0, 0.0]
    answers: list[float] = []
    server_cpu = {1: 0.0, 2: 0.0}
    block = args.block
    settle()
    for start in range(0, len(envelopes[0]), block):
        for index in (0, 1):
            cpu0 = cpu_seconds(server_pid)
            for data in envelopes[index][start : start + block]:
                t0 = time.perf_counter()
                paths[index](data)
                timings[index].append(time.perf_counter() - t0)
                spent[index] += timings[index][-1]
            if index == 1:
                server_cpu[1] += cpu_seconds(server_pid) - cpu0
        cpu0 = cpu_seconds(server_pid)
        status_ids = []
        started = time.perf_counter()
        for data in envelopes[2][start : start + block]:
            t0 = time.perf_counter()
            status_ids.append(post_envelope(http, cid, data))
            answers.append(time.perf_counter() - t0)
        for status_id in reversed(status_ids):
            wait_complete(http, status_id, 0.02)
        spent[2] += time.perf_counter() - started
        server_cpu[2] += cpu_seconds(server_pid) - cpu0
    post_in, post_rest, post_taxii = (
        line(label, args.post, total_time, per_request)
        for label, total_time, per_request in zip(
            (
                "import_objects in-process (baseline)",
                "POST /api/v1/intel/objects (baseline)",
                "POST /taxii2/…/objects/ until complete",
            ),
            spent,
            (*timings, answers),
            strict=True,
        )
    )
    print(
        f"  (TAXII: blocks of {block} envelopes, timed from the first POST to the last"
        f" status complete; p99/max are of the 202 answers; answers alone"
        f" {args.post / sum(answers):,.0f} objects/s)"
    )
    print(
        f"  server CPU an object: REST {server_cpu[1] / args.post * 1e6:.0f} us,"
        f" TAXII {server_cpu[2] / args.post * 1e6:.0f} us (user + system, /proc)"
    )

    stored = 3 * (args.post + env_size)  # the warm-up envelopes too
    if args.get > stored:
        filler = indicators(args.get - stored, 4)
        data = orjson.dumps({"objects": filler})
        with writing(engine) as conn:
            import_objects(conn, trail, data, filler, owner=org, marking=marking, source="filler")
    total = max(args.get, stored)
    print(f"\nGET {total:,} objects in pages of {args.page}:")
    # The fill-up went into the database behind the server's back: its detector indexes
    # those indicators on its next refresh (every 10 s), seconds of CPU that would land
    # in whichever GET path runs then. Wait a refresh interval, then until the server
    # has been idle for 3 s.
    waited = time.perf_counter()
    if not args.no_idle_wait:
        time.sleep(11)
    quiet = 0
    while not args.no_idle_wait and quiet < 3 and time.perf_counter() - waited < 90:
        cpu0 = cpu_seconds(server_pid)
        time.sleep(1.0)
        quiet = quiet + 1 if cpu_seconds(server_pid) - cpu0 < 0.05 else 0
    print(f"  (waited {time.perf_counter() - waited:.0f} s for the server to be idle)")

    with engine.connect() as conn:
        actor = directory.load_actor(conn, "ana")
        community = find_collection(conn, actor, "community")
    settle()
    timings = []
    seen = 0
    after = None
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        with engine.connect() as conn:
            page = read_page(conn, actor, community, ObjectFilter(), limit=args.page, after=after)
        text = '{"more":true,"objects":[' + serialise_objects(page.rows) + "]}"
        text.encode()
        timings.append(time.perf_counter() - t0)
        seen += len(page.rows)
        if not page.more:
            break
        after = (page.rows[-1].date_added, page.rows[-1].pk)
    assert seen == total, (seen, total)
    get_in = line(
        "read_page + serialise in-process (baseline)", total, time.perf_counter() - started, timings
    )

    settle()
    timings = []
    ids: set[str] = set()
    cursor = None
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        params: dict[str, Any] = {"limit": min(args.page, 1000)}
        if cursor:
            params["cursor"] = cursor
        body = http.get("/api/v1/intel/objects", params=params).json()
        timings.append(time.perf_counter() - t0)
        ids.update(item["stix_id"] for item in body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert len(ids) == total, (len(ids), total)
    get_rest = line(
        f"GET /api/v1/intel/objects, {min(args.page, 1000)}/page (baseline)",
        total,
        time.perf_counter() - started,
        timings,
    )

    settle()
    timings = []
    ids = set()
    count = 0
    nxt = None
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        params = {"limit": args.page}
        if nxt:
            params["next"] = nxt
        answer = http.get(f"/taxii2/steppe/collections/{cid}/objects/", params=params)
        body = orjson.loads(answer.content)
        timings.append(time.perf_counter() - t0)
        objects = body.get("objects", [])
        count += len(objects)
        ids.update(o["id"] for o in objects)
        if not body["more"]:
            break
        nxt = body["next"]
    assert count == len(ids) == total, (count, len(ids), total)
    get_taxii = line(
        "GET /taxii2/…/objects/ with next (TAXII)", total, time.perf_counter() - started, timings
    )
    return post_in, post_rest, post_taxii, get_in, get_rest, get_taxii


if __name__ == "__main__":
    sys.exit(main())
