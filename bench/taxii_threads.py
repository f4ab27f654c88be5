"""Benchmark: where a TAXII POST's server CPU goes, thread by thread (Linux /proc).

    python bench/taxii_threads.py               # 4 blocks of 10 envelopes of 500
    python bench/taxii_threads.py --blocks 8

``steppe serve`` runs in a subprocess with its Python threads named at the OS level
(``prctl``, so that ``/proc/<pid>/task/<tid>/comm`` says ``taxii-intake``,
``ioc-refresh``, ...). After one untimed envelope (the first import builds the
warninglist index) and a detector refresh interval, ``--blocks`` blocks of 10
envelopes of bench/taxii.py's generated indicators are each posted back to back and
waited for until their last status reads complete. Printed: objects/s over the blocks,
and each thread's CPU (user + system) an object stored, during the blocks and with the
detector's refresh that follows them (it indexes what was stored: work the server does
for every POSTed indicator, on the same two cores and under the same GIL). The threads
of the server's child processes count too, as ``child:<name>`` (``child:main`` for a
child's main thread): under ``steppe serve`` the TAXII import runs in one
(``STEPPE_TAXII_INTAKE_PROCESS=false`` in the environment for the in-process thread).
CPU time is steadier than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).parent))
from taxii import (
    TAXII,
    coalition,
    community_of_served,
    free_port,
    indicators,
    post_envelope,
    server_env,
    wait_complete,
)

# The server, with each Python thread's name given to the OS thread (Linux prctl
# PR_SET_NAME = 15; 15 characters at most).
SERVE = """
import ctypes, threading
libc = ctypes.CDLL(None)
start = threading.Thread._bootstrap_inner
def named(self):
    libc.prctl(15, self.name[:15].encode(), 0, 0, 0)
    start(self)
threading.Thread._bootstrap_inner = named
from steppe.cli.main import main
main()
"""
REFRESH_SECONDS = 10  # the detector's default refresh interval


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """Thread id -> (name, user + system CPU seconds) of process ``pid`` and of its child
    processes (the TAXII intake's import, with ``taxii_intake_process``): a child's
    threads are named ``child:<name>``."""
    found = {}
    tick = os.sysconf("SC_CLK_TCK")
    children: list[str] = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        task = Path(f"/proc/{pid}/task/{tid}")
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            name = (task / "comm").read_text().strip()
            children += (task / "children").read_text().split()
        except OSError:
            continue  # ended meanwhile
        found[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    for child in children:
        for tid, (name, cpu) in thread_cpu(int(child)).items():
            if not name.startswith("child:"):
                name = "child:main" if tid == int(child) else f"child:{name}"
            found[tid] = (name[:22], cpu)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--envelope", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="steppe-bench-threads-") as tmp:
        data_dir = Path(tmp)
        engine, _, _, token = coalition(data_dir)
        engine.dispose()
        port = free_port()
        env = server_env(data_dir)
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--port", str(port)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        headers = {"Authorization": f"Bearer {token}", "Accept": TAXII}
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=300
            ) as http:
                run(args, http, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


def run(args: argparse.Namespace, http: httpx.Client, pid: int) -> None:
    cid = community_of_served(http)
    wait_complete(
        http, post_envelope(http, cid, orjson.dumps({"objects": indicators(args.envelope, 9)}))
    )
    time.sleep(REFRESH_SECONDS + 2)  # the detector indexes the warm-up envelope
    envelopes = [
        orjson.dumps({"objects": indicators(args.envelope, 1000 + i)})
        for i in range(args.blocks * 10)
    ]
    before = thread_cpu(pid)
    started = time.perf_counter()
    for block in range(args.blocks):
        ids = [post_envelope(http, cid, data) for data in envelopes[block * 10 : (block + 1) * 10]]
        for status_id in reversed(ids):
            wait_complete(http, status_id, 0.02)
    elapsed = time.perf_counter() - started
    during = thread_cpu(pid)
    time.sleep(REFRESH_SECONDS + 2)
    after = thread_cpu(pid)
    stored = args.blocks * 10 * args.envelope
    print(f"{stored:,} objects in {elapsed:.2f} s: {stored / elapsed:,.0f} objects/s")
    print("server CPU an object, by thread (us; user + system):")
    print(f"  {'thread':<22} {'during the POSTs':>17} {'with the refresh after':>23}")
    totals = [0.0, 0.0]
    for tid in sorted(after):
        name, cpu = after[tid]
        start = before.get(tid, (name, 0.0))[1]
        spent = (during.get(tid, (name, start))[1] - start, cpu - start)
        if spent[1] < 0.005:
            continue
        totals = [totals[0] + spent[0], totals[1] + spent[1]]
        print(f"  {name:<22} {spent[0] / stored * 1e6:17.1f} {spent[1] / stored * 1e6:23.1f}")
    print(f"  {'all':<22} {totals[0] / stored * 1e6:17.1f} {totals[1] / stored * 1e6:23.1f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
