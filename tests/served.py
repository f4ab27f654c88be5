"""A real ``steppe serve`` in a subprocess, for the tests that kill it or run two nodes.

port = free_port()
process = start_serve(data_dir, port, key)       # returns once it answers HTTP
...
process.send_signal(signal.SIGKILL)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine

from steppe.audit.trail import AuditTrail
from steppe.sharing import directory
from steppe.sharing.model import OrgKind, Role
from steppe.storage import migrate
from steppe.storage.engine import make_engine

__all__ = ["children_of", "free_port", "member_store", "start_serve"]


def member_store(data_dir: Path, key: str, user: str, role: Role) -> tuple[Engine, str, int]:
    """A migrated SQLite store in ``data_dir`` for ``start_serve``: KZ-CERT and its user
    ``user`` with ``role``; the engine, that user's API token and KZ-CERT's id."""
    engine = make_engine(f"sqlite:///{data_dir / 'steppe.db'}")
    migrate.upgrade(engine)
    trail = AuditTrail(key=key, actor="test")
    with engine.begin() as conn:
        org = directory.add_organisation(conn, trail, "KZ-CERT", "KZ", OrgKind.MEMBER)
        directory.add_user(conn, trail, user, org, frozenset({role}))
        token = directory.create_token(conn, trail, user).token
    return engine, token, org.id


def children_of(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux /proc), e.g. a server's TAXII import."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended meanwhile
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_serve(
    data_dir: Path,
    port: int,
    key: str,
    *,
    env: dict[str, str] | None = None,
    stderr: int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """``steppe serve`` on ``port`` with ``data_dir`` and the secret ``key`` (and ``env``
    on top of this process's environment), once it answers: the TAXII discovery asks
    for credentials (401) when the whole app is up."""
    environment = {
        **os.environ,
        "STEPPE_SECRET_KEY": key,
        "STEPPE_DATA_DIR": str(data_dir),
        **(env or {}),
    }
    process = subprocess.Popen(
        [
            *(sys.executable, "-c", "from steppe.cli.main import main; main()"),
            *("serve", "--port", str(port)),
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/taxii2/", timeout=1).status_code == 401:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            detail = process.stderr.read().decode() if process.stderr else ""
            process.kill()
            raise RuntimeError(f"steppe serve did not start on port {port}: {detail}")
        time.sleep(0.05)
