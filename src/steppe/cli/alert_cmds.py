"""`steppe detect` (IOC detection over the lake, retro-hunt) and `steppe alert`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from steppe.alerts.detect import DetectReport, detect_lake
from steppe.alerts.queries import get_alert, list_alerts, resolve_alert_id
from steppe.cli.runtime import Runtime, write_json
from steppe.detection.ioc import IocIndex, build_index, refresh
from steppe.errors import InputError
from steppe.sharing import directory
from steppe.storage import timestamps
from steppe.storage.schema import intel_objects

__all__ = ["alert_app", "detect", "parse_since"]

alert_app = typer.Typer(help="Alerts on members' telemetry, as a user may see them.")

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: str | None = None, option: str = "--since") -> str:
    """``24h``, ``30d``, ``90m`` back from now, or an RFC 3339 time → stored timestamp.

    >>> parse_since("2d", now="2026-11-28T00:00:00.000000Z")
    '2026-11-26T00:00:00.000000Z'
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return timestamps.format_ts(timestamps.parse(now or timestamps.now()) - delta)
    try:
        return timestamps.normalise(text.strip())
    except ValueError:
        raise InputError(
            f"{text!r} is neither a duration (24h, 30d) nor an RFC 3339 time", field=option
        ) from None


def detect(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option(help="Events since: a duration back from now (24h, 30d) or a time.")
    ] = "24h",
    org: Annotated[
        str | None, typer.Option(help="Only this organisation's telemetry (name).")
    ] = None,
    retro: Annotated[
        bool,
        typer.Option(
            "--retro",
            help="Retro-hunt: match only indicators imported within --since, over the "
            "lake's last --window days.",
        ),
    ] = False,
    window: Annotated[int, typer.Option(help="Days of lake a retro-hunt covers.", min=1)] = 30,
) -> None:
    """Match the lake's events against the active indicators and store alerts.

    Each organisation's events are matched only against the intel it may see. Running it
    again stores nothing twice (alert ids are deterministic)."""
    rt: Runtime = ctx.obj
    moment = timestamps.now()
    start = parse_since(since, moment)
    with rt.reading() as conn:
        orgs = None if org is None else [directory.find_organisation(conn, org).id]
        if retro:
            new = conn.scalars(
                intel_objects.select()
                .with_only_columns(intel_objects.c.stix_id)
                .where(intel_objects.c.type == "indicator", intel_objects.c.imported_at >= start)
            ).all()
            index = IocIndex()
            refresh(conn, index, new, moment)
            start = parse_since(f"{window}d", moment)
        else:
            index = build_index(conn, moment)
    trail = rt.operator_trail()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=rt.err,
    ) as progress:
        task = progress.add_task(f"matching {len(index):,} indicators", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = (
            detect_lake(
                rt.engine,
                trail,
                rt.settings.resolved_lake_dir(),
                index,
                since=start,
                organisations=orgs,
                now=moment,
                progress=step,
                window_seconds=rt.settings.alert_aggregation_minutes * 60,
            )
            if len(index)
            else DetectReport()
        )
    rt.out.print(
        f"{report.events:,} events in {report.partitions} partitions, {report.events_hit:,} "
        f"hit {len(index):,} indicators: {report.new:,} new alerts, {report.aggregated:,} "
        f"events added to existing alerts, {report.duplicates:,} already known, "
        f"{report.sightings:,} sightings"
    )


@alert_app.command("list")
def alert_list(
    ctx: typer.Context,
    as_user: Annotated[str, typer.Option("--as", help="List what this user may see.")],
    severity: Annotated[str | None, typer.Option(help="low, medium, high or critical.")] = None,
    search: Annotated[str | None, typer.Option(help="Text in the value or indicator.")] = None,
    since: Annotated[str | None, typer.Option(help="Seen since: 24h, 7d or a time.")] = None,
    status: Annotated[
        str | None, typer.Option(help="new, acknowledged, false-positive, escalated, closed.")
    ] = None,
    assignee: Annotated[str | None, typer.Option(help="Assigned to this user.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, for scripts.")] = False,
) -> None:
    """Alerts a user may see (their organisation's; the center's staff: every member's)."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        page = list_alerts(
            conn,
            actor,
            severity=severity,
            search=search,
            since=None if since is None else parse_since(since),
            status=status,
            assignee=assignee,
            limit=limit,
        )
    if as_json:
        for item in page.items:
            write_json(item.as_json())
        return
    table = Table(
        "id", "seen", "organisation", "severity", "status", "count", "host", "observed",
        "indicator", title=f"{len(page.items)} of {page.total} alerts visible to {as_user}",
    )  # fmt: skip
    for a in page.items:
        table.add_row(
            a.id[:12],
            a.last_seen[:19],
            a.organisation,
            a.severity,
            a.status + (f" ({a.assignee})" if a.assignee else ""),
            str(a.count),
            a.host or "",
            a.observed or a.title,
            a.indicator or a.rule_id or "(not visible to you)",
        )
    rt.out.print(table)


@alert_app.command("show")
def alert_show(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(help="The alert id (as listed; full or a prefix).")],
    as_user: Annotated[str, typer.Option("--as", help="Show as this user may see it.")],
) -> None:
    """One alert with its evidence (the event), as JSON."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        view = get_alert(conn, actor, resolve_alert_id(conn, actor, alert_id))
    write_json(view.as_json(), indent=True)
