"""`steppe hunt` and `steppe lake`: SQL over members' telemetry; the lake's upkeep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from steppe.cli.runtime import Runtime, write_json
from steppe.errors import InputError
from steppe.lake import EventLake
from steppe.lake.hunt import hunt as run_hunt
from steppe.lake.partitions import partition_stats, spool_backlog
from steppe.lake.retention import apply_retention, retention_overrides, set_retention
from steppe.sharing import directory

__all__ = ["hunt", "lake_app"]

lake_app = typer.Typer(help="The telemetry event lake: what it holds, retention, pruning.")


def hunt(
    ctx: typer.Context,
    sql: Annotated[
        str, typer.Argument(help="SQL over the view `events`, e.g. SELECT … FROM events")
    ],
    as_user: Annotated[str, typer.Option("--as", help="Hunt over what this user may read.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts.")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(help="Most rows to return (default: $STEPPE_HUNT_MAX_ROWS).", min=1),
    ] = None,
) -> None:
    """Run SQL over the telemetry a user may read (their organisation's; the center's
    staff: every member's). Columns are the ECS names, quoted: "source.ip"."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
    result = run_hunt(
        actor,
        sql,
        rt.settings.resolved_lake_dir(),
        limit=limit or rt.settings.hunt_max_rows,
        timeout_seconds=rt.settings.hunt_timeout_seconds,
    )
    if as_json:
        write_json(result.as_json())
        if result.note:
            rt.err.print(f"note: {result.note}")
        return
    table = Table(*result.columns, title=f"{len(result.rows)} rows visible to {as_user}")
    for row in result.rows:
        table.add_row(*(_cell(value) for value in row))
    rt.out.print(table)
    if result.note:
        rt.err.print(f"note: {result.note}")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%fZ")
    return str(value)


@lake_app.command("stats")
def lake_stats(ctx: typer.Context) -> None:
    """Day partitions per organisation: files, rows and bytes."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        names = {org.id: org.name for org in directory.list_organisations(conn)}
    root = rt.settings.resolved_lake_dir()
    stats = partition_stats(root)
    segments, waiting = spool_backlog(root)
    if segments:
        rt.out.print(f"spool: {segments} segments, {waiting:,} bytes not yet in Parquet")
    kept, kept_bytes = spool_backlog(root, "quarantine/*.wal")
    if kept:
        rt.err.print(
            f"quarantine: {kept} segments ({kept_bytes:,} bytes) the writer could not "
            f"handle, kept in {root / 'quarantine'}"
        )
    if not stats:
        rt.out.print(f"the lake at {root} holds no telemetry")
        return
    table = Table("organisation", "day", "files", "rows", "bytes")
    for s in stats:
        table.add_row(
            names.get(s.organisation, f"#{s.organisation}"),
            s.day.isoformat(),
            str(s.files),
            f"{s.rows:,}",
            f"{s.bytes:,}",
        )
    table.add_section()
    table.add_row(
        "total",
        f"{len(stats)} days",
        str(sum(s.files for s in stats)),
        f"{sum(s.rows for s in stats):,}",
        f"{sum(s.bytes for s in stats):,}",
    )
    rt.out.print(table)


@lake_app.command("retention")
def lake_retention(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option("--org", help="Organisation to set.")] = None,
    days: Annotated[
        int | None, typer.Option(help="Days of telemetry this organisation keeps.", min=1)
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Give the organisation the default back.")
    ] = False,
) -> None:
    """Show each organisation's retention, or set one with --org and --days (or --reset)."""
    rt: Runtime = ctx.obj
    default = rt.settings.lake_retention_days
    if org is not None:
        if (days is None) == (not reset):
            raise InputError("give --days N or --reset with --org", field="--days")
        with rt.transaction() as conn:
            organisation = directory.find_organisation(conn, org)
            set_retention(conn, rt.operator_trail(), organisation, None if reset else days)
        kept = default if reset else days
        rt.out.print(f"{organisation.name} keeps {kept} days of telemetry")
        return
    if days is not None or reset:
        raise InputError("--days and --reset need --org", field="--org")
    with rt.reading() as conn:
        overrides = retention_overrides(conn)
        orgs = directory.list_organisations(conn)
    table = Table("organisation", "days", "from", title=f"default: {default} days")
    for o in orgs:
        own = overrides.get(o.id)
        table.add_row(o.name, str(own or default), "own setting" if own else "default")
    rt.out.print(table)


@lake_app.command("prune")
def lake_prune(ctx: typer.Context) -> None:
    """Delete the day partitions past each organisation's retention."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        names = {org.id: org.name for org in directory.list_organisations(conn)}
    today = datetime.now(UTC).date()
    gone = apply_retention(
        rt.engine,
        rt.operator_trail(),
        rt.settings.resolved_lake_dir(),
        today,
        rt.settings.lake_retention_days,
    )
    for p in gone:
        rt.out.print(
            f"pruned {names.get(p.organisation, f'#{p.organisation}')} {p.day.isoformat()}"
        )
    rt.out.print(f"{len(gone)} day partitions pruned")


@lake_app.command("compact")
def lake_compact(
    ctx: typer.Context,
    min_age_days: Annotated[
        int, typer.Option(help="Only days at least this old (late events go to newer ones).", min=1)
    ] = 2,
) -> None:
    """Merge each past day's many small Parquet files into one (hunts read it faster)."""
    rt: Runtime = ctx.obj
    lake = EventLake.from_settings(rt.settings)
    done = lake.compact(datetime.now(UTC), min_age_days=min_age_days)
    for partition, files in done:
        rt.out.print(f"organisation {partition.organisation} {partition.day}: {files} files → 1")
    rt.out.print(f"{len(done)} day partitions compacted")
