"""`steppe alert ack|close|false-positive|escalate|reopen|assign|comment|comments|history|triage`.

Each state command takes one or more alert ids (full, or the 12-character prefix the
listing shows) and reports every alert: one that may not move says why, the others move.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from steppe.alerts import triage
from steppe.alerts.queries import resolve_alert_id
from steppe.cli.runtime import Runtime
from steppe.errors import InputError
from steppe.sharing import directory

__all__ = ["register"]

AsUser = Annotated[str, typer.Option("--as", help="Act as this user.")]
AlertIds = Annotated[list[str], typer.Argument(help="Alert ids (full or a listed prefix).")]


def _run(
    ctx: typer.Context,
    as_user: str,
    ids: list[str],
    *,
    status: str | None = None,
    assignee: str | None = None,
    set_assignee: bool = False,
) -> None:
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        actor = directory.load_actor(conn, as_user)
        full = [resolve_alert_id(conn, actor, i) for i in ids]
        kwargs: dict[str, object] = {"status": status}
        if set_assignee:
            kwargs["assignee"] = assignee
        outcomes = triage.triage_alerts(
            conn,
            rt.operator_trail(),
            actor,
            full,
            **kwargs,  # type: ignore[arg-type]
        )
    table = Table("alert", "result", title=f"{sum(o.changed for o in outcomes)} of "
                  f"{len(outcomes)} alerts changed")  # fmt: skip
    for outcome in outcomes:
        table.add_row(outcome.alert_id[:12], "changed" if outcome.changed else outcome.error)
    rt.out.print(table)
    if not any(o.changed for o in outcomes):
        raise typer.Exit(1)


def _state_command(app: typer.Typer, name: str, status: str, doc: str) -> None:
    def command(ctx: typer.Context, ids: AlertIds, as_user: AsUser) -> None:
        _run(ctx, as_user, ids, status=status)

    command.__doc__ = doc
    app.command(name)(command)


def register(app: typer.Typer) -> None:
    """Add the triage commands to ``steppe alert``."""
    for name, status, doc in (
        ("ack", "acknowledged", "Acknowledge alerts: someone is looking at them."),
        ("close", "closed", "Close alerts: handled."),
        (
            "false-positive",
            "false-positive",
            "Mark alerts benign; IOC alerts tell the indicator's producer (a "
            "false-positive sighting).",
        ),
        ("escalate", "escalated", "Escalate alerts (usually into an incident)."),
        ("reopen", "acknowledged", "Reopen closed or false-positive alerts (acknowledged)."),
    ):
        _state_command(app, name, status, doc)
    app.command("assign")(assign)
    app.command("triage")(bulk)
    app.command("comment")(comment)
    app.command("comments")(comments)
    app.command("history")(history)


def assign(
    ctx: typer.Context,
    ids: AlertIds,
    as_user: AsUser,
    to: Annotated[str | None, typer.Option(help="The user who works them.")] = None,
    nobody: Annotated[bool, typer.Option("--nobody", help="Take them back.")] = False,
) -> None:
    """Give alerts to a user who may work them (an analyst of the alert's organisation
    or of the center's staff)."""
    if (to is None) == (not nobody):
        raise InputError("give either --to USER or --nobody", field="--to")
    _run(ctx, as_user, ids, assignee=None if nobody else to, set_assignee=True)


def bulk(
    ctx: typer.Context,
    ids: AlertIds,
    as_user: AsUser,
    status: Annotated[
        str | None,
        typer.Option(help="new, acknowledged, false-positive, escalated or closed."),
    ] = None,
    to: Annotated[str | None, typer.Option(help="Assign them to this user.")] = None,
) -> None:
    """Set one status and/or assignee on many alerts at once."""
    if status is None and to is None:
        raise InputError("give --status, --to or both", field="--status")
    _run(ctx, as_user, ids, status=status, assignee=to, set_assignee=to is not None)


def comment(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(help="The alert id (full or a listed prefix).")],
    text: Annotated[str, typer.Argument(help="The comment.")],
    as_user: AsUser,
) -> None:
    """Comment on an alert."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        actor = directory.load_actor(conn, as_user)
        full = resolve_alert_id(conn, actor, alert_id)
        triage.comment_alert(conn, rt.operator_trail(), actor, full, text)
    rt.out.print(f"comment added to alert {full[:12]}")


def comments(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(help="The alert id (full or a listed prefix).")],
    as_user: AsUser,
) -> None:
    """An alert's comments, oldest first."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        found = triage.list_alert_comments(conn, actor, resolve_alert_id(conn, actor, alert_id))
    table = Table("when", "author", "comment", title=f"{len(found)} comments")
    for c in found:
        table.add_row(c.created_at[:19], c.author, c.text)
    rt.out.print(table)


def history(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(help="The alert id (full or a listed prefix).")],
    as_user: AsUser,
) -> None:
    """Every triage change of an alert, oldest first."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        found = triage.alert_history(conn, actor, resolve_alert_id(conn, actor, alert_id))
    table = Table("when", "who", "change", "detail", title=f"{len(found)} changes")
    for h in found:
        detail = ", ".join(f"{k}={v}" for k, v in h.detail.items())
        table.add_row(h.at[:19], h.actor, h.action, detail)
    rt.out.print(table)
