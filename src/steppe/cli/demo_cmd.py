"""`steppe demo`: a seeded coalition on the embedded default, and what each member sees."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from steppe.alerts.queries import get_alert, list_alerts
from steppe.audit.trail import AuditTrail
from steppe.cli.runtime import DEMO_MARKER, Runtime
from steppe.cli.serve_cmd import run_api
from steppe.demo.coalition import CENTER, MEMBERS, seed_coalition
from steppe.demo.intel import sample_feeds, write_sample
from steppe.demo.playbooks import DEMO_PLAYBOOK_NAME, SHARED_BY, write_demo_playbook
from steppe.demo.telemetry import replay_sample_telemetry
from steppe.errors import ConfigError, NotFound
from steppe.ingest.feeds.fetch import limits_from
from steppe.ingest.feeds.pull import pull_feed, register_feed
from steppe.intel.config import IntelConfig
from steppe.intel.feeds import FeedSpec
from steppe.intel.queries import search_value
from steppe.response.incidents.evidence import list_evidence
from steppe.response.incidents.queries import get_incident
from steppe.response.playbooks import PlaybookLibrary, PlaybookRunner
from steppe.response.playbooks.runs import list_runs
from steppe.settings import Settings
from steppe.sharing import credentials, directory
from steppe.sharing.model import Role
from steppe.storage import migrate

__all__ = ["DEMO_PASSWORD", "WEB_LOGINS", "demo"]

#: The demo users' web UI password (a public demo: printed on every run).
DEMO_PASSWORD = "steppe-demo"
#: Logins the demo prints: the center's coordinator and two members in different blocs.
WEB_LOGINS = (
    ("coordinator", "the Regional Center's coordinator: every member's alerts"),
    ("analyst.kz", "KZ-CERT: in CSTO, SCO and EAEU"),
    ("analyst.in", "CERT-In: in SCO and BRICS, not in CSTO"),
    ("admin", "the instance admin: sharing administration and the audit log"),
)


def demo(
    ctx: typer.Context,
    directory_: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo's data (rebuilt on every run).")
    ] = Path("steppe-demo"),
    serve: Annotated[
        bool, typer.Option(help="Serve the API when the demo is set up (Ctrl-C stops it).")
    ] = True,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """Build the demo coalition on the embedded default, show who sees what, serve the API."""
    started = time.perf_counter()
    parent: Runtime = ctx.obj
    _reset(directory_)
    rt = Runtime(Settings(data_dir=directory_, demo=True), out=parent.out, err=parent.err)
    migrate.upgrade(rt.engine)
    trail = rt.operator_trail()
    samples = list(sample_feeds())
    # The sample feeds are written to feeds/ in the demo folder: the default of
    # STEPPE_FEED_FILE_ROOTS, so the host policy lets them be read out of the box.
    limits = limits_from(rt.settings)
    with rt.transaction() as conn:
        coalition = seed_coalition(conn, trail)
        # The sample data arrives as feeds, pulled like any other (file:// URLs into the
        # demo folder): the feeds show in `steppe feed list` and pull again on request.
        for sample in samples:
            register_feed(
                conn,
                trail,
                FeedSpec(
                    name=sample.name,
                    url=write_sample(sample, directory_ / "feeds"),
                    format=sample.format,
                    owner=directory.find_organisation(conn, sample.owner),
                    distribution=sample.distribution,
                    tlp=sample.tlp,
                    groups=tuple(directory.find_group(conn, g) for g in sample.groups),
                    preset=sample.preset,
                ),
                hosts=limits.hosts,
            )
        tokens = {
            name: directory.create_token(conn, trail, name, label="demo").token
            for name in coalition.users
        }
        # People sign in to the web UI; sensors only send telemetry.
        for name, account in coalition.users.items():
            if Role.SENSOR not in account.roles:
                credentials.set_password(conn, trail, name, DEMO_PASSWORD)
    token_file = directory_ / "tokens.env"
    token_file.write_text(
        "# API tokens of the demo users (public demo; source this file in a shell)\n"
        + "".join(f"export {_env_name(n)}={t}\n" for n, t in tokens.items())
    )
    intel_rows = []
    config = IntelConfig.from_settings(rt.settings)
    with Progress(console=rt.err, transient=True) as progress:
        task = progress.add_task("pulling the sample feeds", total=len(samples))
        for sample in samples:
            result = pull_feed(rt.engine, trail, sample.name, limits=limits, config=config)
            if result.status != "ok" or result.stats is None:
                raise ConfigError(f"the demo feed {sample.name} did not pull: {result.error}")
            intel_rows.append((sample, result.stats.entries, result.stats.new))
            progress.advance(task)

    out = rt.out
    out.print(f"[bold]Steppe demo coalition[/bold] in {directory_}/ (SQLite, embedded default)")
    orgs = Table("organisation", "country", "kind", "users", title="Organisations")
    for org in coalition.organisations.values():
        users = [u.name for u in coalition.users.values() if u.organisation_id == org.id]
        orgs.add_row(org.name, org.country or "-", org.kind.value, ", ".join(users))
    out.print(orgs)
    groups_table = Table("group", "owner", "members", "roster", title="Sharing groups")
    names = {o.id: o.name for o in coalition.organisations.values()}
    for group in coalition.groups.values():
        groups_table.add_row(
            group.name,
            names[group.owner_org_id],
            ", ".join(sorted(names[i] for i in group.member_org_ids)),
            "hidden from members" if group.hidden_roster else "visible to members",
        )
    out.print(groups_table)
    intel = Table("feed", "owner", "audience", "TLP", "entries", "intel", title="Sample feeds")
    for sample, count, _observables in intel_rows:
        audience = ", ".join(sample.groups) or sample.distribution.value
        intel.add_row(
            sample.name,
            sample.owner,
            audience,
            sample.tlp.value.upper(),
            str(count),
            sample.title[:40],
        )
    out.print(intel)

    analysts = [(country, user) for _org, country, user in MEMBERS]
    matrix = Table(
        "value",
        "owner → audience",
        *(country for country, _ in analysts),
        title="Who finds what: each cell is a real search as that country's analyst",
    )
    with rt.reading() as conn:
        actors = [directory.load_actor(conn, user) for _country, user in analysts]
        for sample, _count, _obs in intel_rows:
            cells = []
            for actor in actors:
                _kind, _value, hits = search_value(conn, actor, sample.example)
                cells.append("[green]✓[/green]" if hits else "[dim]·[/dim]")
            audience = ",".join(sample.groups) or sample.distribution.value
            matrix.add_row(sample.example, f"{sample.owner} → {audience}", *cells)
    out.print(matrix)
    _show_alerts(rt, trail, [s.example for s, _c, _o in intel_rows], analysts)
    _run_playbook(rt, directory_ / "playbooks", analysts)
    elapsed = time.perf_counter() - started
    out.print(
        f"Set up {len(coalition.organisations)} organisations ({CENTER} + {len(MEMBERS)} "
        f"members), {len(coalition.groups)} sharing groups, {len(coalition.users)} users and "
        f"{len(samples)} feeds of {sum(c for _s, c, _o in intel_rows)} entries in {elapsed:.1f} s."
    )
    out.print("Try:")
    d = f"steppe --data-dir {directory_}"
    out.print(f"  {d} intel search softupdates.info --as analyst.ru  (QCCM only: nothing)")
    out.print(f"  {d} intel search softupdates.info --as analyst.pk  (QCCM member: found)")
    out.print(f"  {d} group list --as analyst.tj  (QCCM's roster is hidden from members)")
    out.print(f"  {d} intel export --as analyst.kz -o kz.json")
    out.print(f"  {d} alert list --as analyst.pk  (alerts on PK-CERT's sample telemetry)")
    out.print(f"  {d} incident list --as analyst.kg  (the incident the demo playbook opened)")
    out.print(f"  {d} playbook runs --as coordinator")
    out.print(f"  {d} feed list")
    out.print(f"  {d} audit verify")
    url = f"http://{host}:{port}/api/v1"
    out.print(f"API tokens of the demo users: {token_file}. With the server running:")
    out.print(f"  . {token_file}")
    out.print(
        f'  curl -s -H "Authorization: Bearer $ANALYST_PK" '
        f'"{url}/intel/objects?value=softupdates.info"'
    )
    out.print(f"[bold]Web UI[/bold] (the situation room): http://{host}:{port}/")
    for user, why in WEB_LOGINS:
        out.print(f"  sign in as {user:<12} password {DEMO_PASSWORD}  ({why})")
    if serve:
        # Streaming IOC detection and the demo's playbooks on, as under `steppe serve`.
        served = {"detection_streaming": True, "playbook_dir": directory_ / "playbooks"}
        run_api(rt, rt.settings.model_copy(update=served), host, port)


def _show_alerts(
    rt: Runtime, trail: AuditTrail, examples: list[str], analysts: list[tuple[str, str]]
) -> None:
    """Replay sample telemetry that touches the demo intel; show each member's alerts."""
    with rt.reading() as conn:
        actors = [directory.load_actor(conn, user) for _country, user in analysts]
    report = replay_sample_telemetry(
        rt.engine, trail, rt.settings.resolved_lake_dir(), examples, [a.org_id for a in actors]
    )
    table = Table(
        "member", "alerts", "what its sensors touched (indicator visible to it)",
        title=f"IOC alerts: the same {report.events // max(len(actors), 1)} events at every "
        "member, matched only against the intel it may see",
    )  # fmt: skip
    with rt.reading() as conn:
        for (country, _user), actor in zip(analysts, actors, strict=True):
            page = list_alerts(conn, actor, organisation=actor.org_id, limit=50)
            seen = sorted({a.observed or "" for a in page.items})
            table.add_row(country, str(page.total), ", ".join(seen) or "-")
    rt.out.print(table)


def _run_playbook(rt: Runtime, folder: Path, analysts: list[tuple[str, str]]) -> None:
    """Run the demo's playbook on the alerts; show who sees the incident it opened."""
    path = write_demo_playbook(folder)
    runner = PlaybookRunner(
        rt.engine, rt.secret_key(), PlaybookLibrary(path.parent), rt.settings, settle_seconds=0
    )
    report = runner.run_once()
    with rt.reading() as conn:
        center = directory.load_actor(conn, "coordinator")
        runs = list_runs(conn, center, playbook=DEMO_PLAYBOOK_NAME).items
        opened = sorted({
            str(a.result["incident_id"]) for r in runs for a in r.actions
            if a.result and a.result.get("incident_id")
        })  # fmt: skip
        if not opened:
            rt.out.print(f"The playbook {DEMO_PLAYBOOK_NAME} ran {report.runs} times: no incident.")
            return
        incident = get_incident(conn, center, opened[0])
        table = Table(
            "user", "sees the incident", "evidence it sees (alerts of)",
            title=f"Playbook {DEMO_PLAYBOOK_NAME} → incident “{incident.title}”, "
            f"coordinated by the center with {' and '.join(SHARED_BY)}",
        )  # fmt: skip
        users = ["coordinator", *(u for c, u in analysts if c in ("KZ", "KG", "UZ"))]
        for user in users:
            actor = directory.load_actor(conn, user)
            try:
                get_incident(conn, actor, opened[0])
                evidence = list_evidence(conn, actor, opened[0])
            except NotFound:
                table.add_row(user, "[dim]·[/dim]", "-")
                continue
            orgs = sorted(
                {get_alert(conn, actor, e.alert_id).organisation for e in evidence if e.alert_id}
            )
            table.add_row(user, "[green]✓[/green]", ", ".join(orgs) or "-")
    rt.out.print(table)


def _env_name(user: str) -> str:
    return user.upper().replace(".", "_").replace("-", "_")


def _reset(folder: Path) -> None:
    """Empty a previous demo folder; never touch a folder that is not one."""
    if folder.exists():
        if not (folder / DEMO_MARKER).exists() and any(folder.iterdir()):
            raise ConfigError(
                f"{folder} exists and is not a demo folder; refusing to overwrite it "
                "(choose another with --dir)"
            )
        for name in ("steppe.db", "steppe.db-wal", "steppe.db-shm"):
            (folder / name).unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DEMO_MARKER).write_text(
        "This folder holds Steppe's demo (public secret key). `steppe demo` rebuilds it.\n"
    )
