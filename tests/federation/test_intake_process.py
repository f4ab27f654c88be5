"""The TAXII intake's import in a child process: it imports what the server spools, a
child that dies is replaced and nothing is imported twice, the child ends with the
server (stopped or killed) and a restart imports what was left, exactly once."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, func, select

from conftest import KEY
from federation.conftest import Coalition, post_envelopes, served_store, wait_imported
from helpers import indicator
from served import children_of, free_port, start_serve
from steppe.federation.intake import SpoolHeader
from steppe.federation.intake_process import IntakeProcess
from steppe.federation.writing import get_status
from steppe.sharing import directory
from steppe.storage.schema import intel_objects, taxii_statuses

ROOT = "/taxii2/steppe"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_until(condition: Any, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def intake(coalition: Coalition, tmp_path: Path) -> Iterator[IntakeProcess]:
    url = coalition.engine.url.render_as_string(hide_password=False)
    process = IntakeProcess(tmp_path / "taxii-intake", url, KEY, stop_timeout=30)
    process.start()
    yield process
    process.stop()


def _envelope(coalition: Coalition, tag: str, count: int) -> tuple[SpoolHeader, bytes, list[str]]:
    with coalition.engine.connect() as conn:
        actor = directory.load_actor(conn, "ana")
    objects = [indicator(f"{tag}-{i}.example") for i in range(count)]
    header = SpoolHeader(
        str(uuid.uuid4()), actor.user_id, "ana", "community", "2026-11-29T00:00:00.000000Z", count
    )
    return header, orjson.dumps({"objects": objects}), [o["id"] for o in objects]


def _stored(engine: Engine, ids: list[str]) -> list[int]:
    """How many times each of ``ids`` is stored."""
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                select(intel_objects.c.stix_id, func.count())
                .where(intel_objects.c.stix_id.in_(ids))
                .group_by(intel_objects.c.stix_id)
            ).all()
        )
    return [counts.get(i, 0) for i in ids]


def test_the_child_imports_what_the_server_spools(
    coalition: Coalition, intake: IntakeProcess
) -> None:
    child = intake.child_pid
    assert child is not None and child != os.getpid() and _alive(child)
    sent = [_envelope(coalition, f"p{n}", 20) for n in range(5)]
    for header, body, _ in sent:
        intake.spool(header, body)
    for header, _, _ in sent:
        _wait_until(lambda h=header: intake.pending(h.status_id, h.user_id) is None)
    _wait_until(lambda: intake.backlog() == 0)  # the child said so, envelope by envelope
    with coalition.engine.connect() as conn:
        actor = directory.load_actor(conn, "ana")
        for header, _, ids in sent:
            status = get_status(conn, actor, header.status_id)
            assert [s["id"] for s in status.successes] == ids
            assert status.pending_count == 0 and not status.failures
    assert _stored(coalition.engine, [i for _, _, ids in sent for i in ids]) == [1] * 100
    intake.stop()
    assert not _alive(child)  # no orphan
    assert intake.child_pid is None


def test_a_killed_child_is_replaced_and_nothing_goes_in_twice(
    coalition: Coalition, intake: IntakeProcess
) -> None:
    first = intake.child_pid
    assert first is not None
    os.kill(first, signal.SIGSTOP)  # nothing is imported until it is killed
    sent = [_envelope(coalition, f"k{n}", 30) for n in range(4)]
    for header, body, _ in sent:
        intake.spool(header, body)
    assert all(intake.pending(h.status_id, h.user_id) == h for h, _, _ in sent)
    os.kill(first, signal.SIGKILL)
    _wait_until(lambda: intake.child_pid not in (None, first))
    late = _envelope(coalition, "late", 10)  # told to the new child, and in its folder
    intake.spool(late[0], late[1])
    for header, _, _ in [*sent, late]:
        _wait_until(lambda h=header: intake.pending(h.status_id, h.user_id) is None)
    every = [i for _, _, ids in [*sent, late] for i in ids]
    assert _stored(coalition.engine, every) == [1] * len(every)
    with coalition.engine.connect() as conn:
        statuses = conn.execute(select(func.count()).select_from(taxii_statuses)).scalar_one()
    assert statuses == len(sent) + 1


# --- a real server, killed -----------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_server_s_child_ends_and_the_restart_imports_the_rest_once(
    tmp_path: Path,
) -> None:
    engine, headers = served_store(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}{ROOT}"
    proc = start_serve(tmp_path, port, KEY)
    try:
        _wait_until(lambda: len(children_of(proc.pid)) == 1, 30)
        (child,) = children_of(proc.pid)
        os.kill(child, signal.SIGSTOP)  # the import waits: every envelope stays spooled
        with httpx.Client(timeout=30) as client:
            acknowledged = post_envelopes(client, base, headers, "s", 6, 100)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert len(list((tmp_path / "taxii-intake").glob("*/*.envelope"))) == 6
    os.kill(child, signal.SIGCONT)
    _wait_until(lambda: not _alive(child), 30)  # its server is gone: it ends by itself

    proc = start_serve(tmp_path, port, KEY)
    try:
        with httpx.Client(timeout=30) as client:
            wait_imported(client, base, headers, acknowledged)
        (second,) = children_of(proc.pid)
    finally:
        # Ctrl-C in a terminal: SIGINT to the whole process group. The child ignores it;
        # the server, stopping, ends it.
        os.kill(second, signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    _wait_until(lambda: not _alive(second), 10)
    every = [i for ids in acknowledged.values() for i in ids]
    assert _stored(engine, every) == [1] * len(every)
    with engine.connect() as conn:
        statuses = conn.execute(select(func.count()).select_from(taxii_statuses)).scalar_one()
    engine.dispose()
    assert statuses == len(acknowledged)
    assert not list((tmp_path / "taxii-intake").glob("*/*.envelope"))
