"""Two live Steppe nodes sync both ways over TAXII; one is SIGKILLed mid-sync and restarted.

Each node is `steppe serve` in its own process over its own SQLite database, with its own
secret key. Each holds intel of every marking; each knows the other as a ``peer``
organisation with a sync account and an agreement (the default: TLP:CLEAR/GREEN
``federation`` objects, sightings anonymised). Node A runs the sync (pull from B, push to
B) in this process, as `steppe sync run` does. B is killed with SIGKILL twice — once
while A pulls, once while A pushes — and restarted on the same port; A's runs resume
from their cursors. At the end both nodes hold the same allowed objects, exactly once,
and nothing the agreement forbids; a further run in either direction changes nothing.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select

from feed_server import LOCAL_HOSTS
from helpers import indicator
from served import free_port, start_serve
from steppe.audit.trail import AuditTrail
from steppe.errors import SteppeError
from steppe.federation.agreements import add_peer, find_peer
from steppe.federation.sync import run_sync
from steppe.intel.importer import Marking, import_objects
from steppe.sharing import directory
from steppe.sharing.model import Distribution, OrgKind, Role, TlpLevel
from steppe.storage import migrate
from steppe.storage.engine import make_engine
from steppe.storage.schema import intel_objects, sync_cursors

pytestmark = pytest.mark.slow

FEDERATED = 1200  # federation objects per node (CLEAR and GREEN): what crosses
PAGE = 100  # small pages and envelopes: many steps to be killed between


@dataclass
class Node:
    name: str
    data_dir: Path
    key: str
    port: int
    engine: Engine
    member: str  # the member organisation's name
    allowed: set[str] = field(default_factory=set)  # ids that may cross to the other node
    kept: set[str] = field(default_factory=set)  # ids that must stay
    sightings: set[str] = field(default_factory=set)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        try:
            self.process = start_serve(self.data_dir, self.port, self.key)
        except RuntimeError as exc:
            raise RuntimeError(f"node {self.name} did not start") from exc

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def _sighting(of: str, where: str) -> dict[str, Any]:
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "sighting_of_ref": of,
        "where_sighted_refs": [where],
        "count": 3,
    }


def _node(tmp_path: Path, name: str, member: str, country: str, other: str) -> tuple[Node, str]:
    """A node with its intel; returns it and the token the other node uses here."""
    data_dir = tmp_path / name
    data_dir.mkdir()
    engine = make_engine(f"sqlite:///{data_dir / 'steppe.db'}")
    migrate.upgrade(engine)
    node = Node(name, data_dir, f"{name}-secret-key-0123456789", free_port(), engine, member)
    trail = AuditTrail(node.key, "test")
    with engine.begin() as conn:
        own = directory.add_organisation(conn, trail, member, country, OrgKind.MEMBER)
        peer = directory.add_organisation(conn, trail, f"Node-{other}", None, OrgKind.PEER)
        directory.add_user(conn, trail, f"{name.lower()}-analyst", own, frozenset({Role.ANALYST}))
        sync_user = f"{other.lower()}-sync"
        directory.add_user(conn, trail, sync_user, peer, frozenset({Role.ANALYST}))
        token = directory.create_token(conn, trail, sync_user).token
        identity = f"identity--{uuid.uuid4()}"
        batches: list[tuple[Marking, list[dict[str, Any]]]] = []
        green = [indicator(f"g{i}.{name}.example") for i in range(FEDERATED // 2)]
        clear = [indicator(f"c{i}.{name}.example") for i in range(FEDERATED // 2)]
        seen = [_sighting(green[i]["id"], identity) for i in range(10)]
        batches.append((Marking(Distribution.FEDERATION, TlpLevel.GREEN), green + seen))
        batches.append((Marking(Distribution.FEDERATION, TlpLevel.CLEAR), clear))
        node.allowed = {o["id"] for o in green + clear + seen}
        node.sightings = {o["id"] for o in seen}
        for marking, count in (
            (Marking(Distribution.COMMUNITY, TlpLevel.AMBER), 30),
            (Marking(Distribution.COMMUNITY, TlpLevel.GREEN), 30),
            (Marking(Distribution.COMMUNITY, TlpLevel.AMBER_STRICT), 10),
            (Marking(Distribution.ORGANISATION, TlpLevel.RED), 10),
        ):
            objs = [indicator(f"k{i}.{marking.tlp.value}.{name}.example") for i in range(count)]
            batches.append((marking, objs))
            node.kept |= {o["id"] for o in objs}
        for marking, objs in batches:
            data = orjson.dumps(
                {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objs}
            )
            import_objects(conn, trail, data, objs, owner=own, marking=marking, source="seed")
    return node, token


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    a, token_at_a = _node(tmp_path, "A", "KZ-CERT", "KZ", "B")
    b, token_at_b = _node(tmp_path, "B", "KG-CERT", "KG", "A")
    for here, there, token in ((a, b, token_at_b), (b, a, token_at_a)):
        with here.engine.begin() as conn:
            add_peer(
                conn,
                AuditTrail(here.key, "test"),
                f"node-{there.name.lower()}",
                directory.find_organisation(conn, f"Node-{there.name}"),
                api_root=f"{there.url}/taxii2/steppe/",
                collection="federation",
                username=f"{here.name.lower()}-sync",
                token=token,
                hosts=LOCAL_HOSTS,  # the other node listens on 127.0.0.1
            )
    a.start()
    b.start()
    try:
        yield a, b
    finally:
        for node in (a, b):
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
                node.process.wait(timeout=10)
            node.engine.dispose()


def _sync(node: Node, peer: str) -> Any:
    with node.engine.connect() as conn:
        found = find_peer(conn, peer)
    return run_sync(
        node.engine,
        AuditTrail(node.key, "test"),
        found,
        hosts=LOCAL_HOSTS,
        page_size=PAGE,
        envelope_size=PAGE,
    )


def _sync_killing(a: Node, b: Node, direction: str) -> None:
    """Run A's sync in a thread; SIGKILL B once A has saved a cursor of ``direction``."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            _sync(a, "node-b")
        except (SteppeError, Exception) as exc:
            errors.append(exc)

    with a.engine.begin() as conn:
        before = conn.execute(
            select(sync_cursors.c.updated_at).where(sync_cursors.c.direction == direction)
        ).scalar()
    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + 60
    while True:
        with a.engine.connect() as conn:
            now = conn.execute(
                select(sync_cursors.c.updated_at).where(sync_cursors.c.direction == direction)
            ).scalar()
        if now is not None and now != before:
            break
        assert thread.is_alive() and time.monotonic() < deadline, "the sync ended before any page"
        time.sleep(0.005)
    b.kill()
    thread.join(timeout=60)
    assert errors, "the sync finished before the node was killed"
    b.start()


def _holdings(node: Node, owner: str) -> list[tuple[str, str, str, str]]:
    with node.engine.connect() as conn:
        org = directory.find_organisation(conn, owner)
        rows = conn.execute(
            select(
                intel_objects.c.stix_id,
                intel_objects.c.distribution,
                intel_objects.c.tlp,
                intel_objects.c.body,
            ).where(intel_objects.c.owner_org_id == org.id)
        ).all()
    return [(r.stix_id, r.distribution, r.tlp, r.body) for r in rows]


def test_two_nodes_converge_after_a_kill(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    _sync_killing(a, b, "pull")
    _sync_killing(a, b, "push")
    report = _sync(a, "node-b")
    assert report.push_failures == 0 and report.refused == 0, report.messages
    # B's own run: it pulls A's federation objects (already pushed to it: no change) and
    # pushes nothing back, since what it received from A is `community` there.
    again = _sync(b, "node-a")
    assert again.push_failures == 0 and again.stored == 0

    for here, there in ((a, b), (b, a)):
        received = _holdings(here, f"Node-{there.name}")
        ids = [r[0] for r in received]
        assert len(ids) == len(set(ids)), "an object arrived twice"
        assert set(ids) == there.allowed  # everything allowed, nothing else
        assert not set(ids) & there.kept
        for stix_id, distribution, tlp, body in received:
            assert distribution == Distribution.COMMUNITY.value  # narrowed one step
            assert tlp in ("clear", "green")
            if stix_id in there.sightings:
                assert "where_sighted_refs" not in orjson.loads(body)  # anonymised

    with a.engine.connect() as conn:
        count_a = conn.execute(select(func.count()).select_from(intel_objects)).scalar()
    with b.engine.connect() as conn:
        count_b = conn.execute(select(func.count()).select_from(intel_objects)).scalar()
    _sync(a, "node-b")
    _sync(b, "node-a")
    with a.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(intel_objects)).scalar() == count_a
    with b.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(intel_objects)).scalar() == count_b
