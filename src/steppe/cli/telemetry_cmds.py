"""`steppe telemetry`: bring members' logs in from files and folders."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from steppe.cli.runtime import Runtime
from steppe.errors import InputError
from steppe.heap import settle_heap
from steppe.ingest.telemetry.formats import FORMATS, read_path_batched
from steppe.ingest.telemetry.intake import IntakeReport
from steppe.ingest.telemetry.mapping import FieldMapping
from steppe.ingest.telemetry.service import TelemetryService
from steppe.sharing import directory

__all__ = ["telemetry_app"]

telemetry_app = typer.Typer(help="Telemetry: members' logs into the event lake.")

#: Problems printed one per line before the rest are only counted.
SHOWN_PROBLEMS = 20


@telemetry_app.command("ingest")
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.gz read directly).")],
    org: Annotated[str, typer.Option("--org", help="Organisation whose telemetry this is.")],
    format: Annotated[
        str,
        typer.Option(help="auto (detect per file), or one of: " + ", ".join(FORMATS[1:])),
    ] = "auto",
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="JSON field mapping for generic JSON (ECS field → source path; "
            "see docs/telemetry.md)."
        ),
    ] = None,
) -> None:
    """Parse files into the event lake; bad lines are reported with file:line and skipped."""
    rt: Runtime = ctx.obj
    if format not in FORMATS:
        raise InputError(
            f"unknown format {format!r}; use one of: {', '.join(FORMATS)}",
            field="--format",
        )
    for path in paths:
        if not path.exists():
            raise InputError("no such file or folder", source=str(path))
    field_mapping = FieldMapping.from_file(mapping) if mapping is not None else None
    with rt.reading() as conn:
        organisation = directory.find_organisation(conn, org)
    service = TelemetryService(rt.settings)
    report = IntakeReport()
    settle_heap()  # the collector's walks were ~15 % of ingest CPU (steppe.heap)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} events"),
            TimeElapsedColumn(),
            console=rt.err,
            transient=True,
        ) as progress:
            for path in paths:
                task = progress.add_task(f"reading {path}", total=None)
                one = service.intake.ingest_items(
                    organisation.id,
                    (item for _, item in read_path_batched(path, format, field_mapping)),
                    observer=f"file:{path.name}",
                    progress=partial(progress.advance, task),
                )
                _merge(report, one)
    finally:
        service.close()  # flushes the spool to Parquet
    with rt.transaction() as conn:
        rt.operator_trail().record(
            conn,
            "telemetry.ingest",
            organisation.name,
            {
                "paths": [str(p) for p in paths],
                "events": report.events,
                "problems": report.problems,
            },
        )
    for problem in report.first_problems[:SHOWN_PROBLEMS]:
        rt.err.print(f"skipped {problem}", markup=False, highlight=False)
    if report.problems > SHOWN_PROBLEMS:
        rt.err.print(f"… and {report.problems - SHOWN_PROBLEMS} more problems")
    rt.out.print(
        f"{report.events:,} events into the lake for {organisation.name}"
        + (f", {report.problems:,} lines skipped" if report.problems else "")
    )


def _merge(total: IntakeReport, one: IntakeReport) -> None:
    total.events += one.events
    total.waited_seconds += one.waited_seconds
    for problem in one.first_problems:
        total.note(problem)
    total.problems += one.problems - len(one.first_problems)
