"""`steppe sigma`: run Sigma rules over files (scan mode) and check rule folders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from steppe.cli.runtime import Runtime
from steppe.detection.sigma.engine import SigmaEngine
from steppe.detection.sigma.hits import SigmaHit
from steppe.detection.sigma.scan import LEVELS, input_files, scan
from steppe.errors import InputError
from steppe.ingest.telemetry.formats import FORMATS

__all__ = ["sigma_app"]

sigma_app = typer.Typer(help="Sigma rules: scan files, check rule folders.")

#: Problems printed one per line before the rest are only counted.
SHOWN_PROBLEMS = 20

#: Fields shown for a hit in text output, the first few the event has.
_SHOWN_FIELDS = (
    "CommandLine",
    "Image",
    "ParentImage",
    "TargetFilename",
    "TargetObject",
    "ImageLoaded",
    "QueryName",
    "ScriptBlockText",
    "url.full",
    "dns.question.name",
    "source.ip",
    "destination.ip",
)

RulesOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--rules",
        help="Rule files or folders (repeatable; default: the sigma folder of the data dir).",
    ),
]


def _rule_paths(rt: Runtime, rules: list[Path] | None) -> list[Path]:
    paths = rules or [rt.settings.data_dir / "sigma"]
    for path in paths:
        if not path.exists():
            raise InputError("no such rule file or folder (give --rules DIR)", source=str(path))
    return paths


def _load(rt: Runtime, rules: list[Path] | None) -> SigmaEngine:
    with rt.err.status("loading Sigma rules…"):
        engine = SigmaEngine.from_paths(_rule_paths(rt, rules))
    for problem in engine.problems[:SHOWN_PROBLEMS]:
        rt.err.print(f"rule not loaded: {escape(str(problem))}", highlight=False)
    if len(engine.problems) > SHOWN_PROBLEMS:
        rt.err.print(f"… and {len(engine.problems) - SHOWN_PROBLEMS} more rules not loaded")
    return engine


def _describe(event: dict[str, Any]) -> str:
    found = event.get("raw")
    raw: dict[str, Any] = found if isinstance(found, dict) else {}
    parts = []
    host = event.get("host.name")
    if host:
        parts.append(f"host={host}")
    for name in _SHOWN_FIELDS:
        value = raw.get(name) if name in raw else event.get(name)
        if value not in (None, "", "-"):
            text = str(value)
            parts.append(f"{name}={text[:160] + '…' if len(text) > 160 else text}")
        if len(parts) >= 4:
            break
    return " ".join(parts)


@sigma_app.command("scan")
def scan_cmd(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.gz read directly).")],
    rules: RulesOption = None,
    format: Annotated[
        str,
        typer.Option(help="auto (detect per file), or one of: " + ", ".join(FORMATS[1:])),
    ] = "auto",
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per hit, then a summary object.")
    ] = False,
    min_level: Annotated[
        str,
        typer.Option(help="Leave out hits below this level: " + ", ".join(LEVELS) + "."),
    ] = "informational",
) -> None:
    """Run the rules over files (EVTX, Windows JSON, JSON lines, Zeek, EVE) without storing
    anything: each hit (rule id, title, level, the event), then hits per rule."""
    rt: Runtime = ctx.obj
    if format not in FORMATS:
        raise InputError(
            f"unknown format {format!r}; use one of: {', '.join(FORMATS)}", field="--format"
        )
    if min_level not in LEVELS:
        raise InputError(
            f"unknown level {min_level!r}; use one of: {', '.join(LEVELS)}", field="--min-level"
        )
    for path in paths:
        if not path.exists():
            raise InputError("no such file or folder", source=str(path))
    engine = _load(rt, rules)
    files = list(input_files(paths))

    def print_hit(source: str, hit: SigmaHit) -> None:
        if json:
            record = {
                "source": source,
                "rule_id": hit.rule_id,
                "title": hit.title,
                "level": hit.level,
                "tags": list(hit.tags),
                "time": hit.time,
                "event": hit.event,
            }
            if hit.correlation:
                record["correlation"] = hit.correlation
                record["group"] = dict(hit.group)
            sys.stdout.write(orjson.dumps(record, default=str).decode() + "\n")
        else:
            rt.out.print(
                f"[{hit.level}] {escape(hit.title)} ({hit.rule_id}) {escape(source)} "
                f"{hit.time or ''} {escape(_describe(hit.event))}",
                highlight=False,
                soft_wrap=True,
            )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[events]:,} events"),
        TimeElapsedColumn(),
        console=rt.err,
        transient=True,
    ) as progress:
        task = progress.add_task("scanning", total=len(files), events=0)
        counter = {"events": 0}

        def on_event(_path: Path) -> None:
            counter["events"] += 1
            if counter["events"] % 1000 == 0:
                progress.update(task, events=counter["events"])

        report = scan(
            engine,
            files,
            format,
            on_hit=print_hit,
            on_event=on_event,
            on_file=lambda _p: progress.update(task, advance=1, events=counter["events"]),
            min_level=min_level,
        )
    for problem in report.problems[:SHOWN_PROBLEMS]:
        rt.err.print(escape(str(problem)), highlight=False)
    if report.problem_count > SHOWN_PROBLEMS:
        rt.err.print(f"… and {report.problem_count - SHOWN_PROBLEMS} more unreadable records")
    summary = report.summary()
    if json:
        sys.stdout.write(
            orjson.dumps(
                {
                    "summary": [
                        {"rule_id": s.rule_id, "title": s.title, "level": s.level, "hits": s.hits}
                        for s in summary
                    ],
                    "files": report.files,
                    "skipped": [str(p) for p in report.skipped],
                    "events": report.events,
                    "problems": report.problem_count,
                    "rules": len(engine.rules),
                    "rules_not_loaded": len(engine.problems),
                }
            ).decode()
            + "\n"
        )
        return
    if summary:
        table = Table(title="hits per rule")
        table.add_column("level")
        table.add_column("rule")
        table.add_column("id")
        table.add_column("hits", justify="right")
        for row in summary:
            table.add_row(row.level, escape(row.title), row.rule_id, f"{row.hits:,}")
        rt.out.print(table)
    if report.skipped:
        rt.err.print(
            f"{len(report.skipped):,} files skipped (no telemetry format), e.g. "
            f"{escape(str(report.skipped[0]))}",
            highlight=False,
        )
    rt.out.print(
        f"{report.events:,} events in {report.files - len(report.skipped):,} files, "
        f"{sum(report.hits.values()):,} hits from {len(summary):,} of {len(engine.rules):,} "
        f"rules; {report.problem_count:,} unreadable records"
    )


@sigma_app.command("check")
def check_cmd(ctx: typer.Context, rules: RulesOption = None) -> None:
    """Load rule folders and list the rules that do not load or compile (file:line: why)."""
    rt: Runtime = ctx.obj
    engine = SigmaEngine.from_paths(_rule_paths(rt, rules))
    for problem in engine.problems:
        rt.out.print(escape(str(problem)), highlight=False, soft_wrap=True)
    rt.out.print(
        f"{len(engine.rules):,} rules loaded from {engine.files:,} files; "
        f"{len(engine.problems):,} not loaded; {len(engine.unrouted):,} with a logsource "
        "no telemetry type feeds; "
        f"{len(engine.correlations.correlations):,} correlation rules"
    )
    if engine.problems:
        raise typer.Exit(1)
