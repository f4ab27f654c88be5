"""`steppe playbook`: check playbook files, list them, run them, follow their runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from steppe.cli.runtime import Runtime, write_json
from steppe.errors import ConfigError, InvalidPlaybook
from steppe.response.playbooks import PlaybookLibrary, PlaybookRunner, load_playbook_file
from steppe.response.playbooks.loader import check_references
from steppe.response.playbooks.runs import get_run, list_runs, retry_run
from steppe.sharing import directory
from steppe.storage import migrate

__all__ = ["playbook_app"]

playbook_app = typer.Typer(help="Playbooks: when an alert, incident or intel arrives, act.")

DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="Folder of playbooks (default: $STEPPE_PLAYBOOK_DIR)."),
]


def _library(rt: Runtime, folder: Path | None) -> PlaybookLibrary:
    found = folder or rt.settings.playbook_dir
    if found is None:
        raise ConfigError("no playbook folder: set STEPPE_PLAYBOOK_DIR or pass --dir")
    if not found.is_dir():
        raise ConfigError(f"the playbook folder {found} does not exist")
    library = PlaybookLibrary(found)
    library.refresh()
    return library


@playbook_app.command("check")
def playbook_check(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Playbook files (YAML).")],
) -> None:
    """Check playbook files: every problem as file:line: field: problem (exit 1 if any).

    When the database is set up, the organisations and groups they name are checked too."""
    rt: Runtime = ctx.obj
    settings = rt.settings
    database = (
        settings.database_url is not None or (settings.data_dir / "steppe.db").exists()
    ) and migrate.current_revision(rt.engine) == migrate.head_revision()
    bad = 0
    for path in files:
        try:
            playbook = load_playbook_file(path)
            problems = []
            if database:
                with rt.reading() as conn:
                    problems = check_references(conn, playbook)
        except InvalidPlaybook as exc:
            problems = exc.problems
        for problem in problems:
            rt.out.print(str(problem), markup=False, highlight=False)
        if problems:
            bad += 1
        else:
            rt.out.print(
                f"{path}: ok — {playbook.name}, {playbook.trigger.kind} → "
                + ", ".join(a.type for a in playbook.actions),
                markup=False,
                highlight=False,
            )
    if not database:
        rt.err.print("(no database set up: organisations and groups were not checked)")
    if bad:
        raise typer.Exit(1)


@playbook_app.command("list")
def playbook_list(ctx: typer.Context, folder: DirOption = None) -> None:
    """The playbooks of the folder, and the files that do not load."""
    rt: Runtime = ctx.obj
    library = _library(rt, folder)
    table = Table("name", "owner", "trigger", "conditions", "actions", "enabled", "file",
                  title=f"Playbooks in {library.folder}")  # fmt: skip
    for p in library.playbooks():
        table.add_row(
            p.name,
            p.owner,
            p.trigger.kind.value,
            "; ".join(c.describe for c in p.trigger.conditions) or "(every item)",
            ", ".join(a.type for a in p.actions),
            "yes" if p.enabled else "no",
            Path(p.source or "").name,
        )
    rt.out.print(table)
    for error in library.errors.values():
        rt.err.print(f"error: {error}", markup=False, highlight=False)


@playbook_app.command("run-once")
def playbook_run_once(
    ctx: typer.Context,
    folder: DirOption = None,
    settle: Annotated[
        float | None,
        typer.Option(
            help="Seconds an item must age before it counts (default: the setting).", min=0
        ),
    ] = None,
) -> None:
    """Poll every playbook's trigger once and attempt the actions that are due.

    Broker actions (publish) wait for a runner with a broker: `steppe serve`."""
    rt: Runtime = ctx.obj
    rt.check_schema()
    library = _library(rt, folder)
    runner = PlaybookRunner(rt.engine, rt.secret_key(), library, rt.settings, settle_seconds=settle)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=rt.err, transient=True,
    ) as progress:  # fmt: skip
        tasks = {
            "triggers": progress.add_task("polling triggers", total=None),
            "actions": progress.add_task("attempting actions", total=None),
        }

        def step(phase: str, done: int, total: int) -> None:
            progress.update(tasks[phase], completed=done, total=total)

        report = runner.run_once(progress=step)
    outcomes = ", ".join(f"{n} {s}" for s, n in sorted(report.outcomes.items())) or "none"
    rt.out.print(
        f"{report.playbooks} playbooks, {report.examined} items examined, {report.runs} new "
        f"runs, {report.attempts} attempts: {outcomes}"
    )
    for name, problem in report.problems.items():
        rt.err.print(f"error: playbook {name}: {problem}", markup=False, highlight=False)
    for error in library.errors.values():
        rt.err.print(f"error: {error}", markup=False, highlight=False)


@playbook_app.command("runs")
def playbook_runs(
    ctx: typer.Context,
    as_user: Annotated[str, typer.Option("--as", help="List what this user may see.")],
    playbook: Annotated[str | None, typer.Option(help="Only this playbook's runs.")] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, running, ok, failed, retrying or dead.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, for scripts.")] = False,
) -> None:
    """Runs of playbooks a user may see (their organisation's; the center's staff: all)."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        page = list_runs(conn, actor, playbook=playbook, status=status, limit=limit)
    if as_json:
        for run in page.items:
            write_json(run.as_json())
        return
    table = Table("run", "created", "playbook", "organisation", "item", "status", "actions",
                  title=f"{len(page.items)} of {page.total} runs visible to {as_user}")  # fmt: skip
    for run in page.items:
        actions = "; ".join(
            f"{a.type} {a.status}"
            + (f" ({a.attempts}×: {a.last_error[:60]})" if a.last_error else "")
            for a in run.actions
        )
        table.add_row(str(run.id), run.created_at[:19], run.playbook, run.organisation,
                      run.item_key[:24], run.status, actions)  # fmt: skip
    rt.out.print(table)


@playbook_app.command("show-run")
def playbook_show_run(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="The run's number.")],
    as_user: Annotated[str, typer.Option("--as", help="Show as this user may see it.")],
) -> None:
    """One run with its actions' attempts, errors and results, as JSON."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        run = get_run(conn, directory.load_actor(conn, as_user), run_id)
    write_json(run.as_json(), indent=True)


@playbook_app.command("retry")
def playbook_retry(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="The run's number.")],
    as_user: Annotated[str, typer.Option("--as", help="Retry as this user.")],
) -> None:
    """Try a run's failed and dead actions again (the next `run-once` or `serve` round)."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        actor = directory.load_actor(conn, as_user)
        run = retry_run(conn, rt.operator_trail(), actor, run_id)
    waiting = [a for a in run.actions if a.status == "pending"]
    rt.out.print(f"run {run.id} of {run.playbook}: {len(waiting)} actions will be tried again")
