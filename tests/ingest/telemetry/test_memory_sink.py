"""The in-memory EventSink behaves as a real sink does when full: refuses whole batches."""

from __future__ import annotations

import threading

import pytest

from steppe.errors import Overloaded
from steppe.ingest.telemetry.memory_sink import MemorySink

EVENT = {"@timestamp": "2026-11-28T10:00:00.000000Z", "raw": {}}


def test_capacity_refuses_the_whole_batch_that_would_overflow() -> None:
    sink = MemorySink(capacity=3)
    sink.accept(1, [EVENT, EVENT])
    with pytest.raises(Overloaded) as refused:
        sink.accept(2, [EVENT, EVENT])
    assert refused.value.retry_after > 0
    assert (sink.count(), sink.count(2), sink.refusals) == (2, 0, 1)
    sink.accept(2, [EVENT])
    assert sink.organisations() == {1, 2}


def test_wait_for_sees_events_accepted_from_other_threads() -> None:
    sink = MemorySink()
    threads = [
        threading.Thread(target=lambda org=org: [sink.accept(org, [EVENT]) for _ in range(100)])
        for org in range(4)
    ]
    for thread in threads:
        thread.start()
    assert sink.wait_for(400, timeout=30)
    for thread in threads:
        thread.join()
    assert [sink.count(org) for org in range(4)] == [100] * 4
