"""`steppe feed`: register, pull, inspect and remove intel feeds."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from steppe.cli.runtime import Runtime, write_json
from steppe.errors import InputError
from steppe.ingest.feeds.fetch import limits_from
from steppe.ingest.feeds.hosts import HostPolicy
from steppe.ingest.feeds.pull import PullResult, pull_feed, register_feed
from steppe.intel.config import IntelConfig
from steppe.intel.feed_ingest import remove_feed
from steppe.intel.feeds import (
    Feed,
    FeedFormat,
    FeedSpec,
    due_feeds,
    find_feed,
    list_feeds,
    parse_every,
)
from steppe.sharing import directory
from steppe.sharing.model import Distribution, parse_tlp

__all__ = ["feed_app"]

feed_app = typer.Typer(help="Intel feeds: scheduled pulls of lists, CSV, MISP and STIX sources.")


@feed_app.command("add")
def feed_add(
    ctx: typer.Context,
    name: str,
    url: Annotated[str, typer.Option(help="http(s):// or file:// URL (a folder for misp-feed).")],
    fmt: Annotated[FeedFormat, typer.Option("--format", help="How to read it.")],
    owner: Annotated[str, typer.Option(help="Organisation that owns what the feed brings.")],
    distribution: Annotated[
        Distribution, typer.Option(help="Who may see its indicators.")
    ] = Distribution.ORGANISATION,
    tlp: Annotated[str, typer.Option(help="TLP of its indicators: clear…red.")] = "amber",
    group: Annotated[
        list[str] | None,
        typer.Option(help="Sharing group (with --distribution groups); repeat for several."),
    ] = None,
    every: Annotated[
        str | None, typer.Option(help="Pull interval (30m, 1h, 1d); none: only when asked.")
    ] = None,
    mapping: Annotated[
        str | None,
        typer.Option(help='CSV columns as JSON, e.g. \'{"value": 0, "confidence": 2}\'.'),
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="Known layout: ipsum, signature-base, plain.")
    ] = None,
    disabled: Annotated[bool, typer.Option(help="Register it without pulling it.")] = False,
) -> None:
    """Register a feed."""
    rt: Runtime = ctx.obj
    spec_mapping = _mapping(mapping)
    level = parse_tlp(tlp, "--tlp")
    with rt.transaction() as conn:
        spec = FeedSpec(
            name=name,
            url=url,
            format=fmt,
            owner=directory.find_organisation(conn, owner),
            distribution=distribution,
            tlp=level,
            groups=tuple(directory.find_group(conn, g) for g in group or ()),
            every_seconds=None if every is None else parse_every(every),
            preset=preset,
            mapping=spec_mapping,
            enabled=not disabled,
        )
        hosts = HostPolicy.from_settings(rt.settings)
        feed = register_feed(conn, rt.operator_trail(), spec, hosts=hosts)
    rt.out.print(f"added feed {feed.name} ({feed.format.value}) for {feed.owner}")


@feed_app.command("list")
def feed_list(
    ctx: typer.Context,
    as_user: Annotated[
        str | None, typer.Option("--as", help="Only the feeds this user may know of.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, for scripts.")] = False,
) -> None:
    """List feeds with their health and the figures of their last pull."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor = None if as_user is None else directory.load_actor(conn, as_user)
        found = list_feeds(conn, actor)
    if as_json:
        for feed in found:
            write_json(feed_view(feed))
        return
    table = Table(
        "feed", "owner", "audience", "format", "every", "health", "last pull", "entries", "new",
        "expired", "bad", "last error",
    )  # fmt: skip
    for f in found:
        stats = f.last_stats
        table.add_row(
            f.name,
            f.owner,
            f"{','.join(f.groups) or f.distribution.value} {f.tlp.value.upper()}",
            f.format.value + (f" ({f.preset})" if f.preset else ""),
            _every(f.every_seconds),
            f.health,
            (f.last_pull_at or "never")[:19] + (f" {f.last_status}" if f.last_status else ""),
            str(stats.get("entries", "")),
            str(stats.get("new", "")),
            str(stats.get("expired", "")),
            str(stats.get("bad_rows", "")),
            (f.last_error or "")[:80],
        )
    rt.out.print(table)


@feed_app.command("show")
def feed_show(
    ctx: typer.Context,
    name: str,
    as_user: Annotated[str | None, typer.Option("--as", help="Show as this user may.")] = None,
) -> None:
    """Print one feed's settings, state and totals as JSON."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor = None if as_user is None else directory.load_actor(conn, as_user)
        feed = find_feed(conn, name, actor)
    write_json(feed_view(feed), indent=True)


@feed_app.command("pull")
def feed_pull(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(help="Feeds to pull (default: all).")] = None,
    due: Annotated[bool, typer.Option("--due", help="Only the feeds whose time has come.")] = False,
) -> None:
    """Pull feeds now. A failing feed is reported and recorded; the others still run."""
    rt: Runtime = ctx.obj
    rt.check_schema()
    with rt.reading() as conn:
        if names:
            targets = [find_feed(conn, n).name for n in names]
        elif due:
            targets = [f.name for f in due_feeds(conn)]
        else:
            targets = [f.name for f in list_feeds(conn) if f.enabled]
    if not targets:
        rt.out.print("no feed to pull")
        return
    trail = rt.operator_trail()
    limits = limits_from(rt.settings)
    config = IntelConfig.from_settings(rt.settings)
    results: list[PullResult] = []
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=rt.err
    ) as progress:
        for name in targets:
            task = progress.add_task(f"{name}: starting", total=None)

            def phase(text: str, task: TaskID = task, name: str = name) -> None:
                progress.update(task, description=f"{name}: {text}")

            result = pull_feed(rt.engine, trail, name, limits=limits, progress=phase, config=config)
            progress.update(task, description=f"{name}: {result.status}", total=1, completed=1)
            results.append(result)
    for r in results:
        rt.out.print(_result_line(r))
        for problem in r.problems[:10]:
            rt.out.print(f"  bad row: {problem}", markup=False)
        if r.stats is not None and r.stats.bad_rows > 10:
            rt.out.print(f"  … and {r.stats.bad_rows - 10} more bad rows")
    if any(r.status == "error" for r in results):
        raise typer.Exit(1)


@feed_app.command("remove")
def feed_remove(ctx: typer.Context, name: str) -> None:
    """Remove a feed. Its indicators are revoked (a new, revoked version each; history
    stays) and its provenance rows are deleted."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        revoked = remove_feed(conn, rt.operator_trail(), find_feed(conn, name))
    rt.out.print(f"removed feed {name}; {revoked} indicators revoked")


def feed_view(feed: Feed) -> dict[str, Any]:
    """A feed as JSON: settings, health, last pull and totals."""
    return {
        "name": feed.name,
        "owner": feed.owner,
        "url": feed.url,
        "format": feed.format.value,
        "preset": feed.preset,
        "mapping": feed.mapping,
        "distribution": feed.distribution.value,
        "groups": list(feed.groups),
        "tlp": feed.tlp.value,
        "every_seconds": feed.every_seconds,
        "enabled": feed.enabled,
        "created_at": feed.created_at,
        "health": feed.health,
        "last_pull_at": feed.last_pull_at,
        "last_success_at": feed.last_success_at,
        "last_status": feed.last_status,
        "last_error": feed.last_error,
        "last_stats": feed.last_stats,
        "totals": feed.totals,
    }


def _result_line(r: PullResult) -> str:
    if r.status == "error":
        return f"{r.feed}: FAILED — {r.error}"
    if r.status == "not-modified" or r.stats is None:
        return f"{r.feed}: not modified since the last pull"
    s = r.stats
    return (
        f"{r.feed}: {s.entries} entries — {s.new} new, {s.updated} updated, {s.unchanged} "
        f"unchanged, {s.expired} expired, {s.bad_rows} bad rows in {s.seconds:.2f} s"
    )


def _every(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _mapping(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        loaded = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", field="--mapping") from None
    if not isinstance(loaded, dict):
        raise InputError("must be a JSON object", field="--mapping")
    return loaded
