"""`steppe taxii` (pull, push, collections) and `steppe sync` (peer nodes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.table import Table

from steppe.cli.runtime import Runtime
from steppe.errors import InputError, SteppeError
from steppe.federation import agreements
from steppe.federation.client import TaxiiClient
from steppe.federation.collections import define_collection, find_collection, list_defined
from steppe.federation.feeds import add_feed, find_feed, is_due, list_feeds, pull_feed
from steppe.federation.reading import ObjectFilter, read_page, serialise_objects
from steppe.federation.sync import run_sync
from steppe.federation.writing import import_each
from steppe.ingest.feeds.hosts import HostPolicy
from steppe.intel.importer import Marking
from steppe.sharing import directory
from steppe.sharing.model import Distribution, parse_tlp
from steppe.storage import timestamps

__all__ = ["sync_app", "taxii_app"]

taxii_app = typer.Typer(help="TAXII 2.1: pull from and push to TAXII servers; collections.")
collection_app = typer.Typer(help="Collections an admin defines by a filter (read-only).")
feed_app = typer.Typer(help="Collections of other TAXII servers, pulled on a schedule.")
sync_app = typer.Typer(help="Sync with peer Steppe nodes over TAXII, by agreement.")
taxii_app.add_typer(collection_app, name="collection")
taxii_app.add_typer(feed_app, name="feed")

TokenOption = Annotated[
    str,
    typer.Option(
        envvar="STEPPE_TAXII_TOKEN", help="API token at the server ($STEPPE_TAXII_TOKEN)."
    ),
]
UserOption = Annotated[
    str | None,
    typer.Option(help="User name there: sends HTTP Basic (user + token) instead of Bearer."),
]


def _since(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return timestamps.normalise(text)
    except ValueError:
        raise InputError(f"{text!r} is not an RFC 3339 timestamp", field="--since") from None


def _hosts(rt: Runtime) -> HostPolicy:
    """Where TAXII requests may go (STEPPE_FEED_ALLOWED_HOSTS)."""
    return HostPolicy.from_settings(rt.settings)


@taxii_app.command("pull")
def taxii_pull(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="TAXII 2.1 discovery or API root URL.")],
    collection: Annotated[str, typer.Option(help="Collection id or alias there.")],
    as_org: Annotated[str, typer.Option("--as", help="Organisation that owns what is pulled.")],
    token: TokenOption,
    user: UserOption = None,
    since: Annotated[
        str | None, typer.Option(help="Only objects added after this time (RFC 3339).")
    ] = None,
    distribution: Annotated[
        Distribution, typer.Option(help="Who may see what is pulled.")
    ] = Distribution.ORGANISATION,
    tlp: Annotated[str, typer.Option(help="TLP for objects without their own marking.")] = "amber",
) -> None:
    """Pull a collection's objects page by page into the store (one transaction a page)."""
    rt: Runtime = ctx.obj
    level = parse_tlp(tlp, "--tlp")
    trail = rt.operator_trail()
    received = refused = 0
    last = None
    with TaxiiClient(url, token=token, user=user, hosts=_hosts(rt)) as client:
        cid = client.collection_id(collection)
        for page in client.pages(cid, added_after=_since(since)):
            with rt.transaction() as conn:
                owner = directory.find_organisation(conn, as_org)
                failures = import_each(
                    conn,
                    trail,
                    orjson.dumps(page.objects),
                    page.objects,
                    list(range(len(page.objects))),
                    owner,
                    Marking(distribution, level),
                    f"TAXII {client.api_root} {collection}",
                )
            received += len(page.objects)
            refused += len(failures)
            last = page.date_added_last or last
            for message in sorted(set(failures.values()))[:3]:
                rt.err.print(f"refused: {message}")
    rt.out.print(
        f"pulled {received} objects from {collection} ({refused} refused); "
        f"next time: --since {last or since or '(start)'}"
    )


@taxii_app.command("push")
def taxii_push(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="TAXII 2.1 discovery or API root URL.")],
    collection: Annotated[str, typer.Option(help="Collection id or alias there.")],
    as_user: Annotated[str, typer.Option("--as", help="Push what this user may see.")],
    token: TokenOption,
    user: UserOption = None,
    source: Annotated[
        str, typer.Option("--from", help="Local collection alias to push from.")
    ] = "organisation",
    since: Annotated[str | None, typer.Option(help="Only objects added after this time.")] = None,
) -> None:
    """Push a local collection (as a user sees it) to a TAXII server, 500 objects an envelope."""
    rt: Runtime = ctx.obj
    pushed = failed = 0
    after: tuple[str, int] | None = None
    with TaxiiClient(url, token=token, user=user, hosts=_hosts(rt)) as client, rt.reading() as conn:
        cid = client.collection_id(collection)
        actor = directory.load_actor(conn, as_user)
        local = find_collection(conn, actor, source)
        flt = ObjectFilter(added_after=_since(since))
        while True:
            page = read_page(conn, actor, local, flt, limit=500, after=after)
            if not page.rows:
                break
            envelope = '{"objects":[' + serialise_objects(page.rows) + "]}"
            status = client.add_objects(cid, envelope.encode())
            pushed += len(page.rows)
            failed += int(status.get("failure_count", 0))
            after = (page.rows[-1].date_added, page.rows[-1].pk)
            if not page.more:
                break
    rt.out.print(f"pushed {pushed} objects to {collection} ({failed} refused there)")


@collection_app.command("add")
def collection_add(
    ctx: typer.Context,
    alias: str,
    title: Annotated[str, typer.Option(help="Title shown to TAXII clients.")],
    description: str = "",
    object_type: Annotated[
        list[str] | None, typer.Option("--type", help="STIX type; repeatable.")
    ] = None,
    tlp: Annotated[list[str] | None, typer.Option(help="TLP level; repeatable.")] = None,
    distribution: Annotated[
        list[str] | None, typer.Option(help="Distribution; repeatable.")
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option(help="STIX label (any of); repeatable.")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Only this organisation's objects.")] = None,
) -> None:
    """Define a read-only collection by a filter (readers still see only what policy allows)."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        found = define_collection(
            conn,
            rt.operator_trail(),
            alias,
            title=title,
            description=description,
            types=tuple(object_type or ()),
            tlp=tuple(tlp or ()),
            distributions=tuple(distribution or ()),
            labels=tuple(label or ()),
            owner=owner,
        )
    rt.out.print(f"defined collection {found.alias} ({found.id})")


@collection_app.command("list")
def collection_list(ctx: typer.Context) -> None:
    """List the admin-defined collections."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        found = list_defined(conn)
    table = Table("alias", "id", "title", "filter")
    for c in found:
        table.add_row(c.alias, c.id, c.title, c.filter.to_json())
    rt.out.print(table)


@sync_app.command("add-peer")
def sync_add_peer(
    ctx: typer.Context,
    name: str,
    org: Annotated[str, typer.Option(help="Local 'peer' organisation standing for the node.")],
    api_root: Annotated[str, typer.Option(help="The peer's TAXII API root URL.")],
    user: Annotated[str, typer.Option(help="Our user name at the peer.")],
    token: TokenOption,
    collection: Annotated[str, typer.Option(help="Collection there.")] = "federation",
    direction: Annotated[str, typer.Option(help="pull, push or both.")] = "both",
    tlp: Annotated[
        str, typer.Option(help="TLP levels that may leave: clear,green.")
    ] = "clear,green",
    types: Annotated[
        str, typer.Option(help="STIX types that may leave (comma); all if empty.")
    ] = "",
    sightings: Annotated[str, typer.Option(help="keep, anonymise or drop.")] = "anonymise",
) -> None:
    """Record a peer node and the agreement with it."""
    rt: Runtime = ctx.obj
    agreement = agreements.parse_agreement(tlp, types, sightings)
    with rt.transaction() as conn:
        peer = agreements.add_peer(
            conn,
            rt.operator_trail(),
            name,
            directory.find_organisation(conn, org),
            api_root=api_root,
            collection=collection,
            username=user,
            token=token,
            direction=direction,
            agreement=agreement,
            hosts=_hosts(rt),
        )
    rt.out.print(f"added peer {peer.name} ({peer.direction}) at {peer.api_root}")


@sync_app.command("list")
def sync_list(ctx: typer.Context) -> None:
    """List peers and their agreements."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        peers = agreements.list_peers(conn)
    table = Table("name", "api root", "collection", "direction", "tlp", "types", "sightings")
    for p in peers:
        a = p.agreement
        table.add_row(
            p.name,
            p.api_root,
            p.collection,
            p.direction,
            ",".join(sorted(t.value for t in a.tlp)),
            ",".join(sorted(a.types)) or "all",
            a.sightings,
        )
    rt.out.print(table)


@sync_app.command("run")
def sync_run(ctx: typer.Context, name: str) -> None:
    """Sync with a peer now: pull, then push; resumes where a stopped run left off."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        peer = agreements.find_peer(conn, name)
    report = run_sync(rt.engine, rt.operator_trail(), peer, hosts=_hosts(rt))
    rt.out.print(
        f"synced with {name}: pulled {report.pulled} ({report.stored} new, {report.refused} "
        f"refused), pushed {report.pushed} ({report.push_failures} refused there)"
    )
    for message in report.messages[:5]:
        rt.err.print(f"  {message}")


@feed_app.command("add")
def feed_add(
    ctx: typer.Context,
    name: str,
    url: Annotated[str, typer.Argument(help="TAXII 2.1 discovery or API root URL.")],
    collection: Annotated[str, typer.Option(help="Collection id or alias there.")],
    as_org: Annotated[str, typer.Option("--as", help="Organisation that owns what is pulled.")],
    token: TokenOption,
    user: UserOption = None,
    distribution: Annotated[
        Distribution, typer.Option(help="Who may see what is pulled (not groups).")
    ] = Distribution.ORGANISATION,
    tlp: Annotated[str, typer.Option(help="TLP for objects without their own marking.")] = "amber",
    every: Annotated[int, typer.Option(help="Minutes between pulls (for `feed run --due`).")] = 60,
) -> None:
    """Add a TAXII feed: a collection elsewhere, pulled into the store on a schedule."""
    rt: Runtime = ctx.obj
    with rt.transaction() as conn:
        feed = add_feed(
            conn,
            rt.operator_trail(),
            name,
            url,
            collection,
            directory.find_organisation(conn, as_org),
            token=token,
            username=user,
            distribution=distribution,
            tlp=parse_tlp(tlp, "--tlp"),
            every_minutes=every,
            hosts=_hosts(rt),
        )
    rt.out.print(f"added feed {feed.name}: {feed.collection} at {feed.url} every {every} min")


@feed_app.command("list")
def feed_list(ctx: typer.Context) -> None:
    """List TAXII feeds and where each stopped."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        feeds = list_feeds(conn)
    table = Table("name", "url", "collection", "every", "last run", "added after")
    for f in feeds:
        table.add_row(
            f.name,
            f.url,
            f.collection,
            f"{f.every_minutes} min",
            f.last_run or "never",
            f.added_after or "-",
        )
    rt.out.print(table)


@feed_app.command("run")
def feed_run(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="One feed (default: all).")] = None,
    due: Annotated[bool, typer.Option(help="Only feeds whose interval has passed (cron).")] = False,
) -> None:
    """Pull feeds now; each resumes where its last run stopped."""
    rt: Runtime = ctx.obj
    with rt.reading() as conn:
        feeds = [find_feed(conn, name)] if name else list_feeds(conn)
    now = datetime.now(UTC)
    trail = rt.operator_trail()
    failed = 0
    for feed in feeds:
        if due and not is_due(feed, now):
            continue
        try:
            report = pull_feed(rt.engine, trail, feed, hosts=_hosts(rt))
        except SteppeError as exc:  # one feed down does not stop the others
            rt.err.print(f"error: feed {feed.name}: {exc}")
            failed += 1
            continue
        rt.out.print(
            f"feed {feed.name}: pulled {report.received} objects ({report.refused} refused)"
        )
        for message in report.messages[:3]:
            rt.err.print(f"  refused: {message}")
    if failed:
        raise typer.Exit(1)
