"""A syslog receiver: UDP and TCP in, batches of normalised events out to an EventSink.

    >>> async def main(sink: EventSink) -> None:  # doctest: +SKIP
    ...     router = OrganisationRouter(default=1, routes=[(ip_network("10.1.0.0/16"), 2)])
    ...     listener = SyslogListener(sink, router, ListenerConfig(udp=(("0.0.0.0", 514),)))
    ...     await listener.start()
    ...     await stop_requested.wait()
    ...     print((await listener.stop()).line())

How messages flow, and where they wait:

* The asyncio loop receives datagrams and TCP frames (:mod:`.syslog_framing`) and puts
  the raw bytes, sender and arrival time in one bounded :class:`FrameQueue` (by count and
  by bytes). Nothing is parsed on the loop.
* One worker thread takes batches (``batch_size`` messages or ``batch_interval``
  seconds, whichever first), parses them (:mod:`.syslog_parse`), groups them by
  organisation (:class:`OrganisationRouter`, by sender address) and calls
  ``sink.accept`` — which fsyncs, so it must not run on the loop.
* When the sink says :class:`~steppe.errors.Overloaded`, the worker keeps its batch and
  retries with back-off; the queue then fills. A full queue drops UDP datagrams (counted
  as ``queue_full``) and pauses TCP connections, so the kernel's flow control pushes back
  on the sender; a connection paused longer than ``tcp_max_stall`` seconds has its
  waiting messages dropped (``tcp_stalled``) and is read again.

Nothing is dropped silently: :class:`SyslogStats` counts every message received,
accepted and dropped (by reason), plus parse problems, truncations, sink refusals and —
on Linux — datagrams the kernel dropped before we could read them. A stats line is logged
every ``stats_interval`` seconds (a warning when anything was dropped since the last).

Memory is bounded by ``queue_bytes`` plus, per TCP connection, one socket read (256 KiB)
and one message (``max_message_bytes``), times ``max_connections``.

The organisation of a message is decided by its sender's address only. UDP senders can
be spoofed: map CIDRs to organisations only on networks where that cannot happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from steppe.errors import ConfigError, Overloaded
from steppe.ingest.telemetry.model import EventSink, NormalisedEvent
from steppe.ingest.telemetry.syslog_config import (
    ListenerConfig,
    OrganisationRouter,
    parse_endpoint,
    parse_mapping,
)
from steppe.ingest.telemetry.syslog_framing import Frame, StreamFramer
from steppe.ingest.telemetry.syslog_parse import parse_message
from steppe.ingest.telemetry.syslog_stats import StatsSnapshot, SyslogStats, kernel_udp_drops

__all__ = [
    "FrameQueue",
    "ListenerConfig",
    "OrganisationRouter",
    "StatsSnapshot",
    "SyslogListener",
    "SyslogStats",
    "parse_endpoint",
    "parse_mapping",
]

log = logging.getLogger("steppe.syslog")

#: What waits in the queue: message bytes, sender address, arrival (epoch s), truncated.
QueuedFrame = tuple[bytes, str, float, bool]

# Datagrams read per wake-up before the loop gets to run anything else.
_UDP_READS_PER_WAKEUP = 256


class FrameQueue:
    """Bounded by message count and bytes; filled from the loop, emptied by one thread."""

    def __init__(self, *, max_messages: int, max_bytes: int, batch_size: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.batch_size = batch_size
        self.bytes = 0
        self.high_water = 0
        self.closed = False
        # Set when an offer was refused; the next take reports it, so the loop can wake
        # paused connections. Both under the lock: no wake-up can be lost in between.
        self._space_wanted = False
        self._items: deque[QueuedFrame] = deque()
        self._cond = threading.Condition()

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, frames: Iterable[QueuedFrame], *, force: bool = False) -> int:
        """Queue frames in order while there is room; how many were taken. ``force`` (at
        shutdown) takes them all: they are in memory already and must not be lost."""
        with self._cond:
            items = self._items
            depth = len(items)
            taken = 0
            for frame in frames:
                size = len(frame[0])
                if not force and (
                    depth >= self.max_messages or (depth and self.bytes + size > self.max_bytes)
                ):
                    self._space_wanted = True
                    break
                items.append(frame)
                self.bytes += size
                depth += 1
                taken += 1
            if depth > self.high_water:
                self.high_water = depth
            if depth >= self.batch_size:
                self._cond.notify()
            return taken

    def take(self, max_wait: float) -> tuple[list[QueuedFrame], bool]:
        """Up to ``batch_size`` frames, once that many wait or ``max_wait`` has passed
        since the worker first saw one (``[]`` after :meth:`close` when empty), and
        whether an offer was refused since the last take."""
        with self._cond:
            deadline: float | None = None
            while len(self._items) < self.batch_size and not self.closed:
                now = time.monotonic()
                if self._items and deadline is None:
                    deadline = now + max_wait
                timeout = max_wait if deadline is None else deadline - now
                if timeout <= 0:
                    break
                self._cond.wait(timeout)
            n = min(self.batch_size, len(self._items))
            batch = [self._items.popleft() for _ in range(n)]
            self.bytes -= sum(len(frame[0]) for frame in batch)
            space_wanted = self._space_wanted and bool(batch)
            if space_wanted:
                self._space_wanted = False
            return batch, space_wanted

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class SyslogListener:
    """Receives syslog on the configured endpoints until :meth:`stop`."""

    def __init__(self, sink: EventSink, router: OrganisationRouter, config: ListenerConfig) -> None:
        self.sink = sink
        self.router = router
        self.config = config
        self.stats = SyslogStats(top_senders=config.top_senders)
        self.queue = FrameQueue(
            max_messages=config.queue_messages,
            max_bytes=config.queue_bytes,
            batch_size=config.batch_size,
        )
        #: Where it listens, once started (the real ports when 0 was asked for).
        self.udp_addresses: list[tuple[str, int]] = []
        self.tcp_addresses: list[tuple[str, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: list[_UdpEndpoint] = []
        self._kernel_drops_at_close: int | None = None
        self._servers: list[asyncio.Server] = []
        self._connections: set[_TcpConnection] = set()
        self._waiting: set[_TcpConnection] = set()
        self._stopping = threading.Event()
        self._give_up_at = float("inf")
        self._worker: threading.Thread | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._udp_inodes: set[int] = set()

    async def start(self) -> None:
        """Bind every endpoint (:class:`ConfigError` naming the one that fails, with
        nothing left open) and start the sink worker."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        try:
            for host, port in self.config.udp:
                where = f"udp {host}:{port}"
                endpoint = _UdpEndpoint(self, host, port)
                self._udp.append(endpoint)
                loop.add_reader(endpoint.sock.fileno(), endpoint.read)
                self.udp_addresses.append(endpoint.sock.getsockname()[:2])
                self._udp_inodes.add(os.fstat(endpoint.sock.fileno()).st_ino)
            for host, port in self.config.tcp:
                where = f"tcp {host}:{port}"
                server = await loop.create_server(
                    lambda: _TcpConnection(self), host, port, reuse_address=True
                )
                self._servers.append(server)
                self.tcp_addresses.extend(s.getsockname()[:2] for s in server.sockets)
        except OSError as exc:
            self._close_udp()
            for server in self._servers:
                server.close()
            hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" if port < 1024 else ""
            raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}{hint}") from None
        self._worker = threading.Thread(target=self._drain, name="syslog-sink", daemon=True)
        self._worker.start()
        self._ticker = asyncio.create_task(self._tick())
        buffers = {u.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) for u in self._udp}
        log.info(
            "syslog listening on udp %s tcp %s%s",
            _endpoints(self.udp_addresses),
            _endpoints(self.tcp_addresses),
            f" (UDP receive buffer {max(buffers) // 1024} KiB)" if buffers else "",
        )

    async def stop(self) -> StatsSnapshot:
        """Stop receiving, hand every message already received to the sink (waiting up
        to ``shutdown_grace`` seconds for an overloaded one), and return the final stats."""
        self._kernel_drops_at_close = self._kernel_drops()
        self._close_udp()
        for server in self._servers:
            server.close()
        for connection in list(self._connections):
            connection.shut(force=True)
        self._give_up_at = time.monotonic() + self.config.shutdown_grace
        self._stopping.set()
        self.queue.close()
        if self._worker is not None:
            await asyncio.to_thread(self._worker.join)
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for server in self._servers:
            await server.wait_closed()
        snapshot = self.snapshot()
        log.info("%s", snapshot.line())
        return snapshot

    def snapshot(self) -> StatsSnapshot:
        drops = self._kernel_drops() if self._udp else self._kernel_drops_at_close
        return self.stats.snapshot(
            queue_depth=len(self.queue),
            queue_bytes=self.queue.bytes,
            queue_high_water=self.queue.high_water,
            queue_capacity=self.config.queue_messages,
            kernel_udp_drops=drops,
        )

    def _kernel_drops(self) -> int | None:
        return kernel_udp_drops(self._udp_inodes) if self._udp_inodes else None

    def _close_udp(self) -> None:
        for endpoint in self._udp:
            if self._loop is not None:
                self._loop.remove_reader(endpoint.sock.fileno())
            endpoint.sock.close()
        self._udp = []

    def wait_for_space(self, connection: _TcpConnection) -> None:
        self._waiting.add(connection)

    def _space_freed(self) -> None:
        waiting, self._waiting = self._waiting, set()
        for connection in waiting:
            connection.push()

    async def _tick(self) -> None:
        """Stall checks twice a second; the stats line every ``stats_interval``."""
        last_line = time.monotonic()
        last_dropped = 0
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for connection in list(self._connections):
                connection.check_timers(now)
            if now - last_line >= self.config.stats_interval:
                last_line = now
                snapshot = self.snapshot()
                level = logging.WARNING if snapshot.dropped_total > last_dropped else logging.INFO
                last_dropped = snapshot.dropped_total
                log.log(level, "%s", snapshot.line())

    # -- the worker thread ------------------------------------------------------------

    def _drain(self) -> None:
        while True:
            frames, space_wanted = self.queue.take(self.config.batch_interval)
            if not frames:
                if self.queue.closed:
                    return
                continue
            if space_wanted and self._loop is not None:
                # RuntimeError: the loop is closing; the frames are still ours to deliver.
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(self._space_freed)
            try:
                self._deliver(frames)
            except Exception:
                # Only a bug gets here; the worker must outlive it, or the queue would
                # fill and everything after would be dropped.
                log.exception("syslog: %d messages lost to an internal error", len(frames))
                self.stats.add_dropped("internal_error", len(frames))

    def _deliver(self, frames: list[QueuedFrame]) -> None:
        by_org: dict[int, list[NormalisedEvent]] = {}
        problems = 0
        for data, sender, arrival, truncated in frames:
            event, problem = parse_message(data, arrival, sender=sender, truncated=truncated)
            if problem is not None:
                problems += 1
            by_org.setdefault(self.router.organisation_for(sender), []).append(event)
        self.stats.add_parse_problems(problems)
        for org, events in by_org.items():
            self._accept(org, events)

    def _accept(self, org: int, events: list[NormalisedEvent]) -> None:
        delay = 0.02
        while True:
            try:
                self.sink.accept(org, events)
            except Overloaded as exc:
                self.stats.add_sink_refusal()
                if self._stopping.is_set() and time.monotonic() >= self._give_up_at:
                    log.error(
                        "syslog: sink still overloaded at shutdown; %d messages dropped",
                        len(events),
                    )
                    self.stats.add_dropped("sink_overloaded_at_shutdown", len(events))
                    return
                delay = min(max(delay * 2, exc.retry_after), 1.0)
                if self._stopping.is_set():
                    time.sleep(delay)
                else:
                    self._stopping.wait(delay)
            except Exception:
                # A broken sink (disk full, lake error) must not stop the listener, and
                # what it refused is counted, not forgotten.
                log.exception("syslog: the sink failed; %d messages dropped", len(events))
                self.stats.add_dropped("sink_error", len(events))
                return
            else:
                self.stats.add_accepted(len(events))
                return


class _UdpEndpoint:
    """One UDP socket, read until empty on each wake-up of the loop.

    Not an asyncio DatagramProtocol: that reads one datagram per turn of the loop, and
    at a few thousand datagrams a second the turns themselves were most of the cost.
    """

    def __init__(self, listener: SyslogListener, host: str, port: int) -> None:
        self.listener = listener
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
        )[0]
        self.sock = socket.socket(family, kind, proto)
        try:
            self.sock.setblocking(False)
            self.sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_RCVBUF, listener.config.udp_receive_buffer
            )
            self.sock.bind(address)
        except OSError:
            self.sock.close()
            raise
        # 64 KiB holds any datagram, so the kernel never cuts one without our knowing.
        self.buffer = bytearray(65536)

    def read(self) -> None:
        listener = self.listener
        limit = listener.config.max_message_bytes
        view = memoryview(self.buffer)
        arrival = time.time()
        frames: list[QueuedFrame] = []
        for _ in range(_UDP_READS_PER_WAKEUP):
            try:
                size, addr = self.sock.recvfrom_into(self.buffer)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                log.warning("syslog udp: %s", exc)
                break
            frames.append((bytes(view[: min(size, limit)]), _sender(addr), arrival, size > limit))
        if frames:
            listener.stats.add_received(frames)
            taken = listener.queue.offer(frames)
            listener.stats.add_dropped("queue_full", len(frames) - taken)


class _TcpConnection(asyncio.Protocol):
    """One sender's stream: framed, queued, paused while the queue is full.

    It stays in the listener's ``_connections`` while open, and after closing for as
    long as it still holds messages waiting for room.
    """

    def __init__(self, listener: SyslogListener) -> None:
        self.listener = listener
        self.config = listener.config
        self.framer = StreamFramer(max_message_bytes=self.config.max_message_bytes)
        self.transport: asyncio.Transport | None = None
        self.sender = "?"
        self.pending: deque[QueuedFrame] = deque()
        self.paused_since: float | None = None
        self.last_data = time.monotonic()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.sender = _sender(transport.get_extra_info("peername"))
        listener = self.listener
        if len(listener._connections) >= self.config.max_connections:
            listener.stats.add_connection_refused()
            log.warning("syslog tcp: refused %s: too many connections", self.sender)
            self.closed = True
            transport.abort()
            return
        listener._connections.add(self)
        listener.stats.connection_opened()

    def data_received(self, data: bytes) -> None:
        self.last_data = time.monotonic()
        self._add(self.framer.feed(data))
        if self.framer.error is not None:
            self.listener.stats.add_dropped("framing_error", 1)
            log.warning("syslog tcp %s: %s; closing", self.sender, self.framer.error)
            self.shut(force=False)
            return
        self.push()

    def eof_received(self) -> bool | None:
        self.shut(force=False)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.shut(force=False)

    def push(self) -> None:
        """Queue what waits; pause reading while the queue is full."""
        listener = self.listener
        pending = self.pending
        if pending:
            taken = listener.queue.offer(pending)
            if taken < len(pending):
                for _ in range(taken):
                    pending.popleft()
                if self.paused_since is None:
                    self.paused_since = time.monotonic()
                    listener.stats.add_tcp_pause()
                    if not self.closed and self.transport is not None:
                        self.transport.pause_reading()
                listener.wait_for_space(self)
                return
            pending.clear()
        if self.paused_since is not None:
            self.paused_since = None
            if not self.closed and self.transport is not None:
                self.transport.resume_reading()
        if self.closed:
            listener._connections.discard(self)

    def check_timers(self, now: float) -> None:
        if self.paused_since is not None:
            if now - self.paused_since >= self.config.tcp_max_stall:
                log.warning(
                    "syslog tcp %s: queue full for %.1f s; %d messages dropped",
                    self.sender,
                    now - self.paused_since,
                    len(self.pending),
                )
                self.listener.stats.add_dropped("tcp_stalled", len(self.pending))
                self.pending.clear()
                self.push()
        elif not self.closed and now - self.last_data >= self.config.idle_timeout:
            log.info("syslog tcp %s: idle for %.0f s; closing", self.sender, now - self.last_data)
            self.shut(force=False)

    def shut(self, *, force: bool) -> None:
        """Close, keeping a last unterminated line. ``force`` (at stop) queues what is
        still waiting past the bound: it is in memory already and must not be lost."""
        listener = self.listener
        if not self.closed:
            self.closed = True
            listener.stats.connection_closed()
            frames, lost = self.framer.finish()
            self._add(frames)
            listener.stats.add_dropped("incomplete_frame", lost)
            if self.transport is not None:
                self.transport.close()
        if force:
            listener.queue.offer(self.pending, force=True)
            self.pending.clear()
            listener._connections.discard(self)
        else:
            self.push()

    def _add(self, frames: list[Frame]) -> None:
        if frames:
            arrival = time.time()
            queued = [(data, self.sender, arrival, truncated) for data, truncated in frames]
            self.listener.stats.add_received(queued)
            self.pending.extend(queued)


def _sender(addr: Any) -> str:
    if not addr:
        return "?"
    host = str(addr[0]).split("%", 1)[0]
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    return host


def _endpoints(addresses: list[tuple[str, int]]) -> str:
    return ", ".join(f"{host}:{port}" for host, port in addresses) or "-"
