"""Benchmark: the syslog listener on loopback, against parsing the same messages alone.

    python bench/syslog_listen.py            # 200,000 messages per run
    python bench/syslog_listen.py --quick    # 30,000: seconds

Generates ``--messages`` syslog messages (seeded; half RFC 3164 sshd/kernel/cron lines,
half RFC 5424 with structured data, 120 to 250 bytes), then, in one run:

1. **parse only** — the ceiling: ``parse_message`` over every message in a loop;
2. **UDP** — a sender subprocess sends every message as one datagram, as fast as it can,
   to a :class:`SyslogListener` in this process; the clock runs from the first datagram
   to the moment everything that arrived is in the sink. UDP has no flow control, so
   what the listener cannot keep up with is lost: the kernel's drops on our socket
   (``/proc/net/udp``) and the listener's own are printed next to the rate;
3. **TCP** — a sender subprocess opens ``--connections`` connections and writes its share
   of the messages on each, newline-framed, as fast as TCP lets it; the clock stops when
   every message is in the sink (nothing may be lost here).

Each of 2 and 3 runs with a sink that only counts (the listener's own cost) and with the
real event lake in a temporary folder (``EventLake``: spool fsync per batch, Parquet
written at close, not timed). It prints messages/s and the ratio to parse-only.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from steppe.ingest.telemetry.model import NormalisedEvent
from steppe.ingest.telemetry.syslog import ListenerConfig, OrganisationRouter, SyslogListener
from steppe.ingest.telemetry.syslog_parse import parse_message
from steppe.lake import EventLake

SENDER = r"""
import socket, sys, time
kind, host, port, connections, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rate = int(sys.argv[6])
messages = open(path, "rb").read().split(b"\n")[:-1]
if kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if not rate:
        for m in messages:
            s.sendto(m, (host, port))
    else:  # paced: a burst every 10 ms
        burst = max(1, rate // 100)
        start = time.perf_counter()
        for i in range(0, len(messages), burst):
            for m in messages[i : i + burst]:
                s.sendto(m, (host, port))
            pause = start + (i + burst) / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
else:
    import threading
    def send(share):
        with socket.create_connection((host, port)) as c:
            chunk = []
            size = 0
            for m in share:
                chunk.append(m + b"\n"); size += len(m) + 1
                if size > 65536:
                    c.sendall(b"".join(chunk)); chunk = []; size = 0
            c.sendall(b"".join(chunk))
            c.shutdown(socket.SHUT_WR)
            c.recv(1)
    threads = [threading.Thread(target=send, args=(messages[i::connections],)) for i in range(connections)]
    for t in threads: t.start()
    for t in threads: t.join()
"""


def generate(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        host = f"gw{rng.randrange(40)}"
        ip = f"203.0.113.{rng.randrange(1, 255)}"
        if i % 2:
            out.append(
                b"<165>1 2026-11-28T09:%02d:%02d.%06dZ %s.example.org sshd %d AUTH "
                b'[origin ip="%s" software="openssh"][meta sequenceId="%d"] '
                b"\xef\xbb\xbfFailed password for invalid user admin from %s port %d ssh2"
                % (
                    rng.randrange(60),
                    rng.randrange(60),
                    rng.randrange(10**6),
                    host.encode(),
                    rng.randrange(100, 60000),
                    ip.encode(),
                    i,
                    ip.encode(),
                    rng.randrange(1024, 65535),
                )
            )
        else:
            tag, text = rng.choice(
                [
                    (
                        b"sshd[%d]" % rng.randrange(100, 60000),
                        b"Accepted publickey for ops from " + ip.encode(),
                    ),
                    (
                        b"kernel",
                        b"[UFW BLOCK] IN=eth0 OUT= SRC=%s DST=10.0.0.5 PROTO=TCP DPT=445"
                        % ip.encode(),
                    ),
                    (
                        b"CRON[%d]" % rng.randrange(100, 60000),
                        b"(root) CMD (/usr/local/bin/backup.sh --full)",
                    ),
                ]
            )
            out.append(
                b"<%d>Nov 28 09:%02d:%02d %s %s: %s"
                % (
                    rng.choice([38, 86, 4, 78]),
                    rng.randrange(60),
                    rng.randrange(60),
                    host.encode(),
                    tag,
                    text,
                )
            )
    return out


class CountingSink:
    def __init__(self) -> None:
        self.events = 0

    def accept(self, organisation_id: int, events: Sequence[NormalisedEvent]) -> None:
        self.events += len(events)


def parse_only(messages: list[bytes]) -> float:
    start = time.perf_counter()
    arrival = time.time()
    for m in messages:
        parse_message(m, arrival, sender="127.0.0.1")
    return len(messages) / (time.perf_counter() - start)


async def through_listener(
    kind: str,
    messages_file: Path,
    n: int,
    sink: CountingSink | EventLake,
    connections: int,
    rate: int = 0,
) -> tuple[float, int, str]:
    config = ListenerConfig(
        udp=(("127.0.0.1", 0),) if kind == "udp" else (),
        tcp=(("127.0.0.1", 0),) if kind == "tcp" else (),
    )
    listener = SyslogListener(sink, OrganisationRouter(1), config)
    await listener.start()
    host, port = (listener.udp_addresses or listener.tcp_addresses)[0]
    start = time.perf_counter()
    sender = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SENDER,
        kind,
        host,
        str(port),
        str(connections),
        str(messages_file),
        str(rate),
    )
    last_progress = (0, time.perf_counter())
    finished = start
    first = False
    while True:
        await asyncio.sleep(0.02)
        s = listener.snapshot()
        if not first and s.received:
            # The clock starts at the first message, not at the sender's interpreter start.
            first, start = True, time.perf_counter()
        done_sending = sender.returncode is not None
        lost = (s.kernel_udp_drops or 0) + s.dropped_total
        if s.accepted + lost >= n:
            finished = time.perf_counter()
            break
        if s.accepted != last_progress[0]:
            last_progress = (s.accepted, time.perf_counter())
            finished = last_progress[1]
        elif done_sending and s.in_flight == 0 and time.perf_counter() - last_progress[1] > 1.0:
            break  # UDP: whatever was lost without a count (none expected) ends here
    await sender.wait()
    final = await listener.stop()
    rate = final.accepted / (finished - start)
    loss = n - final.accepted
    return rate, loss, final.line()


async def main_async(args: argparse.Namespace) -> None:
    messages = generate(args.messages)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "messages.txt"
        path.write_bytes(b"\n".join(messages) + b"\n")
        baseline = parse_only(messages)
        print(
            f"{len(messages):,} messages, {sum(map(len, messages)) / len(messages):.0f} bytes on average"
        )
        print(f"parse only          {baseline:>10,.0f} msg/s   (ratio 1.00)")
        for kind in ("udp", "tcp"):
            for sink_name in ("count", "lake"):
                lake: EventLake | None = None
                if sink_name == "lake":
                    lake = EventLake(Path(tmp) / f"lake-{kind}")
                    lake.start()
                sink: CountingSink | EventLake = lake if lake is not None else CountingSink()
                rate, loss, line = await through_listener(
                    kind, path, len(messages), sink, args.connections
                )
                if lake is not None:
                    lake.close()
                label = f"{kind} → {'lake' if lake else 'count-only sink'}"
                print(
                    f"{label:<20}{rate:>10,.0f} msg/s   (ratio {rate / baseline:.2f})"
                    + (f"   lost {loss:,} ({loss / len(messages):.1%})" if loss else "")
                )
                if args.verbose:
                    print("    " + line)
        for rate in args.udp_rates:
            sent = messages[: max(rate * 3, 1000)]  # about three seconds at that rate
            paced = Path(tmp) / f"paced-{rate}.txt"
            paced.write_bytes(b"\n".join(sent) + b"\n")
            lake = EventLake(Path(tmp) / f"lake-paced-{rate}")
            lake.start()
            _, loss, line = await through_listener("udp", paced, len(sent), lake, 1, rate=rate)
            lake.close()
            print(
                f"udp paced {rate:,}/s → lake: {len(sent) - loss:,} of {len(sent):,} accepted"
                f" ({loss / len(sent):.1%} lost)"
            )
            if args.verbose:
                print("    " + line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--connections", type=int, default=4, help="TCP connections")
    parser.add_argument("--quick", action="store_true", help="30,000 messages")
    parser.add_argument("--verbose", action="store_true", help="print each run's stats line")
    parser.add_argument(
        "--udp-rates",
        type=lambda text: [int(r) for r in text.split(",") if r],
        default=[2000, 5000, 10000],
        help="paced UDP runs into the lake, messages/s (comma-separated; '' for none)",
    )
    args = parser.parse_args()
    if args.quick:
        args.messages = 30_000
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
