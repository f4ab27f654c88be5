"""The `steppe` command line.

Commands that read intelligence take ``--as USER`` and show only what that user's
organisation may see (:mod:`steppe.sharing.policy`). Errors print one line naming what
and where, and exit with status 1; nothing is half-written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError

from steppe.cli import (
    alert_cmds,
    audit_cmds,
    directory_cmds,
    export_cmds,
    feed_cmds,
    incident_cmds,
    intel_cmds,
    lake_cmds,
    playbook_cmds,
    sigma_cmds,
    syslog_cmds,
    tag_cmds,
    taxii_cmds,
    telemetry_cmds,
    triage_cmds,
)
from steppe.cli.demo_cmd import demo
from steppe.cli.runtime import Runtime
from steppe.cli.serve_cmd import serve
from steppe.errors import SteppeError
from steppe.lake.lake import use_system_allocator
from steppe.settings import Settings
from steppe.storage import migrate

__all__ = ["app", "main"]

app = typer.Typer(
    name="steppe",
    help="Steppe: shared threat intelligence, detection and response for a coalition of CERTs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(directory_cmds.org_app, name="org")
app.add_typer(directory_cmds.group_app, name="group")
app.add_typer(directory_cmds.user_app, name="user")
app.add_typer(directory_cmds.token_app, name="token")
app.add_typer(intel_cmds.intel_app, name="intel")
app.add_typer(tag_cmds.tag_app, name="tag")
app.add_typer(tag_cmds.attack_app, name="attack")
app.add_typer(feed_cmds.feed_app, name="feed")
app.add_typer(audit_cmds.audit_app, name="audit")
app.add_typer(telemetry_cmds.telemetry_app, name="telemetry")
app.add_typer(lake_cmds.lake_app, name="lake")
app.add_typer(syslog_cmds.syslog_app, name="syslog")
app.command()(lake_cmds.hunt)
app.add_typer(sigma_cmds.sigma_app, name="sigma")
app.add_typer(taxii_cmds.taxii_app, name="taxii")
app.add_typer(taxii_cmds.sync_app, name="sync")
app.command()(alert_cmds.detect)
triage_cmds.register(alert_cmds.alert_app)
app.add_typer(alert_cmds.alert_app, name="alert")
app.add_typer(playbook_cmds.playbook_app, name="playbook")
app.add_typer(incident_cmds.incident_app, name="incident")
app.command()(export_cmds.export)
app.add_typer(export_cmds.blocklist_app, name="blocklist")
app.command()(demo)
app.command()(serve)


@app.callback()
def configure(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Data folder (default: $STEPPE_DATA_DIR or ./steppe-data)."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Database URL (default: $STEPPE_DATABASE_URL or SQLite in the data dir)."
        ),
    ] = None,
) -> None:
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    ctx.obj = Runtime(Settings(**overrides))  # type: ignore[arg-type]


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database (or bring it to the newest schema)."""
    rt: Runtime = ctx.obj
    rt.secret_key()  # refuse an insecure setup before creating anything
    before = migrate.current_revision(rt.engine)
    migrate.upgrade(rt.engine)
    after = migrate.current_revision(rt.engine)
    url = rt.engine.url.render_as_string(hide_password=True)
    if before == after:
        rt.out.print(f"database {url} is up to date (schema {after})")
    else:
        rt.out.print(f"database {url} migrated from schema {before or 'none'} to {after}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one-line errors instead of tracebacks."""
    use_system_allocator()
    try:
        app(args=argv, prog_name="steppe")
    except SteppeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except OperationalError as exc:
        print(f"error: database: {exc.orig or exc}".splitlines()[0], file=sys.stderr)
        sys.exit(1)
