"""`steppe intel`: import, search and export threat intelligence."""

from __future__ import annotations

import sys
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from steppe.cli import sighting_cmds
from steppe.cli.runtime import Runtime, write_json
from steppe.errors import InputError
from steppe.intel.config import IntelConfig
from steppe.intel.importer import ImportReport, Marking, import_objects
from steppe.intel.observables import ObservableType
from steppe.intel.provenance import Source, sources_of_objects, sources_of_values
from steppe.intel.queries import export_bundle, get_stored, search_value
from steppe.intel.remark import share_object
from steppe.intel.sighting_export import sighting_objects
from steppe.intel.stix import read_bundle
from steppe.sharing import directory
from steppe.sharing.model import Distribution, parse_tlp

__all__ = ["intel_app"]

intel_app = typer.Typer(help="Threat intelligence: STIX 2.1 in and out, search by value.")


@intel_app.command("import")
def intel_import(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="STIX 2.1 bundle (JSON); '-' reads stdin.")],
    as_org: Annotated[str, typer.Option("--as", help="Organisation that owns the intel.")],
    distribution: Annotated[
        Distribution, typer.Option(help="Who may see it.")
    ] = Distribution.ORGANISATION,
    group: Annotated[
        list[str] | None,
        typer.Option(help="Sharing group (with --distribution groups); repeat for several."),
    ] = None,
    tlp: Annotated[
        str, typer.Option(help="TLP for objects without their own marking: clear…red.")
    ] = "amber",
) -> None:
    """Import a STIX 2.1 bundle in one transaction: all of it, or nothing."""
    rt: Runtime = ctx.obj
    source = "<stdin>" if file == "-" else file
    level = parse_tlp(tlp, "--tlp")
    data = sys.stdin.buffer.read() if file == "-" else _read(Path(file))
    objects = read_bundle(data, source)
    trail = rt.operator_trail()
    with _progress(rt) as progress:
        task = progress.add_task(f"checking {source}", total=len(objects))
        with rt.transaction() as conn:
            owner = directory.find_organisation(conn, as_org)
            groups = tuple(directory.find_group(conn, g) for g in group or ())
            report = import_objects(
                conn,
                trail,
                data,
                objects,
                owner=owner,
                marking=Marking(distribution, level, groups),
                source=source,
                progress=lambda n: progress.advance(task, n),
                config=IntelConfig.from_settings(rt.settings),
            )
            progress.update(task, description=f"stored {source}")
    _print_report(rt, report)


@intel_app.command("search")
def intel_search(
    ctx: typer.Context,
    as_user: Annotated[str, typer.Option("--as", help="Search as this user sees.")],
    value: Annotated[
        str | None, typer.Argument(help="An IP, CIDR, domain, URL, email, hash, CVE…")
    ] = None,
    kind: Annotated[
        ObservableType | None, typer.Option("--type", help="Type of the value (default: guessed).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, for scripts.")] = False,
    technique: Annotated[
        str | None,
        typer.Option(help="Instead of a value: objects tagged with an ATT&CK technique (T1059)."),
    ] = None,
) -> None:
    """Find the intel a user may see that carries a value (or an ATT&CK technique tag)."""
    rt: Runtime = ctx.obj
    if technique is not None:
        sighting_cmds.search_technique(rt, as_user, technique, as_json)
        return
    if value is None:
        raise InputError("give a value to search for, or --technique", field="VALUE")
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        found_kind, canonical, hits = search_value(conn, actor, value, kind)
        key = (found_kind.value, canonical)
        sources = sources_of_values(conn, actor, [key])[key]
        scores = sighting_cmds.scores_of_hits(conn, hits, rt)
    if as_json:
        listed = [s.as_dict() for s in sources]
        for hit in hits:
            score = scores.get((hit.stix_id, hit.owner))
            extra = {"sources": listed, "score": None if score is None else round(score.score, 1)}
            write_json({**asdict(hit), **extra})
        return
    if not hits:
        rt.out.print(f"no intel visible to {as_user} for {found_kind.value} {canonical}")
        return
    table = Table(
        "object",
        "name",
        "owner",
        "distribution",
        "tlp",
        "conf",
        "valid until",
        "matchable",
        "score",
        title=f"{found_kind.value} {canonical}: {len(hits)} visible to {as_user}",
    )
    for h in hits:
        table.add_row(
            h.stix_id,
            h.name or "",
            h.owner,
            h.distribution,
            h.tlp.upper(),
            "" if h.confidence is None else str(h.confidence),
            h.valid_until or "",
            {True: "yes", False: "no", None: "-"}[h.matchable]
            + (" (revoked)" if h.revoked else ""),
            sighting_cmds.score_text(scores.get((h.stix_id, h.owner))),
        )
    rt.out.print(table)
    if sources:
        rt.out.print(_sources_table(sources, f"sources of {canonical} visible to {as_user}"))


@intel_app.command("show")
def intel_show(
    ctx: typer.Context,
    stix_id: str,
    as_user: Annotated[str, typer.Option("--as", help="Show as this user sees.")],
) -> None:
    """Print one object (current version) as STIX JSON."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        stored = get_stored(conn, actor, stix_id)
        sources = sources_of_objects(conn, actor, [stored.pk])[stored.pk]
        enrichment = sighting_cmds.describe(conn, actor, stored, rt)
    write_json(stored.body, indent=True)
    sighting_cmds.print_enrichment(rt, enrichment)
    if sources:  # on stderr: stdout stays the STIX object, for scripts
        rt.err.print(_sources_table(sources, "sources (feeds listing its values)"))


intel_app.command("sight")(sighting_cmds.intel_sight)


@intel_app.command("share")
def intel_share(
    ctx: typer.Context,
    stix_id: str,
    as_user: Annotated[str, typer.Option("--as", help="A user of the owner organisation.")],
    distribution: Annotated[Distribution, typer.Option(help="Who may see it from now on.")],
    group: Annotated[
        list[str] | None,
        typer.Option(help="Sharing group (with --distribution groups); repeat for several."),
    ] = None,
    tlp: Annotated[str, typer.Option(help="Its TLP from now on: clear…red.")] = "amber",
) -> None:
    """Re-mark one of your organisation's objects (stored as a new version)."""
    rt: Runtime = ctx.obj
    level = parse_tlp(tlp, "--tlp")
    with rt.transaction() as conn:
        actor = directory.load_actor(conn, as_user)
        stored = share_object(
            conn,
            rt.operator_trail(),
            actor,
            stix_id,
            distribution=distribution,
            tlp=level,
            groups=group or (),
            config=IntelConfig.from_settings(rt.settings),
        )
    audience = ", ".join(group or ()) or stored.distribution
    rt.out.print(f"{stix_id} is now for {audience} at TLP:{stored.tlp.upper()} ({stored.modified})")


@intel_app.command("export")
def intel_export(
    ctx: typer.Context,
    as_user: Annotated[str, typer.Option("--as", help="Export what this user may see.")],
    fmt: Annotated[str, typer.Option("--format", help="Output format: stix.")] = "stix",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    object_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only these STIX types; repeatable.")
    ] = None,
) -> None:
    """Export the intel a user may see as a STIX 2.1 bundle, with the sightings of it the
    user may see (the sighting organisation named only where it allowed it)."""
    rt: Runtime = ctx.obj
    if fmt != "stix":
        raise InputError(f"unknown format {fmt!r}; supported: stix", field="--format")
    bundle_id = f"bundle--{uuid.uuid4()}"
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        wanted = not object_type or "sighting" in object_type
        extra = sighting_objects(conn, actor) if wanted else ()
        if output is None:
            count = export_bundle(
                conn, actor, sys.stdout.buffer, bundle_id=bundle_id, types=object_type, extra=extra
            )
            sys.stdout.flush()
        else:
            tmp = output.with_name(output.name + ".part")
            with tmp.open("wb") as out:
                count = export_bundle(
                    conn, actor, out, bundle_id=bundle_id, types=object_type, extra=extra
                )
            tmp.replace(output)  # a reader never sees half a bundle
    rt.err.print(f"exported {count} objects visible to {as_user}")


def _sources_table(sources: list[Source], title: str) -> Table:
    table = Table(
        "value", "feed", "owner", "conf", "first seen", "last seen", "expired", title=title
    )
    for s in sources:
        table.add_row(
            s.value,
            s.feed,
            s.owner,
            "" if s.confidence is None else str(s.confidence),
            s.first_seen[:19],
            s.last_seen[:19],
            (s.expired_at or "")[:19],
        )
    return table


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", source=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a folder; give a bundle file", source=str(path)) from None
    except PermissionError:
        raise InputError("permission denied", source=str(path)) from None


def _progress(rt: Runtime) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=rt.err,
        transient=False,
    )


def _print_report(rt: Runtime, r: ImportReport) -> None:
    rt.out.print(
        f"imported {r.source}: {r.objects} objects — {r.created} new, {r.new_versions} new "
        f"versions, {r.unchanged} unchanged, {r.older_versions} older versions kept"
    )
    if r.matchable or r.not_matchable:
        rt.out.print(
            f"indicators: {r.matchable} matchable, {r.not_matchable} stored but not matchable "
            f"(complex patterns); {r.observables} observables indexed"
        )
