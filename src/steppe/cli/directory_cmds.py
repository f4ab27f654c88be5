"""`steppe org|group|user|token`: the coalition's directory."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from steppe.cli.runtime import Runtime
from steppe.sharing import credentials, directory
from steppe.sharing.model import OrgKind

__all__ = ["group_app", "org_app", "token_app", "user_app"]

org_app = typer.Typer(help="Member organisations (national CERTs, agencies, the center).")
group_app = typer.Typer(help="Sharing groups: named blocs of organisations.")
user_app = typer.Typer(help="User accounts.")
token_app = typer.Typer(help="API tokens (shown once, stored only as hashes).")


@org_app.command("add")
def org_add(
    ctx: typer.Context,
    name: str,
    country: Annotated[
        str | None, typer.Option(help="ISO 3166 country: code (KZ, KAZ) or name.")
    ] = None,
    kind: Annotated[OrgKind, typer.Option(help="coordinator = the center's staff.")] = (
        OrgKind.MEMBER
    ),
) -> None:
    """Add an organisation."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        org = directory.add_organisation(conn, rt.operator_trail(), name, country, kind)
    rt.out.print(f"added {org.kind.value} organisation {org.name} ({org.country or '-'})")


@org_app.command("list")
def org_list(ctx: typer.Context) -> None:
    """List organisations."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        orgs = directory.list_organisations(conn)
    table = Table("name", "country", "kind")
    for org in orgs:
        table.add_row(org.name, org.country or "-", org.kind.value)
    rt.out.print(table)


@group_app.command("add")
def group_add(
    ctx: typer.Context,
    name: str,
    owner: Annotated[str, typer.Option(help="Owner organisation (sees and manages the roster).")],
    member: Annotated[
        list[str] | None, typer.Option(help="Member organisation; repeat for several.")
    ] = None,
    hidden_roster: Annotated[
        bool, typer.Option(help="Members see that they are in it, not who else is.")
    ] = False,
    description: str = "",
) -> None:
    """Add a sharing group."""
    rt: Runtime = ctx.obj
    trail = rt.operator_trail()
    with rt.transaction() as conn:
        owner_org = directory.find_organisation(conn, owner)
        group = directory.add_group(
            conn, trail, name, owner_org, hidden_roster=hidden_roster, description=description
        )
        for org_name in member or ():
            org = directory.find_organisation(conn, org_name)
            group = directory.add_group_member(conn, trail, group, org)
    rt.out.print(f"added sharing group {group.name} with {len(group.member_org_ids)} members")


@group_app.command("add-member")
def group_add_member(ctx: typer.Context, group: str, organisation: str) -> None:
    """Add an organisation to a sharing group."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        found = directory.find_group(conn, group)
        org = directory.find_organisation(conn, organisation)
        directory.add_group_member(conn, rt.operator_trail(), found, org)
    rt.out.print(f"{organisation} is now a member of {group}")


@group_app.command("list")
def group_list(
    ctx: typer.Context,
    as_user: Annotated[
        str | None,
        typer.Option("--as", help="Show only what this user may see (hidden rosters stay hidden)."),
    ] = None,
) -> None:
    """List sharing groups (all of them for the operator, or as a user sees them)."""
    rt: Runtime = ctx.obj
    table = Table("group", "owner", "members", "hidden roster")
    with rt.reading() as conn:
        if as_user is None:
            names = {o.id: o.name for o in directory.list_organisations(conn)}
            for g in directory.list_groups(conn):
                members = ", ".join(sorted(names[i] for i in g.member_org_ids))
                table.add_row(g.name, names[g.owner_org_id], members, _yes(g.hidden_roster))
        else:
            actor = directory.load_actor(conn, as_user)
            for view in directory.groups_visible_to(conn, actor):
                members = (
                    ", ".join(view.members)
                    if view.members is not None
                    else "(hidden; you are a member)"
                )
                table.add_row(view.name, view.owner, members, _yes(view.hidden_roster))
    rt.out.print(table)


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: str,
    org: Annotated[str, typer.Option(help="The user's organisation.")],
    roles: Annotated[
        str,
        typer.Option(
            help="Comma-separated: admin, coordinator, org-admin, analyst, reader, sensor."
        ),
    ] = "analyst",
) -> None:
    """Add a user."""
    rt: Runtime = ctx.obj
    parsed = directory.parse_roles(roles)
    with rt.transaction() as conn:
        organisation = directory.find_organisation(conn, org)
        user = directory.add_user(conn, rt.operator_trail(), name, organisation, parsed)
    rt.out.print(f"added user {user.name} of {org} ({', '.join(sorted(user.roles))})")


@user_app.command("password")
def user_password(
    ctx: typer.Context,
    name: str,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (for scripts).")
    ] = False,
) -> None:
    """Set a user's password for the web UI's sign-in (asked twice, not echoed)."""
    rt: Runtime = ctx.obj
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with rt.transaction() as conn:
        credentials.set_password(conn, rt.operator_trail(), name, password)
    rt.out.print(f"password set for {name}; sign in at /login")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    user: str,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    expires_days: Annotated[int | None, typer.Option(help="Days until it expires.")] = None,
) -> None:
    """Create an API token for a user. It is printed once; keep it."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        issued = directory.create_token(
            conn, rt.operator_trail(), user, label=label, expires_days=expires_days
        )
    rt.err.print(f"token for {issued.user} (shown once, store it now):")
    print(issued.token)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
