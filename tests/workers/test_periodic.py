"""The background loop the server's jobs share: timing of the first round, failures
that do not end it, stop and restart."""

from __future__ import annotations

import threading
import time

import pytest

from steppe.workers.periodic import PeriodicWorker


def _wait_for(condition: threading.Event, seconds: float = 5.0) -> None:
    assert condition.wait(seconds), "the worker did not get there in time"


def test_the_first_round_runs_at_once_only_when_asked() -> None:
    rounds: list[float] = []
    eager = PeriodicWorker("eager", lambda: rounds.append(time.monotonic()), every=60,
                           first_at_once=True)  # fmt: skip
    eager.start()
    deadline = time.monotonic() + 5
    while not rounds and time.monotonic() < deadline:
        time.sleep(0.01)
    eager.stop()
    assert len(rounds) == 1  # at once, and not again within the minute

    lazy = PeriodicWorker("lazy", lambda: rounds.append(0.0), every=60, first_at_once=False)
    lazy.start()
    time.sleep(0.1)
    lazy.stop()
    assert len(rounds) == 1  # nothing before the first interval has passed


def test_a_failing_round_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0
    recovered = threading.Event()

    def work() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database briefly away")
        recovered.set()

    worker = PeriodicWorker("flaky", work, every=0.01, first_at_once=True)
    worker.start()
    _wait_for(recovered)
    worker.stop()
    assert any("flaky: the round failed" in r.getMessage() and r.exc_info for r in caplog.records)


def test_stop_waits_for_the_round_in_progress_and_start_again_resumes() -> None:
    inside, release, finished = threading.Event(), threading.Event(), threading.Event()

    def work() -> None:
        inside.set()
        release.wait(5)
        finished.set()

    worker = PeriodicWorker("slow", work, every=lambda: 0.01, first_at_once=True)
    worker.start()
    worker.start()  # a second start does nothing
    _wait_for(inside)
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    time.sleep(0.05)
    assert stopper.is_alive() and not finished.is_set()  # stop waits for the round
    release.set()
    stopper.join(5)
    assert finished.is_set() and not worker.running
    inside.clear()
    worker.start()
    _wait_for(inside)
    worker.stop()
