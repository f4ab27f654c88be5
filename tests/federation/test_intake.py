"""Asynchronous TAXII POST: 202 pending, a group import, statuses that end right, and
envelopes acknowledged before a SIGKILL imported by the next start."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from conftest import KEY
from federation.conftest import TAXII_MEDIA, Coalition, post_envelopes, served_store, wait_imported
from helpers import indicator
from served import children_of, free_port, start_serve
from steppe.errors import Overloaded
from steppe.federation.intake import Spooled, SpoolHeader, TaxiiIntake
from steppe.federation.writing import fail_spooled, get_status, import_spooled
from steppe.sharing import directory
from steppe.sharing.model import Distribution
from steppe.storage.engine import writing
from steppe.storage.schema import intel_objects, organisations, taxii_statuses

ROOT = "/taxii2/steppe"
RED_MARKING = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"


def _header(total: int, user_id: int = 7) -> SpoolHeader:
    return SpoolHeader(
        str(uuid.uuid4()), user_id, "ana", "c1", "2026-11-29T00:00:00.000000Z", total
    )


def test_spooled_envelopes_wait_as_pending_then_go_in_one_group(tmp_path: Path) -> None:
    groups: list[list[str]] = []
    release = threading.Event()

    def import_group(envelopes: list[Spooled]) -> None:
        release.wait(10)
        groups.append([e.header.status_id for e in envelopes])

    intake = TaxiiIntake(tmp_path / "intake", import_group, every=0.01)
    intake.start()
    try:
        first = _header(1)
        intake.spool(first, b'{"objects": [{}]}')
        time.sleep(0.1)  # the worker holds the first one, blocked
        later = [_header(2) for _ in range(3)]
        for header in later:
            intake.spool(header, b'{"objects": [{}, {}]}')
        waiting = intake.pending(later[0].status_id, 7)
        assert waiting == later[0]
        assert intake.pending(later[0].status_id, 8) is None  # another user's
        assert intake.pending("../../etc/passwd", 7) is None
        release.set()
        deadline = time.monotonic() + 10
        while intake.pending(later[-1].status_id, 7) is not None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        intake.stop()
    assert groups == [[first.status_id], [h.status_id for h in later]]  # one group of three
    assert not list((tmp_path / "intake").glob("*/*.envelope"))


def _stopped_intake(tmp_path: Path, import_group: Any, **options: Any) -> TaxiiIntake:
    """An intake whose rounds the test runs itself (``_round``)."""
    intake = TaxiiIntake(tmp_path / "intake", import_group, every=0.01, **options)
    intake.start()
    intake.stop()
    intake._worker.start = lambda: None  # type: ignore[method-assign]
    intake.start()
    return intake


def _due_now(intake: TaxiiIntake) -> None:
    """Skip the back-offs: the whole intake's and each failed envelope's."""
    intake._retry_at = 0.0
    intake._attempts = {k: (n, first, 0.0) for k, (n, first, _) in intake._attempts.items()}


def test_a_group_that_fails_is_retried_one_by_one_and_a_failure_waits(tmp_path: Path) -> None:
    bad = _header(1)
    done: list[str] = []
    attempts: list[int] = []

    def import_group(envelopes: list[Spooled]) -> None:
        attempts.append(len(envelopes))
        if any(e.header == bad for e in envelopes):
            raise RuntimeError("cannot import this one")
        done.extend(e.header.status_id for e in envelopes)

    intake = _stopped_intake(tmp_path, import_group)
    good = _header(1)
    intake.spool(bad, b'{"objects": [{}]}')  # first in the queue: it must not hold up good
    intake.spool(good, b'{"objects": [{}]}')
    intake._round()
    assert done == [good.status_id]
    assert attempts == [2, 1, 1]
    assert intake.pending(bad.status_id, 7) == bad  # kept, for a later round
    assert intake.backlog() == 1
    later = _header(1)
    intake.spool(later, b'{"objects": [{}]}')
    intake._round()
    assert done == [good.status_id, later.status_id]  # not held up by bad either
    assert attempts == [2, 1, 1, 1]  # bad waits its own back-off: not tried at once
    _due_now(intake)
    intake._round()
    assert attempts == [2, 1, 1, 1, 1] and intake.backlog() == 1


def test_an_envelope_that_keeps_failing_while_others_go_in_is_given_up(tmp_path: Path) -> None:
    """Its status ends (every object failed, with why) instead of pending forever, and its
    file is kept for an operator; the others go in."""
    bad = _header(2)
    done: list[str] = []
    given_up: list[tuple[str, str]] = []

    def import_group(envelopes: list[Spooled]) -> None:
        if any(e.header == bad for e in envelopes):
            raise RuntimeError("a bug this envelope meets")
        done.extend(e.header.status_id for e in envelopes)

    def give_up(envelope: Spooled, message: str) -> None:
        given_up.append((envelope.header.status_id, message))

    intake = _stopped_intake(
        tmp_path, import_group, give_up=give_up, max_attempts=3, give_up_after=0.0
    )
    intake.spool(bad, b'{"objects": [{}, {}]}')
    for _ in range(3):
        intake.spool(_header(1), b'{"objects": [{}]}')
        intake._round()
        _due_now(intake)
    assert len(done) == 3
    assert [sid for sid, _ in given_up] == [bad.status_id]
    assert "failed to import this envelope 3 times" in given_up[0][1]
    assert intake.backlog() == 0 and intake.pending(bad.status_id, 7) is None
    kept = tmp_path / "intake" / "failed" / f"{bad.status_id}.envelope"
    assert kept.read_bytes().endswith(b'{"objects": [{}, {}]}')
    intake.stop()
    intake.start()  # a restart neither imports nor takes over the failed folder
    assert intake.backlog() == 0 and kept.exists()


def test_nothing_is_given_up_while_every_import_fails(tmp_path: Path) -> None:
    """A database that is down fails every envelope: they all wait, however long."""
    given_up: list[str] = []

    def import_group(envelopes: list[Spooled]) -> None:
        raise RuntimeError("database unreachable")

    intake = _stopped_intake(
        tmp_path,
        import_group,
        give_up=lambda e, _: given_up.append(e.header.status_id),
        max_attempts=2,
        give_up_after=0.0,
    )
    headers = [_header(1) for _ in range(3)]
    for header in headers:
        intake.spool(header, b'{"objects": [{}]}')
    for _ in range(6):
        _due_now(intake)
        intake._round()
    assert given_up == []
    assert intake.backlog() == 3
    assert all(intake.pending(h.status_id, 7) == h for h in headers)


def test_a_restart_takes_over_a_dead_process_spool(tmp_path: Path) -> None:
    imported: list[bytes] = []
    dead = TaxiiIntake(tmp_path / "intake", lambda group: None)
    dead._worker.start = lambda: None  # type: ignore[method-assign]
    dead.spool(_header(1), b'{"objects": [1]}')
    assert dead._lock_fd is not None
    os.close(dead._lock_fd)  # what its death does to its lock

    def import_group(envelopes: list[Spooled]) -> None:
        imported.extend(e.body for e in envelopes)

    heir = TaxiiIntake(tmp_path / "intake", import_group, every=0.01)
    heir.start()
    try:
        deadline = time.monotonic() + 10
        while not imported:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        heir.stop()
    assert imported == [b'{"objects": [1]}']
    assert len(list((tmp_path / "intake").iterdir())) == 1  # the dead folder is gone


def _poll(client: TestClient, coalition: Coalition, status_id: str, user: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        answer = client.get(f"{ROOT}/status/{status_id}/", headers=coalition.bearer(user))
        assert answer.status_code == 200, answer.text
        status: dict[str, Any] = answer.json()
        counts = status["success_count"] + status["failure_count"] + status["pending_count"]
        assert status["total_count"] == counts
        if status["status"] == "complete":
            return status
        assert status["pending_count"] > 0
        assert time.monotonic() < deadline, status
        time.sleep(0.01)


def test_async_post_answers_pending_then_reports_each_object(
    app: FastAPI, coalition: Coalition
) -> None:
    good = indicator("async-ok.example")
    red = indicator("red.example", object_marking_refs=[RED_MARKING])
    broken = {"type": "indicator", "id": f"indicator--{uuid.uuid4()}"}
    with TestClient(app) as client:
        answer = client.post(
            f"{ROOT}/collections/community/objects/",
            content=orjson.dumps({"objects": [good, red, broken]}),
            headers={**coalition.bearer("ana"), "Content-Type": TAXII_MEDIA},
        )
        assert answer.status_code == 202, answer.text
        first = answer.json()
        assert first["status"] == "pending"
        assert (first["total_count"], first["pending_count"]) == (3, 3)
        assert (first["success_count"], first["failure_count"]) == (0, 0)
        # Only the poster sees the status, pending or not.
        other = client.get(f"{ROOT}/status/{first['id']}/", headers=coalition.bearer("bek"))
        assert other.status_code == 404
        status = _poll(client, coalition, first["id"], "ana")
        assert status["request_timestamp"] == first["request_timestamp"]
        assert [s["id"] for s in status["successes"]] == [good["id"]]
        failed = {f["id"]: f["message"] for f in status["failures"]}
        assert set(failed) == {red["id"], broken["id"]}
        assert "RED" in failed[red["id"]].upper()
        assert all(failed.values())
        other = client.get(f"{ROOT}/status/{first['id']}/", headers=coalition.bearer("bek"))
        assert other.status_code == 404
    with coalition.engine.connect() as conn:
        row = conn.execute(
            select(intel_objects.c.distribution, organisations.c.name)
            .join(organisations, organisations.c.id == intel_objects.c.owner_org_id)
            .where(intel_objects.c.stix_id == good["id"])
        ).one()
        assert (row.distribution, row.name) == (Distribution.COMMUNITY.value, "KZ-CERT")
        stored = conn.execute(
            select(func.count())
            .select_from(intel_objects)
            .where(intel_objects.c.stix_id.in_([red["id"], broken["id"]]))
        ).scalar_one()
        assert stored == 0


def test_async_post_to_the_organisation_collection_stays_in_the_organisation(
    app: FastAPI, coalition: Coalition
) -> None:
    obj = indicator("own.example")
    with TestClient(app) as client:
        answer = client.post(
            f"{ROOT}/collections/organisation/objects/",
            content=orjson.dumps({"objects": [obj]}),
            headers={**coalition.bearer("ana"), "Content-Type": TAXII_MEDIA},
        )
        assert answer.status_code == 202, answer.text
        assert _poll(client, coalition, answer.json()["id"], "ana")["success_count"] == 1
        community = f"{ROOT}/collections/community/objects/{obj['id']}/"
        assert client.get(community, headers=coalition.bearer("bek")).status_code == 404
        own = f"{ROOT}/collections/organisation/objects/{obj['id']}/"
        assert client.get(own, headers=coalition.bearer("ana")).status_code == 200


def test_a_reader_is_refused_at_once_not_after_spooling(
    app: FastAPI, coalition: Coalition, tmp_path: Path
) -> None:
    with TestClient(app) as client:
        answer = client.post(
            f"{ROOT}/collections/community/objects/",
            content=orjson.dumps({"objects": [indicator("r.example")]}),
            headers={**coalition.bearer("kzread"), "Content-Type": TAXII_MEDIA},
        )
    assert answer.status_code == 403
    assert not list((tmp_path / "taxii-intake").glob("*/*.envelope"))


def test_a_full_intake_refuses_more_and_spools_nothing(tmp_path: Path) -> None:
    """Envelopes wait in memory until imported: past the bound a POST must wait."""
    intake = _stopped_intake(tmp_path, lambda envelopes: None, max_backlog_bytes=100)
    first, second, third = _header(1), _header(1), _header(1)
    intake.spool(first, b'{"objects": [{"x": "' + b"a" * 80 + b'"}]}')  # alone: allowed
    with pytest.raises(Overloaded) as refused:
        intake.spool(second, b'{"objects": [{"x": "b"}]}')
    assert refused.value.retry_after > 0
    assert intake.pending(second.status_id, 7) is None and intake.backlog() == 1
    assert len(list((tmp_path / "intake").glob("*/*.envelope"))) == 1
    intake._round()  # imported: room again
    intake.spool(third, b'{"objects": [{"x": "c"}]}')
    assert intake.backlog() == 1


def test_a_post_to_a_full_intake_gets_429_with_retry_after(
    make_app: Any, coalition: Coalition, tmp_path: Path
) -> None:
    app = make_app(taxii_intake_max_bytes=1)
    url = f"{ROOT}/collections/community/objects/"
    headers = {**coalition.bearer("ana"), "Content-Type": TAXII_MEDIA, "Accept": TAXII_MEDIA}
    with TestClient(app) as client:
        intake = app.state.taxii_intake
        intake._worker.stop()  # nothing is imported meanwhile
        intake._worker.start = lambda: None
        first = client.post(
            url, content=orjson.dumps({"objects": [indicator("f1.example")]}), headers=headers
        )
        second = client.post(
            url, content=orjson.dumps({"objects": [indicator("f2.example")]}), headers=headers
        )
    assert first.status_code == 202 and first.json()["status"] == "pending"
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
    assert "waiting to be imported" in second.json()["description"]
    assert len(list((tmp_path / "taxii-intake").glob("*/*.envelope"))) == 1


# --- a real server, killed -----------------------------------------------------------------


@pytest.mark.slow
def test_envelopes_acknowledged_before_sigkill_are_imported_by_the_restart(
    tmp_path: Path,
) -> None:
    engine, headers = served_store(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}{ROOT}"
    proc = start_serve(tmp_path, port, KEY)
    try:
        with httpx.Client(timeout=30) as client:
            acknowledged = post_envelopes(client, base, headers, "k", 20, 200)
    finally:
        # The whole service at once, as a power cut or the OOM killer of its cgroup would:
        # the server and the child that imports (test_intake_process.py kills the server
        # alone).
        for child in children_of(proc.pid):
            os.kill(child, signal.SIGKILL)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    left = list((tmp_path / "taxii-intake").glob("*/*.envelope"))
    assert left, "everything was imported before the kill: the test proves nothing"

    proc = start_serve(tmp_path, port, KEY)
    try:
        with httpx.Client(timeout=30) as client:
            wait_imported(client, base, headers, acknowledged)
        importing = children_of(proc.pid)  # `steppe serve` imports in a child process
        assert len(importing) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    # SIGTERM stops the server cleanly: its child is ended with it, not left behind.
    assert not Path(f"/proc/{importing[0]}").exists()
    every = [i for ids in acknowledged.values() for i in ids]
    with engine.connect() as conn:
        stored = conn.execute(
            select(intel_objects.c.stix_id, func.count())
            .where(intel_objects.c.stix_id.in_(every))
            .group_by(intel_objects.c.stix_id)
        ).all()
        statuses = conn.execute(select(func.count()).select_from(taxii_statuses)).scalar_one()
    engine.dispose()
    assert len(stored) == len(every) == 4000
    assert all(count == 1 for _, count in stored)  # each once
    assert statuses == len(acknowledged)
    assert not list((tmp_path / "taxii-intake").glob("*/*.envelope"))


def _spooled(conn: Any, user: str, objects: list[Any]) -> Spooled:
    actor = directory.load_actor(conn, user)
    header = SpoolHeader(
        str(uuid.uuid4()), actor.user_id, user, "community", "2026-11-29T00:00:00.000000Z", 0
    )
    return Spooled(header, orjson.dumps({"objects": objects}), Path("unused"))


def test_envelopes_taken_together_keep_their_own_statuses(coalition: Coalition) -> None:
    first = [indicator("t1.example"), indicator("t2.example")]
    second = [{"type": "indicator", "id": f"indicator--{uuid.uuid4()}"}, indicator("t3.example")]
    marking = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "definition_type": "statement",
        "definition": {"statement": "Copyright KZ-CERT"},
    }
    third = [marking, indicator("t4.example")]
    with writing(coalition.engine) as conn:
        group = [_spooled(conn, "ana", objs) for objs in (first, second, third)]
        refused = _spooled(conn, "kzread", [indicator("t5.example")])
        import_spooled(conn, KEY, [*group, refused])
        import_spooled(conn, KEY, group)  # again, as after a crash: nothing twice
    with coalition.engine.connect() as conn:
        actors = {u: directory.load_actor(conn, u) for u in ("ana", "kzread")}
        results = {
            item.header.status_id: get_status(conn, actors[user], item.header.status_id)
            for item, user in zip([*group, refused], ["ana"] * 3 + ["kzread"], strict=True)
        }
        stored = conn.execute(select(func.count()).select_from(intel_objects)).scalar_one()
    one, two, three, four = (results[item.header.status_id] for item in [*group, refused])
    assert [s["id"] for s in one.successes] == [o["id"] for o in first] and not one.failures
    assert [s["id"] for s in two.successes] == [second[1]["id"]]
    assert [f["id"] for f in two.failures] == [second[0]["id"]]
    assert two.failures[0]["message"]
    assert len(three.successes) == 2 and not three.failures
    assert not four.successes and "not imported" in four.failures[0]["message"]
    assert all(s.pending_count == 0 for s in (one, two, three, four))
    assert stored == 5  # t1-t4 and the marking definition, each once


def test_an_envelope_given_up_has_a_complete_status_of_failures(coalition: Coalition) -> None:
    objects = [indicator("g1.example"), indicator("g2.example")]
    message = "not imported: the server failed to import this envelope 5 times"
    with writing(coalition.engine) as conn:
        item = _spooled(conn, "ana", objects)
        fail_spooled(conn, item, message)
        fail_spooled(conn, item, "again")  # a status is written once
    with coalition.engine.connect() as conn:
        status = get_status(conn, directory.load_actor(conn, "ana"), item.header.status_id)
        stored = conn.execute(select(func.count()).select_from(intel_objects)).scalar_one()
    assert status.to_dict()["status"] == "complete" and status.pending_count == 0
    assert status.total_count == 2 and not status.successes
    assert [(f["id"], f["message"]) for f in status.failures] == [
        (o["id"], message) for o in objects
    ]
    assert stored == 0
