"""What the syslog listener counts, and how it is shown.

Counters are bumped from two threads (the asyncio loop receives, the sink worker
accepts), so each change takes a lock; :meth:`SyslogStats.snapshot` gives a consistent,
frozen copy to print or test:

    >>> stats = SyslogStats(top_senders=2)
    >>> stats.add_received([(b"x" * 120, "10.0.0.1", 0.0, False), (b"y" * 80, "10.0.0.2", 0.0, False)])
    >>> stats.add_dropped("queue_full", 1)
    >>> stats.add_accepted(1)
    >>> stats.snapshot().line()
    'syslog: received 2 (200 B), accepted 1, dropped 1 (queue_full 1), parse problems 0, truncated 0, queue 0/0, tcp connections 0 (refused 0, paused 0 times), sink refusals 0'
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StatsSnapshot", "SyslogStats", "kernel_udp_drops"]

# Senders are counted by address; spoofed UDP could make that map grow without end, so
# past this many distinct senders the rest are counted together.
_MAX_SENDERS = 10_000
OTHER_SENDERS = "(others)"


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    received: int
    received_bytes: int
    accepted: int
    dropped: dict[str, int]
    parse_problems: int
    truncated: int
    sink_refusals: int
    connections_open: int
    connections_total: int
    connections_refused: int
    tcp_pauses: int
    top_senders: list[tuple[str, int]]
    queue_depth: int = 0
    queue_bytes: int = 0
    queue_high_water: int = 0
    queue_capacity: int = 0
    #: Datagrams the kernel dropped on our sockets (its buffer was full); None off Linux.
    kernel_udp_drops: int | None = None

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def in_flight(self) -> int:
        """Received but neither accepted nor dropped yet (queued or in the worker's hand)."""
        return self.received - self.accepted - self.dropped_total

    def line(self) -> str:
        """One log line; drops always named with their reasons."""
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.dropped.items()))
        parts = [
            f"received {self.received} ({_size(self.received_bytes)})",
            f"accepted {self.accepted}",
            f"dropped {self.dropped_total}" + (f" ({reasons})" if reasons else ""),
            f"parse problems {self.parse_problems}",
            f"truncated {self.truncated}",
            f"queue {self.queue_depth}/{self.queue_capacity}",
            f"tcp connections {self.connections_open} (refused {self.connections_refused}, "
            f"paused {self.tcp_pauses} times)",
            f"sink refusals {self.sink_refusals}",
        ]
        if self.kernel_udp_drops:
            parts.append(f"kernel UDP drops {self.kernel_udp_drops}")
        return "syslog: " + ", ".join(parts)


class SyslogStats:
    """Live counters of one listener."""

    def __init__(self, *, top_senders: int = 10) -> None:
        self.top_n = top_senders
        self._lock = threading.Lock()
        self._received = 0
        self._received_bytes = 0
        self._accepted = 0
        self._dropped: Counter[str] = Counter()
        self._parse_problems = 0
        self._truncated = 0
        self._sink_refusals = 0
        self._open = 0
        self._total = 0
        self._refused = 0
        self._pauses = 0
        self._senders: Counter[str] = Counter()

    def add_received(self, frames: Sequence[tuple[bytes, str, float, bool]]) -> None:
        """Count messages as received: ``(data, sender, arrival, truncated)`` each."""
        with self._lock:
            self._received += len(frames)
            senders = self._senders
            for data, sender, _, truncated in frames:
                self._received_bytes += len(data)
                if truncated:
                    self._truncated += 1
                if sender in senders or len(senders) < _MAX_SENDERS:
                    senders[sender] += 1
                else:
                    senders[OTHER_SENDERS] += 1

    def add_accepted(self, n: int) -> None:
        with self._lock:
            self._accepted += n

    def add_dropped(self, reason: str, n: int) -> None:
        if n:
            with self._lock:
                self._dropped[reason] += n

    def add_parse_problems(self, n: int) -> None:
        if n:
            with self._lock:
                self._parse_problems += n

    def add_sink_refusal(self) -> None:
        with self._lock:
            self._sink_refusals += 1

    def connection_opened(self) -> None:
        with self._lock:
            self._open += 1
            self._total += 1

    def connection_closed(self) -> None:
        with self._lock:
            self._open -= 1

    def add_connection_refused(self) -> None:
        with self._lock:
            self._refused += 1

    def add_tcp_pause(self) -> None:
        with self._lock:
            self._pauses += 1

    def snapshot(
        self,
        *,
        queue_depth: int = 0,
        queue_bytes: int = 0,
        queue_high_water: int = 0,
        queue_capacity: int = 0,
        kernel_udp_drops: int | None = None,
    ) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                received=self._received,
                received_bytes=self._received_bytes,
                accepted=self._accepted,
                dropped=dict(self._dropped),
                parse_problems=self._parse_problems,
                truncated=self._truncated,
                sink_refusals=self._sink_refusals,
                connections_open=self._open,
                connections_total=self._total,
                connections_refused=self._refused,
                tcp_pauses=self._pauses,
                top_senders=self._senders.most_common(self.top_n),
                queue_depth=queue_depth,
                queue_bytes=queue_bytes,
                queue_high_water=queue_high_water,
                queue_capacity=queue_capacity,
                kernel_udp_drops=kernel_udp_drops,
            )


def kernel_udp_drops(inodes: set[int], proc: Path = Path("/proc/net")) -> int | None:
    """Datagrams the kernel dropped on the sockets with these inodes (Linux), else None.

    The last column of ``/proc/net/udp`` and ``udp6`` counts, per socket, datagrams that
    arrived while its receive buffer was full: messages lost before we could count them.
    """
    total = 0
    found = False
    for name in ("udp", "udp6"):
        try:
            lines = (proc / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) >= 13 and cols[9].isdigit() and int(cols[9]) in inodes:
                found = True
                total += int(cols[-1]) if cols[-1].isdigit() else 0
    return total if found else None


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"
