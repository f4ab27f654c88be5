"""Run an export: plan it (format, cursor, full or incremental), then stream it.

Planning needs no database beyond the blocklist check, so an API can send its headers
(content type, ``X-Steppe-Cursor``) and errors before the first byte of the body;
streaming then reads the store chunk by chunk.

    >>> plan = plan_export(actor, "nft", ExportOptions(), since=None)  # doctest: +SKIP
    >>> with open("steppe.nft", "wb") as out:                          # doctest: +SKIP
    ...     for chunk in stream_export(conn, actor, plan):
    ...         out.write(chunk)
    >>> plan.cursor                                                    # doctest: +SKIP
    'c1.eyJ0Ijo…'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection

from steppe.response.exports.base import Change, ExportContext, Exporter, exporter_for
from steppe.response.exports.incremental import (
    changes_since,
    decode_cursor,
    encode_cursor,
    scope_of,
)
from steppe.response.exports.selection import ExportEntry, ExportOptions, iter_entries
from steppe.sharing.model import Actor
from steppe.sharing.policy import require_reader
from steppe.storage import timestamps

__all__ = ["ExportPlan", "ExportStats", "plan_export", "stream_export"]


@dataclass
class ExportStats:
    """Filled in while the export streams."""

    added: int = 0
    removed: int = 0


@dataclass(frozen=True)
class ExportPlan:
    exporter: type[Exporter]
    options: ExportOptions
    context: ExportContext
    now: str
    since: str | None  # the cursor's moment, for an incremental export
    stats: ExportStats = field(default_factory=ExportStats, compare=False)

    @property
    def cursor(self) -> str:
        return self.context.cursor

    @property
    def incremental(self) -> bool:
        return self.context.incremental

    @property
    def media_type(self) -> str:
        return self.exporter.media_type

    @property
    def filename(self) -> str:
        return f"steppe-{self.exporter.name}{self.exporter.suffix}"


def plan_export(
    actor: Actor,
    format_name: str,
    options: ExportOptions,
    *,
    since: str | None = None,
    requester: str = "",
    now: str | None = None,
    sid_base: int = 1_000_000_000,
    name: str = "steppe",
) -> ExportPlan:
    """Decide how to export: the format (InputError if unknown), the new cursor, and
    whether ``since`` (a cursor) allows an incremental export — only for formats that
    can express removal and when the cursor's scope is this actor's and options'."""
    require_reader(actor)
    exporter = exporter_for(format_name)
    moment = now or timestamps.now()
    scope = scope_of(actor, options)
    since_at: str | None = None
    if since is not None:
        cursor = decode_cursor(since)
        if exporter.removals and cursor.scope == scope and cursor.at <= moment:
            since_at = cursor.at
    context = ExportContext(
        generated_at=moment,
        cursor=encode_cursor(moment, scope),
        incremental=since_at is not None,
        requester=requester or f"organisation {actor.org_id}",
        sid_base=sid_base,
        name=name,
    )
    return ExportPlan(exporter, options, context, moment, since_at)


def stream_export(
    conn: Connection,
    actor: Actor,
    plan: ExportPlan,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The export's bytes, chunk by chunk."""
    changes: Iterable[Change]
    if plan.since is not None:
        since = changes_since(conn, actor, plan.options, plan.since, plan.now)
        changes = _counted(since, plan.stats, progress)
    else:
        times = getattr(plan.exporter, "reads_times", True)
        entries = iter_entries(conn, actor, plan.options, plan.now, times=times)
        changes = _added(entries, plan.stats, progress)
    exporter = plan.exporter(plan.context)
    return exporter.render(changes)


def _counted(
    changes: Iterable[Change], stats: ExportStats, progress: Callable[[int], None] | None
) -> Iterator[Change]:
    for change in changes:
        if change[0] == "add":
            stats.added += 1
        else:
            stats.removed += 1
        if progress is not None and not (stats.added + stats.removed) % 10_000:
            progress(stats.added + stats.removed)
        yield change


def _added(
    entries: Iterable[ExportEntry], stats: ExportStats, progress: Callable[[int], None] | None
) -> Iterator[Change]:
    """A full export's changes, counted: one generator per value instead of two."""
    for entry in entries:
        stats.added += 1
        if progress is not None and not stats.added % 10_000:
            progress(stats.added)
        yield "add", entry
