"""Benchmark: how long each web UI page takes to render for the demo data.

    python bench/web_pages.py                 # every page, 20 requests each, 3 users
    python bench/web_pages.py --requests 50

Builds the demo (``steppe demo --no-serve``) in a temporary folder, serves it with
uvicorn in a subprocess (as ``steppe serve`` does), signs in over HTTP as the center's
coordinator (every member's alerts), ``analyst.kz`` and ``admin``, and times every page
end to end (request to last byte) with httpx over loopback. In the same run it times the
baseline: the sign-in page, which renders the page frame and nothing else, so the ratio
says what a page's own queries and drawing cost. The aim (issue 9): no page over one
second for the demo data.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

USERS = ("coordinator", "analyst.kz", "admin")
PAGES = (
    "/dashboard",
    "/dashboard?days=90",
    "/dashboard/live",
    "/alerts",
    "/alerts?status=",
    "/alerts/{alert}",  # the first alert of the queue
    "/incidents",
    "/incidents/{incident}",  # the first incident on the board (the demo playbook's)
    "/intel",
    "/intel?q=103.20.192.4",
    "/intel/{first}",  # the first object the user's search lists
    "/sharing",
    "/feeds",
    "/audit",
)
PASSWORD = "steppe-demo"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sign_in(client: httpx.Client, user: str) -> None:
    form = client.get("/login").text
    token = form.split('name="login_csrf" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/login", data={"user": user, "password": PASSWORD, "login_csrf": token})
    if answer.status_code != 303:
        sys.exit(f"sign-in as {user} failed: {answer.status_code}")


def _time(client: httpx.Client, path: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - started)
        if answer.status_code not in (200, 403):
            sys.exit(f"{path}: {answer.status_code}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="requests per page and user")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        env = {k: v for k, v in os.environ.items() if k != "STEPPE_SECRET_KEY"}
        # The console script installed beside this interpreter, as a user runs it.
        steppe = [str(Path(sys.executable).with_name("steppe"))]
        started = time.perf_counter()
        subprocess.run(
            [*steppe, "demo", "--dir", str(folder), "--no-serve"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        print(f"demo built in {time.perf_counter() - started:.1f} s")
        port = _free_port()
        server = subprocess.Popen(
            [*steppe, "--data-dir", str(folder), "serve", "--port", str(port)],
            env={**env, "STEPPE_DEMO": "true"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/login").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit("the server did not start")
                time.sleep(0.2)
            rows = []
            worst = 0.0
            for user in USERS:
                with httpx.Client(base_url=base) as client:
                    _sign_in(client, user)
                    _time(client, "/dashboard", 2)  # warm the caches (map shapes, templates)
                    baseline = statistics.median(_time(client, "/login", args.requests))
                    listing = client.get("/intel").text
                    first = listing.split('<a href="/intel/', 1)[1].split('"', 1)[0]
                    queue = client.get("/alerts?status=").text
                    alert = queue.split('<a href="/alerts/', 1)[1].split('"', 1)[0]
                    board = client.get("/incidents").text
                    incident = board.split('<a href="/incidents/', 1)[1].split('"', 1)[0]
                    for page in PAGES:
                        path = page.format(first=first, alert=alert, incident=incident)
                        times = _time(client, path, args.requests)
                        median, slowest = statistics.median(times), max(times)
                        worst = max(worst, slowest)
                        rows.append((user, path, median, slowest, median / baseline))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"{'user':<12} {'page':<62} {'median ms':>10} {'max ms':>8} {'× sign-in page':>15}")
    for user, path, median, slowest, ratio in rows:
        print(f"{user:<12} {path:<62} {median * 1000:>10.1f} {slowest * 1000:>8.1f} {ratio:>15.1f}")
    verdict = "met" if worst <= 1.0 else "NOT met"
    print(f"slowest page: {worst * 1000:.0f} ms — aim (every page under 1 s): {verdict}")


if __name__ == "__main__":
    main()
