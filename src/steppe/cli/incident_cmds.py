"""`steppe incident`: open, share, work and read incidents as a user may.

Incident ids may be given in full (``incident--<uuid>``) or as the first characters of
the uuid, as ``steppe incident list`` shows them.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Connection

from steppe.alerts.queries import resolve_alert_id
from steppe.cli.runtime import Runtime, write_json
from steppe.errors import InputError
from steppe.response.incidents import add_alerts, add_participant, open_incident, set_status
from steppe.response.incidents.evidence import add_intel, add_note, list_evidence
from steppe.response.incidents.queries import (
    get_incident,
    list_comments,
    list_incidents,
    resolve_incident_id,
    timeline,
)
from steppe.response.incidents.store import add_comment
from steppe.response.incidents.tasks import add_task, list_tasks, update_task
from steppe.response.incidents.templates import load_templates, templates_by_name
from steppe.sharing import directory
from steppe.sharing.model import Actor, Distribution, parse_tlp

__all__ = ["incident_app"]

incident_app = typer.Typer(help="Incidents: cases that may span members, with tasks, "
                           "comments, evidence and a timeline.")  # fmt: skip
participant_app = typer.Typer(help="Organisations taking part in an incident.")
task_app = typer.Typer(help="Tasks of an incident.")
evidence_app = typer.Typer(help="Evidence of an incident (each item keeps its own rights).")
incident_app.add_typer(participant_app, name="participant")
incident_app.add_typer(task_app, name="task")
incident_app.add_typer(evidence_app, name="evidence")

AsUser = Annotated[str, typer.Option("--as", help="Act as (and see what) this user may.")]
IncidentArg = Annotated[str, typer.Argument(help="Incident id, or the start of its uuid.")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON, for scripts.")]


def _short(incident_id: str) -> str:
    return incident_id.removeprefix("incident--")[:8]


def _distribution(text: str) -> Distribution:
    try:
        return Distribution(text)
    except ValueError:
        raise InputError(f"{text!r} is not a distribution", field="--distribution") from None


def _resolve(conn: Connection, as_user: str, incident: str) -> tuple[Actor, str]:
    actor = directory.load_actor(conn, as_user)
    return actor, resolve_incident_id(conn, actor, incident)


@incident_app.command("open")
def open_cmd(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="What happened, in a line.")],
    as_user: AsUser,
    severity: Annotated[str, typer.Option(help="low, medium, high or critical.")] = "medium",
    tlp: Annotated[str, typer.Option(help="TLP of the incident.")] = "amber",
    participant: Annotated[
        list[str] | None, typer.Option(help="An organisation taking part (repeatable).")
    ] = None,
    alert: Annotated[
        list[str] | None, typer.Option(help="An alert as evidence (repeatable; prefix ok).")
    ] = None,
    template: Annotated[str | None, typer.Option(help="Task template to start from.")] = None,
    description: Annotated[str, typer.Option(help="Longer description.")] = "",
    coordinated: Annotated[
        bool, typer.Option("--coordinated", help="Coordinated by the center.")
    ] = False,
) -> None:
    """Open an incident owned by the user's organisation."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        actor = directory.load_actor(conn, as_user)
        orgs = [directory.find_organisation(conn, name).id for name in participant or []]
        alerts = [resolve_alert_id(conn, actor, a) for a in alert or []]
        incident_id = open_incident(
            conn,
            rt.operator_trail(),
            actor,
            title=title,
            severity=severity,
            tlp=parse_tlp(tlp, "--tlp"),
            participants=orgs,
            alert_ids=alerts,
            description=description,
            template=template,
            coordinated=coordinated,
            templates=templates_by_name(rt.settings.incident_templates_file),
        )
    rt.out.print(f"opened {incident_id}")


@incident_app.command("list")
def list_cmd(
    ctx: typer.Context,
    as_user: AsUser,
    status: Annotated[str | None, typer.Option(help="open, investigating, …")] = None,
    severity: Annotated[str | None, typer.Option(help="low, medium, high, critical.")] = None,
    search: Annotated[str | None, typer.Option(help="Text in the title.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: AsJson = False,
) -> None:
    """Incidents the user may see, last changed first."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        page = list_incidents(
            conn, actor, status=status, severity=severity, search=search, limit=limit
        )
    if as_json:
        for item in page.items:
            write_json(item.as_json())
        return
    table = Table("id", "updated", "status", "severity", "tlp", "owner", "participants",
                  "open tasks", "title",
                  title=f"{len(page.items)} of {page.total} incidents visible to {as_user}")  # fmt: skip
    for i in page.items:
        table.add_row(
            _short(i.id),
            i.updated_at[:19],
            i.status,
            i.severity,
            i.tlp.upper(),
            i.owner + (" (center)" if i.coordinated else ""),
            ", ".join(i.participants),
            str(i.open_tasks),
            i.title,
        )
    rt.out.print(table)


@incident_app.command("show")
def show_cmd(
    ctx: typer.Context, incident: IncidentArg, as_user: AsUser, as_json: AsJson = False
) -> None:
    """One incident with its tasks and the evidence the user may see."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor, incident_id = _resolve(conn, as_user, incident)
        view = get_incident(conn, actor, incident_id)
        tasks = list_tasks(conn, actor, incident_id)
        evidence = list_evidence(conn, actor, incident_id)
    if as_json:
        out = view.as_json() | {
            "tasks": [t.as_json() for t in tasks],
            "evidence": [e.as_json() for e in evidence],
        }
        write_json(out, indent=True)
        return
    rt.out.print(f"[bold]{view.title}[/bold]  {view.id}")
    rt.out.print(
        f"{view.status} · {view.severity} · TLP:{view.tlp.upper()} · owner {view.owner}"
        f"{' · coordinated by the center' if view.coordinated else ''}"
    )
    rt.out.print(f"participants: {', '.join(view.participants) or 'none'}")
    if view.description:
        rt.out.print(view.description)
    table = Table("#", "status", "task", "assignee", "due", title="tasks")
    for t in tasks:
        who = t.assignee or t.assignee_org or ""
        table.add_row(str(t.id), t.status, t.title, who, (t.due or "")[:19])
    rt.out.print(table)
    shown = Table("#", "kind", "what", "added by", title="evidence you may see")
    for e in evidence:
        shown.add_row(str(e.id), e.kind, e.title, e.added_by)
    rt.out.print(shown)


@incident_app.command("status")
def status_cmd(
    ctx: typer.Context,
    incident: IncidentArg,
    status: Annotated[
        str, typer.Argument(help="open, investigating, contained, resolved or closed.")
    ],
    as_user: AsUser,
) -> None:
    """Move an incident to another status."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        actor, incident_id = _resolve(conn, as_user, incident)
        set_status(conn, rt.operator_trail(), actor, incident_id, status)
    rt.out.print(f"{incident_id} is {status}")


@participant_app.command("add")
def participant_add(
    ctx: typer.Context,
    incident: IncidentArg,
    organisation: Annotated[str, typer.Argument(help="The organisation's name.")],
    as_user: AsUser,
) -> None:
    """Share an incident with an organisation (the owner and the center's staff)."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        actor, incident_id = _resolve(conn, as_user, incident)
        org = directory.find_organisation(conn, organisation)
        add_participant(conn, rt.operator_trail(), actor, incident_id, org.id)
    rt.out.print(f"{organisation} takes part in {incident_id}")


@task_app.command("add")
def task_add(
    ctx: typer.Context,
    incident: IncidentArg,
    title: Annotated[str, typer.Argument(help="What to do.")],
    as_user: AsUser,
    assignee: Annotated[str | None, typer.Option(help="The user who does it.")] = None,
    assignee_org: Annotated[str | None, typer.Option(help="The organisation that does it.")] = None,
    due: Annotated[str | None, typer.Option(help="When it is due (RFC 3339).")] = None,
) -> None:
    """Add a task to an incident."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        actor, incident_id = _resolve(conn, as_user, incident)
        task_id = add_task(
            conn,
            rt.operator_trail(),
            actor,
            incident_id,
            title=title,
            assignee=assignee,
            assignee_org=assignee_org,
            due=due,
        )
    rt.out.print(f"task {task_id} added")


@task_app.command("done")
def task_done(
    ctx: typer.Context,
    incident: IncidentArg,
    task: Annotated[int, typer.Argument(help="The task number (see `incident show`).")],
    as_user: AsUser,
) -> None:
    """Mark a task done."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        actor, incident_id = _resolve(conn, as_user, incident)
        update_task(conn, rt.operator_trail(), actor, incident_id, task, status="done")
    rt.out.print(f"task {task} is done")


@incident_app.command("comment")
def comment_cmd(
    ctx: typer.Context,
    incident: IncidentArg,
    text: Annotated[str, typer.Argument(help="The comment (every participant sees it).")],
    as_user: AsUser,
) -> None:
    """Comment on an incident."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        actor, incident_id = _resolve(conn, as_user, incident)
        add_comment(conn, rt.operator_trail(), actor, incident_id, text)
    rt.out.print("comment added")


@incident_app.command("comments")
def comments_cmd(ctx: typer.Context, incident: IncidentArg, as_user: AsUser) -> None:
    """An incident's comments, oldest first."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor, incident_id = _resolve(conn, as_user, incident)
        found = list_comments(conn, actor, incident_id)
    table = Table("when", "author", "organisation", "comment", title=f"{len(found)} comments")
    for c in found:
        table.add_row(c.created_at[:19], c.author, c.organisation, c.text)
    rt.out.print(table)


@evidence_app.command("add")
def evidence_add(
    ctx: typer.Context,
    incident: IncidentArg,
    as_user: AsUser,
    alert: Annotated[str | None, typer.Option(help="An alert id (prefix ok).")] = None,
    intel: Annotated[str | None, typer.Option(help="An intel object's stix id.")] = None,
    note: Annotated[str | None, typer.Option(help="A note's title.")] = None,
    body: Annotated[str, typer.Option(help="The note's text.")] = "",
    distribution: Annotated[
        str, typer.Option(help="The note's distribution: organisation, groups, community.")
    ] = "organisation",
    tlp: Annotated[str, typer.Option(help="The note's TLP.")] = "amber",
    group: Annotated[
        list[str] | None, typer.Option(help="Sharing group of the note (repeatable).")
    ] = None,
) -> None:
    """Add an alert, an intel object or a note (with its own marking) as evidence."""
    rt: Runtime = ctx.obj
    if sum(x is not None for x in (alert, intel, note)) != 1:
        raise typer.BadParameter("give exactly one of --alert, --intel, --note")
    with rt.transaction() as conn:
        actor, incident_id = _resolve(conn, as_user, incident)
        trail = rt.operator_trail()
        if alert is not None:
            add_alerts(conn, trail, actor, incident_id, [resolve_alert_id(conn, actor, alert)])
        elif intel is not None:
            add_intel(conn, trail, actor, incident_id, intel)
        else:
            add_note(
                conn,
                trail,
                actor,
                incident_id,
                title=note or "",
                body=body,
                distribution=_distribution(distribution),
                tlp=parse_tlp(tlp, "--tlp"),
                groups=group or [],
            )
    rt.out.print("evidence added")


@evidence_app.command("list")
def evidence_list(ctx: typer.Context, incident: IncidentArg, as_user: AsUser) -> None:
    """The evidence the user may see."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor, incident_id = _resolve(conn, as_user, incident)
        found = list_evidence(conn, actor, incident_id)
    table = Table("#", "kind", "what", "marking", "added by", "when", title="evidence you may see")
    for e in found:
        marking = f"{e.distribution} TLP:{(e.tlp or '').upper()}" if e.kind == "note" else ""
        table.add_row(str(e.id), e.kind, e.title, marking, e.added_by, e.added_at[:19])
    rt.out.print(table)


@incident_app.command("timeline")
def timeline_cmd(
    ctx: typer.Context, incident: IncidentArg, as_user: AsUser, as_json: AsJson = False
) -> None:
    """What happened to an incident, oldest first."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor, incident_id = _resolve(conn, as_user, incident)
        entries = timeline(conn, actor, incident_id)
    if as_json:
        for e in entries:
            write_json(e.as_json())
        return
    table = Table("#", "when", "who", "what", "detail", title=f"timeline of {incident_id}")
    for e in entries:
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items() if v is not None)
        table.add_row(str(e.id), e.at[:19], e.actor, e.kind, detail)
    rt.out.print(table)


@incident_app.command("templates")
def templates_cmd(ctx: typer.Context) -> None:
    """Task templates an incident can start from (built-in and from the settings)."""
    rt: Runtime = ctx.obj
    table = Table("name", "description", "tasks", title="incident task templates")
    for t in load_templates(rt.settings.incident_templates_file):
        table.add_row(t.name, t.description, "\n".join(t.tasks))
    rt.out.print(table)
