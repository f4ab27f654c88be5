"""`steppe export FORMAT` (indicators for enforcement devices) and `steppe blocklist`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from steppe.cli.runtime import Runtime
from steppe.errors import InputError
from steppe.heap import settle_heap
from steppe.response.blocklists import (
    add_to_blocklist,
    find_blocklist,
    list_blocklists,
    list_entries,
    remove_from_blocklist,
)
from steppe.response.exports import (
    EXPORTABLE_TYPES,
    ExportOptions,
    plan_export,
    registered_exporters,
    stream_export,
)
from steppe.sharing import directory
from steppe.sharing.model import parse_tlp

__all__ = ["blocklist_app", "export"]

blocklist_app = typer.Typer(help="An organisation's named lists of indicators to enforce.")


def export(
    ctx: typer.Context,
    format_name: Annotated[
        str,
        typer.Argument(
            metavar="FORMAT",
            help="csv, nft, rpz, snort, stix, suricata, suricata-datasets or zeek.",
        ),
    ],
    as_user: Annotated[str, typer.Option("--as", help="Export what this user may see.")],
    out: Annotated[
        Path | None, typer.Option(help="Write to this file (default: standard output).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Cursor of an earlier export: only what changed since (nft, csv, stix)."),
    ] = None,
    blocklist: Annotated[
        str | None, typer.Option(help="Only the indicators of this blocklist.")
    ] = None,
    max_tlp: Annotated[
        str, typer.Option(help="TLP ceiling: clear, green, amber, amber+strict or red.")
    ] = "amber",
    types: Annotated[
        list[str] | None,
        typer.Option("--type", help=f"Observable type (repeat): {', '.join(EXPORTABLE_TYPES)}."),
    ] = None,
    min_confidence: Annotated[int | None, typer.Option(min=0, max=100)] = None,
    min_score: Annotated[float | None, typer.Option(min=0, max=100)] = None,
    include_warninglisted: Annotated[
        bool, typer.Option(help="Also export values on a warninglist.")
    ] = False,
) -> None:
    """Export indicators a user's organisation may enforce, for a firewall, resolver or IDS.

    Only what the user may see, active, off warninglists, up to TLP:AMBER unless
    --max-tlp says otherwise. Prints the cursor to pass as --since next time
    (on standard error when the export goes to standard output).
    """
    rt: Runtime = ctx.obj
    level = parse_tlp(max_tlp, "--max-tlp")
    options = ExportOptions(
        max_tlp=level,
        types=tuple(types or ()),
        min_confidence=min_confidence,
        min_score=min_score,
        blocklist=blocklist,
        include_warninglisted=include_warninglisted,
    )
    if format_name not in registered_exporters():
        raise InputError(
            f"no export format {format_name!r}; choose from {', '.join(registered_exporters())}",
            field="FORMAT",
        )
    # The collector's walks were ~10 % of a million-value export's CPU (steppe.heap);
    # the API's exports run in `steppe serve`, which settles its heap the same way.
    settle_heap()
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        plan = plan_export(
            actor,
            format_name,
            options,
            since=since,
            requester=directory.get_organisation(conn, actor.org_id).name,
            sid_base=rt.settings.export_sid_base,
            name=rt.settings.export_name,
        )
        if out is None:
            for chunk in stream_export(conn, actor, plan):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            # No total: counting first would read the whole selection twice.
            with _progress(rt) as progress, out.open("wb") as sink:
                task = progress.add_task(f"{plan.exporter.name} → {out}", total=None)
                for chunk in stream_export(
                    conn, actor, plan, lambda n: progress.update(task, completed=n)
                ):
                    sink.write(chunk)
                done = plan.stats.added + plan.stats.removed
                progress.update(task, completed=done, total=done)
    kind = "incremental" if plan.incremental else "full"
    rt.err.print(
        f"{kind} export: {plan.stats.added} added, {plan.stats.removed} removed; "
        f"next --since {plan.cursor}"
    )


def _progress(rt: Runtime) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=rt.err,
        transient=False,
    )


@blocklist_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Blocklist name (created if missing).")],
    indicator_ids: Annotated[list[str], typer.Argument(help="STIX ids of indicators.")],
    as_user: Annotated[str, typer.Option("--as", help="The user adding them.")],
    reason: Annotated[str, typer.Option(help="Why (kept with each entry).")] = "",
) -> None:
    """Add indicators the user may see to its organisation's blocklist."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        actor = directory.load_actor(conn, as_user)
        added = add_to_blocklist(conn, rt.operator_trail(), actor, name, indicator_ids, reason)
    rt.out.print(f"{added} added to {name}")


@blocklist_app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Blocklist name.")],
    indicator_ids: Annotated[list[str], typer.Argument(help="STIX ids of indicators.")],
    as_user: Annotated[str, typer.Option("--as", help="The user removing them.")],
) -> None:
    """Remove indicators from a blocklist (the entries keep their history)."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        actor = directory.load_actor(conn, as_user)
        removed = remove_from_blocklist(conn, rt.operator_trail(), actor, name, indicator_ids)
    rt.out.print(f"{removed} removed from {name}")


@blocklist_app.command("list")
def list_(
    ctx: typer.Context,
    as_user: Annotated[str, typer.Option("--as", help="List this user's organisation's.")],
) -> None:
    """The blocklists of a user's organisation."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        found = list_blocklists(conn, directory.load_actor(conn, as_user))
    table = Table("name", "entries", "created", "by", "description")
    for b in found:
        table.add_row(b.name, str(b.entries), b.created_at[:19], b.created_by, b.description)
    rt.out.print(table)


@blocklist_app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Blocklist name.")],
    as_user: Annotated[str, typer.Option("--as", help="Show as this user may see it.")],
    removed: Annotated[bool, typer.Option(help="Also list removed entries.")] = False,
) -> None:
    """A blocklist's entries (only indicators the user may still see)."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        listed = find_blocklist(conn, actor, name)
        entries = list_entries(conn, actor, name, include_removed=removed)
    table = Table("indicator", "added", "by", "reason", "removed", title=f"{listed.name}")
    for e in entries:
        table.add_row(e.stix_id, e.added_at[:19], e.added_by, e.reason, (e.removed_at or "")[:19])
    rt.out.print(table)
