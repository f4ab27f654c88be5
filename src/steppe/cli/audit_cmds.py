"""`steppe audit`: check and read the hash-chained audit log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from steppe.audit import log
from steppe.cli.runtime import Runtime

__all__ = ["audit_app"]

audit_app = typer.Typer(help="The append-only, hash-chained audit log.")


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Check every entry of the chain; exit 1 at the first one changed, added or removed."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        report = log.verify(conn, rt.secret_key())
    if report.ok:
        rt.out.print(f"audit log intact: {report.entries} entries verified")
        return
    rt.err.print(f"audit log BROKEN at entry {report.first_bad_seq}: {report.problem}")
    raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    ctx: typer.Context, limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20
) -> None:
    """Show the newest audit entries."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        entries = log.recent(conn, limit)
    table = Table("seq", "at", "actor", "action", "object")
    for e in entries:
        table.add_row(str(e.seq), e.at, e.actor, e.action, e.object)
    rt.out.print(table)
