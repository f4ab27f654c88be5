"""The syslog listener over real sockets on 127.0.0.1: delivery, organisations,
backpressure with exact accounting, limits, and a clean stop."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Coroutine
from ipaddress import ip_network
from typing import Any

import pytest

from steppe.ingest.telemetry.memory_sink import MemorySink
from steppe.ingest.telemetry.model import NormalisedEvent
from steppe.ingest.telemetry.syslog import ListenerConfig, OrganisationRouter, SyslogListener

DEFAULT_ORG, MAPPED_ORG = 1, 7
# Linux answers on all of 127/8: a second sender address for the CIDR mapping.
OTHER_SENDER = "127.0.0.2"
LOCAL = (("127.0.0.1", 0),)


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout=60))


async def until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """Wait for something that must happen; the timeout only stops a broken test."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


def listener(sink: MemorySink, **config: Any) -> SyslogListener:
    router = OrganisationRouter(DEFAULT_ORG, [(ip_network(f"{OTHER_SENDER}/32"), MAPPED_ORG)])
    config.setdefault("udp", LOCAL)
    config.setdefault("tcp", LOCAL)
    config.setdefault("batch_interval", 0.02)
    return SyslogListener(sink, router, ListenerConfig(**config))


def message(i: int, tag: str = "app") -> bytes:
    return b"<13>Nov 28 09:00:00 host %s: message %d" % (tag.encode(), i)


def messages_of(sink: MemorySink, org: int) -> list[str]:
    return sorted(str(e["message"]) for e in sink.events(org))


class UdpSender:
    """Sends in small bursts and waits for each to be counted, so the kernel never has
    to drop one for a full socket buffer and the test can account for every datagram."""

    def __init__(self, lst: SyslogListener, source: str = "127.0.0.1") -> None:
        self.listener = lst
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.sent = 0

    async def send(self, payloads: list[bytes], burst: int = 20) -> None:
        for start in range(0, len(payloads), burst):
            for payload in payloads[start : start + burst]:
                self.sock.sendto(payload, self.listener.udp_addresses[0])
                self.sent += 1
            await until(lambda: self.listener.snapshot().received >= self.sent, "datagrams")

    def close(self) -> None:
        self.sock.close()


async def tcp_send(
    lst: SyslogListener, data: bytes, *, source: str | None = None, pieces: int = 1
) -> None:
    host, port = lst.tcp_addresses[0]
    local = (source, 0) if source else None
    _, writer = await asyncio.open_connection(host, port, local_addr=local)
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        writer.write(data[start : start + step])
        await writer.drain()
        if pieces > 1:
            await asyncio.sleep(0.001)  # separate TCP segments
    writer.close()
    await writer.wait_closed()


def octet_framed(payloads: list[bytes]) -> bytes:
    return b"".join(b"%d %s" % (len(p), p) for p in payloads)


def line_framed(payloads: list[bytes]) -> bytes:
    return b"".join(p + b"\n" for p in payloads)


# -- delivery ------------------------------------------------------------------------


def test_udp_and_tcp_arrive_with_the_senders_organisation() -> None:
    async def scenario() -> None:
        sink = MemorySink()
        lst = listener(sink)
        await lst.start()
        udp = UdpSender(lst)
        udp_other = UdpSender(lst, OTHER_SENDER)
        await udp.send([message(i, "udp") for i in range(30)])
        await udp_other.send([message(i, "udpmapped") for i in range(5)])
        await asyncio.gather(
            # Octet counting cut into byte-sized segments, non-transparent in a few.
            tcp_send(lst, octet_framed([message(i, "octets") for i in range(10)]), pieces=400),
            tcp_send(lst, line_framed([message(i, "lines") for i in range(10)]), pieces=7),
            tcp_send(
                lst, line_framed([message(i, "mapped") for i in range(4)]), source=OTHER_SENDER
            ),
            *(tcp_send(lst, line_framed([message(c, "many")])) for c in range(20)),
        )
        await until(lambda: sink.count() == 79, "all messages in the sink")
        snapshot = await lst.stop()
        udp.close()
        udp_other.close()

        assert sink.organisations() == {DEFAULT_ORG, MAPPED_ORG}
        mapped = sink.events(MAPPED_ORG)
        assert {e["log.syslog.appname"] for e in mapped} == {"udpmapped", "mapped"}
        assert all(e["log.source.address"] == OTHER_SENDER for e in mapped)
        default = sink.events(DEFAULT_ORG)
        by_tag: dict[str, list[NormalisedEvent]] = {}
        for event in default:
            by_tag.setdefault(str(event["log.syslog.appname"]), []).append(event)
        assert {tag: len(events) for tag, events in by_tag.items()} == {
            "udp": 30,
            "octets": 10,
            "lines": 10,
            "many": 20,
        }
        assert sorted(str(e["message"]) for e in by_tag["octets"]) == sorted(
            f"message {i}" for i in range(10)
        )
        assert all(e["host.name"] == "host" for e in default)
        assert (snapshot.received, snapshot.accepted, snapshot.dropped_total) == (79, 79, 0)
        assert snapshot.connections_total == 23 and snapshot.connections_open == 0
        assert dict(snapshot.top_senders) == {"127.0.0.1": 70, OTHER_SENDER: 9}

    run(scenario())


def test_stop_flushes_the_batch_in_hand() -> None:
    async def scenario() -> None:
        sink = MemorySink()
        lst = listener(sink, batch_size=10_000, batch_interval=60)
        await lst.start()
        udp = UdpSender(lst)
        await udp.send([message(i) for i in range(25)])
        await tcp_send(lst, line_framed([message(i, "t") for i in range(5)]) + b"<13>no newline")
        await until(lambda: lst.snapshot().received == 31, "tcp frames counted")
        assert sink.count() == 0  # still batching
        snapshot = await lst.stop()
        udp.close()
        assert sink.count() == snapshot.accepted == 31
        assert "no newline" in messages_of(sink, DEFAULT_ORG)

    run(scenario())


# -- backpressure --------------------------------------------------------------------


def test_udp_with_a_full_sink_drops_exactly_what_does_not_fit_and_recovers() -> None:
    async def scenario() -> None:
        sink = MemorySink()
        sink.full = True
        lst = listener(sink, queue_messages=50, batch_size=10)
        await lst.start()
        udp = UdpSender(lst)
        await udp.send([message(i) for i in range(200)])
        await until(lambda: sink.refusals > 0, "the sink to refuse")
        held = lst.snapshot()
        assert held.received == 200
        assert held.accepted == 0
        assert held.dropped == {"queue_full": held.dropped_total}
        # At most the queue's bound plus the one batch the worker holds is kept.
        assert held.in_flight <= 50 + 10
        assert held.dropped_total >= 200 - 60
        assert held.queue_high_water <= 50
        assert "dropped" in held.line() and "queue_full" in held.line()

        sink.full = False  # the lake drains
        await until(lambda: lst.snapshot().in_flight == 0, "the queue to drain")
        drained = lst.snapshot()
        assert udp.sent == drained.accepted + drained.dropped_total == 200
        assert sink.count() == drained.accepted == held.in_flight

        await udp.send([message(i, "later") for i in range(30)])
        await until(lambda: sink.count() == drained.accepted + 30, "new messages accepted")
        final = await lst.stop()
        udp.close()
        assert final.dropped_total == drained.dropped_total  # nothing more dropped
        assert final.kernel_udp_drops in (0, None)

    run(scenario())


def test_tcp_with_a_full_sink_pauses_reading_and_loses_nothing() -> None:
    async def scenario() -> None:
        sink = MemorySink()
        sink.full = True
        lst = listener(sink, queue_messages=50, batch_size=10, tcp_max_stall=600)
        await lst.start()
        sending = asyncio.create_task(tcp_send(lst, line_framed([message(i) for i in range(2000)])))
        await until(lambda: lst.snapshot().tcp_pauses > 0, "the connection to be paused")
        await until(lambda: lst.snapshot().queue_depth == 50, "the queue to fill")
        paused = lst.snapshot()
        assert paused.dropped_total == 0
        assert paused.queue_high_water <= 50

        sink.full = False
        await sending
        await until(lambda: sink.count() == 2000, "every message accepted")
        final = await lst.stop()
        assert final.dropped_total == 0
        assert messages_of(sink, DEFAULT_ORG) == sorted(f"message {i}" for i in range(2000))

    run(scenario())


def test_tcp_stalled_too_long_drops_and_counts_then_recovers() -> None:
    async def scenario() -> None:
        sink = MemorySink()
        sink.full = True
        lst = listener(sink, queue_messages=20, batch_size=5, tcp_max_stall=0.2)
        await lst.start()
        await tcp_send(lst, line_framed([message(i) for i in range(300)]))
        await until(
            lambda: (s := lst.snapshot()).received == 300 and s.in_flight <= 25,
            "the stalled messages to be dropped",
        )
        stalled = lst.snapshot()
        assert set(stalled.dropped) == {"tcp_stalled"}

        sink.full = False
        await until(lambda: lst.snapshot().in_flight == 0, "the queue to drain")
        await tcp_send(lst, line_framed([message(i, "after") for i in range(10)]))
        await until(lambda: lst.snapshot().in_flight == 0 and sink.count() > 0, "drain")
        final = await lst.stop()
        assert final.received == 310
        assert final.accepted + final.dropped_total == 310
        assert final.dropped_total == stalled.dropped_total
        assert sink.count() == final.accepted

    run(scenario())


def test_sink_still_overloaded_at_stop_is_counted_not_hidden() -> None:
    async def scenario() -> None:
        sink = MemorySink()
        sink.full = True
        lst = listener(sink, shutdown_grace=0.1)
        await lst.start()
        udp = UdpSender(lst)
        await udp.send([message(i) for i in range(5)])
        final = await lst.stop()
        udp.close()
        assert final.accepted == 0
        assert final.dropped == {"sink_overloaded_at_shutdown": 5}

    run(scenario())


class BrokenSink(MemorySink):
    def __init__(self) -> None:
        super().__init__()
        self.broken = True

    def accept(self, organisation_id: int, events: Any) -> None:
        if self.broken:
            raise OSError("disk full")
        super().accept(organisation_id, events)


def test_a_failing_sink_is_counted_and_the_listener_goes_on() -> None:
    async def scenario() -> None:
        sink = BrokenSink()
        lst = listener(sink)
        await lst.start()
        udp = UdpSender(lst)
        await udp.send([message(i) for i in range(3)])
        await until(lambda: lst.snapshot().dropped.get("sink_error") == 3, "the sink error")
        sink.broken = False
        await udp.send([message(9)])
        await until(lambda: sink.count() == 1, "the next message accepted")
        await lst.stop()
        udp.close()

    run(scenario())


# -- limits --------------------------------------------------------------------------


def test_oversize_messages_are_truncated_not_dropped() -> None:
    async def scenario() -> None:
        sink = MemorySink()
        lst = listener(sink, max_message_bytes=100)
        await lst.start()
        big = b"<13>Nov 28 09:00:00 host app: " + b"x" * 500
        udp = UdpSender(lst)
        await udp.send([big])
        await tcp_send(lst, octet_framed([big, message(1)]))
        await tcp_send(lst, line_framed([big, message(2)]))
        await until(lambda: sink.count() == 5, "five messages")
        final = await lst.stop()
        udp.close()
        events = sink.events(DEFAULT_ORG)
        cut = [e for e in events if e["raw"].get("truncated")]
        assert len(cut) == final.truncated == 3
        assert all(len(str(e["message"])) == 100 - 30 for e in cut)
        assert final.parse_problems == 3
        assert {"message 1", "message 2"} <= set(messages_of(sink, DEFAULT_ORG))

    run(scenario())


def test_bad_octet_count_closes_the_connection_and_is_counted() -> None:
    async def scenario() -> None:
        sink = MemorySink()
        lst = listener(sink)
        await lst.start()
        await tcp_send(lst, octet_framed([message(1)]) + b"12x <13>garbage")
        await until(lambda: lst.snapshot().dropped.get("framing_error") == 1, "framing error")
        await until(lambda: sink.count() == 1, "the good message")
        final = await lst.stop()
        assert final.connections_open == 0

    run(scenario())


def test_idle_connections_are_closed_and_extra_ones_refused() -> None:
    async def scenario() -> None:
        sink = MemorySink()
        lst = listener(sink, idle_timeout=0.3, max_connections=2)
        await lst.start()
        host, port = lst.tcp_addresses[0]
        first = await asyncio.open_connection(host, port)
        second = await asyncio.open_connection(host, port)
        await until(lambda: lst.snapshot().connections_open == 2, "two connections")
        third_reader, third_writer = await asyncio.open_connection(host, port)
        assert await third_reader.read() == b""  # closed by the listener
        await until(lambda: lst.snapshot().connections_refused == 1, "the refusal")
        # Both idle connections are closed by the listener.
        assert await first[0].read() == b""
        assert await second[0].read() == b""
        await until(lambda: lst.snapshot().connections_open == 0, "idle close")
        for _, writer in (first, second, (third_reader, third_writer)):
            writer.close()
        await lst.stop()

    run(scenario())


def test_stats_line_is_logged_and_is_a_warning_once_something_was_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        sink = MemorySink()
        sink.full = True
        lst = listener(sink, queue_messages=5, batch_size=5, stats_interval=0.01)
        await lst.start()
        udp = UdpSender(lst)
        await udp.send([message(i) for i in range(30)])
        await until(
            lambda: any(
                r.levelname == "WARNING" and "queue_full" in r.message for r in caplog.records
            ),
            "a warning naming the drops",
        )
        sink.full = False
        await lst.stop()
        udp.close()

    with caplog.at_level(logging.INFO, logger="steppe.syslog"):
        run(scenario())
    lines = [r.message for r in caplog.records if r.message.startswith("syslog: received")]
    assert lines, "no stats line"
    final = lines[-1]
    assert "received 30" in final and "dropped" in final
