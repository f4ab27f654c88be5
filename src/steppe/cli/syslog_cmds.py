"""`steppe syslog listen`: receive members' syslog (UDP/TCP) into the event lake.

    steppe syslog listen --org KZ-CERT --udp 0.0.0.0:514 --tcp 0.0.0.0:514 \\
        --map 10.1.0.0/16=KZ-CERT --map 10.2.0.0/16=UZ-CERT

It runs until Ctrl-C or SIGTERM, then stops receiving, hands what it holds to the lake
and prints the final counts. Senders no ``--map`` matches belong to ``--org``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Annotated

import typer
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table

from steppe.cli.runtime import Runtime
from steppe.errors import InputError
from steppe.ingest.telemetry.model import EventSink, NormalisedEvent
from steppe.ingest.telemetry.service import TelemetryService
from steppe.ingest.telemetry.syslog import (
    ListenerConfig,
    OrganisationRouter,
    StatsSnapshot,
    SyslogListener,
    parse_endpoint,
    parse_mapping,
)
from steppe.ingest.telemetry.syslog_config import Network
from steppe.settings import Settings
from steppe.sharing import directory

__all__ = ["open_event_sink", "syslog_app"]

syslog_app = typer.Typer(help="Syslog (RFC 5424 / 3164, UDP and TCP) into the event lake.")

STANDARD_PORT = 514


class _IntakeSink:
    """The telemetry intake seen as an EventSink: the lake, then the broker."""

    def __init__(self, service: TelemetryService) -> None:
        self.service = service

    def accept(self, organisation_id: int, events: Sequence[NormalisedEvent]) -> None:
        self.service.intake.submit(organisation_id, events)


@contextmanager
def open_event_sink(settings: Settings) -> Iterator[EventSink]:
    """Where the listener's events go: the event lake (durable on return, Overloaded
    when its backlog is full), then the broker, for detection. Closing flushes the
    lake's spool to Parquet."""
    service = TelemetryService(settings)
    try:
        _ = service.lake  # start now: replay a crashed spool before taking new events
        yield _IntakeSink(service)
    finally:
        service.close()


@syslog_app.command("listen")
def listen(
    ctx: typer.Context,
    org: Annotated[
        str, typer.Option("--org", help="Organisation of senders that no --map matches.")
    ],
    udp: Annotated[
        list[str] | None,
        typer.Option(help="HOST:PORT to receive UDP on; repeat for several."),
    ] = None,
    tcp: Annotated[
        list[str] | None,
        typer.Option(help="HOST:PORT to receive TCP on (RFC 6587 framing); repeat."),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="CIDR=ORG: senders in CIDR belong to ORG (longest prefix wins); repeat.",
        ),
    ] = None,
    stats_interval: Annotated[
        float, typer.Option(help="Seconds between stats lines in the log.", min=1)
    ] = 60.0,
) -> None:
    """Receive syslog until Ctrl-C/SIGTERM (UDP and TCP on 0.0.0.0:514 unless told)."""
    rt: Runtime = ctx.obj
    udp_at = tuple(parse_endpoint(text, "--udp") for text in udp or ())
    tcp_at = tuple(parse_endpoint(text, "--tcp") for text in tcp or ())
    if not udp_at and not tcp_at:
        udp_at = tcp_at = (("0.0.0.0", STANDARD_PORT),)
    routes = [parse_mapping(text) for text in mapping or ()]
    seen: dict[Network, str] = {}
    for network, name in routes:
        if network in seen and seen[network] != name:
            raise InputError(
                f"{network} is mapped to both {seen[network]} and {name}", field="--map"
            )
        seen[network] = name
    with rt.reading() as conn:
        default = directory.find_organisation(conn, org)
        orgs = {name: directory.find_organisation(conn, name) for name in seen.values()}
    router = OrganisationRouter(
        default.id, [(network, orgs[name].id) for network, name in seen.items()]
    )
    config = ListenerConfig.from_settings(
        rt.settings, udp=udp_at, tcp=tcp_at, stats_interval=stats_interval
    )
    trail = rt.operator_trail()  # refuses an insecure setup before anything listens
    audit = {
        "udp": [f"{h}:{p}" for h, p in udp_at],
        "tcp": [f"{h}:{p}" for h, p in tcp_at],
        "map": {str(network): name for network, name in seen.items()},
    }

    def listening() -> None:
        with rt.transaction() as conn:
            trail.record(conn, "syslog.listen", default.name, audit)

    _log_to(rt)
    with open_event_sink(rt.settings) as sink:
        final = asyncio.run(_serve(rt, SyslogListener(sink, router, config), listening))
    rt.out.print(final.line(), markup=False, highlight=False)
    if final.top_senders:
        rt.out.print(
            "top senders: " + ", ".join(f"{a} {n}" for a, n in final.top_senders),
            markup=False,
            highlight=False,
        )


async def _serve(
    rt: Runtime, listener: SyslogListener, listening: Callable[[], None]
) -> StatsSnapshot:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await listener.start()
    try:
        listening()  # the audit entry, once the sockets are bound
    except BaseException:
        await listener.stop()
        raise
    rt.err.print(
        "listening on "
        + ", ".join(
            [f"udp {h}:{p}" for h, p in listener.udp_addresses]
            + [f"tcp {h}:{p}" for h, p in listener.tcp_addresses]
        )
        + "; Ctrl-C to stop",
        markup=False,
        highlight=False,
    )
    try:
        if rt.err.is_terminal:
            with Live(_table(listener.snapshot()), console=rt.err, transient=True) as live:
                while not stop.is_set():
                    with suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=1.0)
                    live.update(_table(listener.snapshot()))
        else:
            await stop.wait()
    finally:
        rt.err.print("stopping: handing what is held to the lake …")
        final = await listener.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return final


def _table(s: StatsSnapshot) -> Table:
    table = Table("syslog", "", title="steppe syslog listen", title_justify="left")
    table.add_row("received", f"{s.received:,}")
    table.add_row("accepted into the lake", f"{s.accepted:,}")
    drops = ", ".join(f"{reason} {n:,}" for reason, n in sorted(s.dropped.items()))
    table.add_row("dropped", f"{s.dropped_total:,}" + (f" ({drops})" if drops else ""))
    table.add_row("parse problems (kept)", f"{s.parse_problems:,}")
    table.add_row("truncated (kept)", f"{s.truncated:,}")
    table.add_row("queue", f"{s.queue_depth:,} / {s.queue_capacity:,}")
    table.add_row("lake refusals (full)", f"{s.sink_refusals:,}")
    table.add_row(
        "tcp connections",
        f"{s.connections_open} open, {s.connections_total} total, "
        f"{s.connections_refused} refused, paused {s.tcp_pauses} times",
    )
    if s.kernel_udp_drops is not None:
        table.add_row("kernel UDP drops", f"{s.kernel_udp_drops:,}")
    for address, count in s.top_senders[:5]:
        table.add_row(f"  sender {address}", f"{count:,}")
    return table


def _log_to(rt: Runtime) -> None:
    """Stats lines and warnings of the listener to stderr, alongside the live table."""
    logger = logging.getLogger("steppe.syslog")
    if not logger.handlers:
        logger.addHandler(RichHandler(console=rt.err, show_path=False, markup=False))
        logger.setLevel(logging.INFO)
