"""Fixtures for TAXII: a small coalition, the app and a live uvicorn server.

Center   coordinator  root (admin)
KZ-CERT  member       ana (analyst), kzread (reader), kzsensor (sensor)
KG-CERT  member       bek (analyst)
UZ-CERT  member       uzi (analyst)
Peer     peer center  peer (analyst)
CSTO     sharing group of KZ-CERT and KG-CERT
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from conftest import KEY
from helpers import indicator
from served import member_store
from steppe.api.app import create_app
from steppe.audit.trail import AuditTrail
from steppe.settings import Settings
from steppe.sharing import directory
from steppe.sharing.model import OrgKind, Role

USERS: dict[str, tuple[str, Role]] = {
    "root": ("Center", Role.ADMIN),
    "ana": ("KZ-CERT", Role.ANALYST),
    "kzread": ("KZ-CERT", Role.READER),
    "kzsensor": ("KZ-CERT", Role.SENSOR),
    "bek": ("KG-CERT", Role.ANALYST),
    "uzi": ("UZ-CERT", Role.ANALYST),
    "peer": ("Peer", Role.ANALYST),
}
ORGS = {
    "Center": (None, OrgKind.COORDINATOR),
    "KZ-CERT": ("KZ", OrgKind.MEMBER),
    "KG-CERT": ("KG", OrgKind.MEMBER),
    "UZ-CERT": ("UZ", OrgKind.MEMBER),
    "Peer": (None, OrgKind.PEER),
}
TAXII_MEDIA = "application/taxii+json;version=2.1"


def served_store(data_dir: Path) -> tuple[Engine, dict[str, str]]:
    """A migrated SQLite store in ``data_dir`` for a ``steppe serve`` subprocess (the
    tests that kill it): KZ-CERT with its analyst ana, and the TAXII headers of ana's
    token."""
    engine, token, _ = member_store(data_dir, KEY, "ana", Role.ANALYST)
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": TAXII_MEDIA,
        "Content-Type": TAXII_MEDIA,
    }
    return engine, headers


def post_envelopes(
    client: httpx.Client, base: str, headers: dict[str, str], prefix: str, envelopes: int, size: int
) -> dict[str, list[str]]:
    """POST ``envelopes`` envelopes of ``size`` new indicators to the community collection
    at ``base`` (a TAXII API root); each must be acknowledged (202). Status id → the ids
    of the objects it acknowledged."""
    acknowledged: dict[str, list[str]] = {}
    for n in range(envelopes):
        objects = [indicator(f"{prefix}{n}-{i}.example") for i in range(size)]
        answer = client.post(
            f"{base}/collections/community/objects/",
            content=orjson.dumps({"objects": objects}),
            headers=headers,
        )
        assert answer.status_code == 202, answer.text
        acknowledged[answer.json()["id"]] = [o["id"] for o in objects]
    return acknowledged


def wait_imported(
    client: httpx.Client,
    base: str,
    headers: dict[str, str],
    acknowledged: dict[str, list[str]],
    seconds: float = 120,
) -> None:
    """Wait until each status reads complete, then check it succeeded for exactly the
    objects its POST acknowledged, in order."""
    deadline = time.monotonic() + seconds
    for status_id, ids in acknowledged.items():
        while True:
            status = client.get(f"{base}/status/{status_id}/", headers=headers).json()
            if status["status"] == "complete":
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
        assert (status["success_count"], status["failure_count"]) == (len(ids), 0)
        assert [s["id"] for s in status["successes"]] == ids


UNLIMITED = {"api_rate_per_minute": 10**7, "api_rate_burst": 10**7}


@dataclass(frozen=True)
class Coalition:
    engine: Engine
    tokens: dict[str, str]

    def bearer(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", "Accept": TAXII_MEDIA}


@pytest.fixture
def coalition(engine: Engine) -> Coalition:
    trail = AuditTrail(KEY, "test")
    tokens: dict[str, str] = {}
    with engine.begin() as conn:
        orgs = {
            name: directory.add_organisation(conn, trail, name, country, kind)
            for name, (country, kind) in ORGS.items()
        }
        group = directory.add_group(conn, trail, "CSTO", orgs["KZ-CERT"])
        for member in ("KZ-CERT", "KG-CERT"):
            group = directory.add_group_member(conn, trail, group, orgs[member])
        for user, (org, role) in USERS.items():
            directory.add_user(conn, trail, user, orgs[org], frozenset({role}))
            tokens[user] = directory.create_token(conn, trail, user).token
    return Coalition(engine, tokens)


@pytest.fixture
def make_app(engine: Engine, tmp_path: Path) -> Callable[..., FastAPI]:
    def build(**overrides: Any) -> FastAPI:
        settings = Settings(data_dir=tmp_path, secret_key=KEY, **{**UNLIMITED, **overrides})
        return create_app(settings, engine=engine)

    return build


@pytest.fixture
def app(make_app: Callable[..., FastAPI], coalition: Coalition) -> FastAPI:
    return make_app()


@pytest.fixture
def serve(engine: Engine) -> Iterator[Callable[[FastAPI], str]]:
    """``serve(app)``: the app under uvicorn on a free port; its base URL."""
    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(app: FastAPI) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="critical", access_log=False, lifespan="off", ws="none"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn:{port}", daemon=True
        )
        thread.start()
        running.append((server, thread, sock))
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        httpx.get(f"{base_url}/taxii2/")  # answers (401) once it serves
        return base_url

    yield start
    for server, thread, sock in running:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture
def live_server(serve: Callable[[FastAPI], str], app: FastAPI) -> str:
    return serve(app)
