"""`steppe tag` (MISP taxonomies, tagging objects) and `steppe attack` (ATT&CK)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from steppe.cli.runtime import Runtime
from steppe.intel import attack, taxonomies
from steppe.intel.config import IntelConfig
from steppe.intel.queries import list_objects
from steppe.intel.tagging import add_tag
from steppe.sharing import directory

__all__ = ["attack_app", "tag_app"]

tag_app = typer.Typer(help="Tags: MISP taxonomies and galaxies, ATT&CK techniques, free labels.")
attack_app = typer.Typer(help="MITRE ATT&CK techniques and the intel tagged with them.")


@tag_app.command("list")
def tag_list(
    ctx: typer.Context,
    namespace: Annotated[
        str | None, typer.Option(help="Only this taxonomy, e.g. tlp, PAP, admiralty-scale.")
    ] = None,
) -> None:
    """List the MISP taxonomy tags one may use."""
    rt: Runtime = ctx.obj
    table = Table(
        "tag", "description", title=f"taxonomy tags{f' ({namespace})' if namespace else ''}"
    )
    for entry in taxonomies.list_tags(namespace):
        table.add_row(entry.tag, entry.description[:100])
    rt.out.print(table)


@tag_app.command("add")
def tag_add(
    ctx: typer.Context,
    stix_id: Annotated[str, typer.Argument(help="An object of the user's organisation.")],
    tag: Annotated[str, typer.Argument(help="e.g. PAP:GREEN, attack.t1059.001, tlp:amber.")],
    as_user: Annotated[str, typer.Option("--as", help="The user tagging it.")],
) -> None:
    """Tag an object (stored as a new version with the label)."""
    rt: Runtime = ctx.obj
    trail = rt.operator_trail()
    with rt.transaction() as conn:
        actor = directory.load_actor(conn, as_user)
        labels = add_tag(conn, trail, actor, stix_id, tag, IntelConfig.from_settings(rt.settings))
    rt.out.print(f"{stix_id} labels: {', '.join(labels)}")


@attack_app.command("show")
def attack_show(
    ctx: typer.Context,
    technique_id: Annotated[str, typer.Argument(help="T1059 or T1059.001")],
    as_user: Annotated[
        str | None, typer.Option("--as", help="Also list the intel this user may see tagged.")
    ] = None,
) -> None:
    """Show an ATT&CK technique (and the visible intel tagged with it)."""
    rt: Runtime = ctx.obj
    found = attack.technique(technique_id)
    rt.out.print(f"{found.id} {found.name}")
    rt.out.print(f"tactics: {', '.join(found.tactics) or '-'}")
    if found.url:
        rt.out.print(f"url: {found.url}")
    rt.out.print(f"tag: {found.label}  or  {found.galaxy_tag}")
    rt.out.print(f"attack-pattern: {found.stix_id}")
    if as_user is None:
        return
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        objects = list_objects(conn, actor, technique=found.id, limit=1000)
    table = Table("object", "type", "name", "owner", title=f"tagged, visible to {as_user}")
    for o in objects:
        table.add_row(o.stix_id, o.type, o.name or "", o.owner)
    rt.out.print(table)
