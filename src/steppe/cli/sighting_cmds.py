"""`steppe intel sight`, and what `intel show` / `intel search --technique` print of
sightings, score and related objects (all as the ``--as`` user may see them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Connection, select

from steppe.cli.runtime import Runtime, write_json
from steppe.intel.config import IntelConfig
from steppe.intel.correlation import Related, related
from steppe.intel.queries import SearchHit, StoredObject, get_stored, list_objects
from steppe.intel.scoring import Score
from steppe.intel.sightings import Sightings, SightingType, list_sightings, record_sighting
from steppe.intel.sightings import scores_for as _scores_for
from steppe.sharing import directory
from steppe.sharing.model import Actor
from steppe.storage.schema import intel_objects, organisations

__all__ = [
    "Enrichment",
    "describe",
    "intel_sight",
    "print_enrichment",
    "score_text",
    "scores_of_hits",
    "search_technique",
]


def intel_sight(
    ctx: typer.Context,
    stix_id: Annotated[str, typer.Argument(help="The object sighted (as the user sees it).")],
    as_user: Annotated[str, typer.Option("--as", help="The user reporting it.")],
    kind: Annotated[
        SightingType, typer.Option("--type", help="seen, false-positive or expired.")
    ] = SightingType.SEEN,
    count: Annotated[int, typer.Option(min=1, help="How many times.")] = 1,
    source: Annotated[str | None, typer.Option(help="Where, e.g. an alert id.")] = None,
    named: Annotated[
        bool, typer.Option("--named/--anonymous", help="Let others learn who sighted it.")
    ] = False,
) -> None:
    """Report that the user's organisation sighted an object (STIX sighting)."""
    rt: Runtime = ctx.obj
    trail = rt.operator_trail()
    with rt.transaction() as conn:
        actor = directory.load_actor(conn, as_user)
        sighting_id = record_sighting(
            conn, trail, actor, stix_id, kind, count=count, source=source, named=named
        )
        score = _score(conn, actor, stix_id, IntelConfig.from_settings(rt.settings))
    rt.out.print(
        f"sighting {sighting_id}: {kind.value} x{count} of {stix_id}"
        f" ({'named' if named else 'anonymous'}); score now {score.score:.1f}"
        + (f", expired: {score.reason}" if score.expired else "")
    )


@dataclass(frozen=True, slots=True)
class Enrichment:
    score: Score
    sightings: Sightings
    related: list[Related]


def _score(conn: Connection, actor: Actor, stix_id: str, cfg: IntelConfig) -> Score:
    pk = get_stored(conn, actor, stix_id).pk
    return _scores_for(conn, [pk], config=cfg.decay)[pk]


def describe(conn: Connection, actor: Actor, stored: StoredObject, rt: Runtime) -> Enrichment:
    """Score, sightings and related objects of ``stored``, as ``actor`` may see them."""
    cfg = IntelConfig.from_settings(rt.settings)
    score = _scores_for(conn, [stored.pk], config=cfg.decay)[stored.pk]
    sightings = list_sightings(conn, actor, stored.stix_id)
    links = related(conn, actor, stored.stix_id, exclusions=cfg.correlation.exclusions)
    return Enrichment(score, sightings, links)


def print_enrichment(rt: Runtime, found: Enrichment) -> None:
    """On stderr: stdout stays the STIX object, for scripts."""
    s = found.score
    rt.err.print(
        f"score {s.score:.1f} (base {s.base:g})" + (f" — expired: {s.reason}" if s.expired else "")
    )
    if found.sightings.items:
        totals = ", ".join(f"{k} {v}" for k, v in sorted(found.sightings.totals.items()))
        table = Table("type", "count", "last seen", "organisation", title=f"sightings: {totals}")
        for item in found.sightings.items:
            table.add_row(item.type, str(item.count), item.last_seen, item.organisation or "-")
        rt.err.print(table)
    if found.related:
        table = Table("related object", "name", "owner", "tlp", "shared values", title="related")
        for r in found.related:
            shared = ", ".join(f"{t} {v}" for t, v in r.shared[:3])
            more = f" (+{len(r.shared) - 3})" if len(r.shared) > 3 else ""
            table.add_row(r.stix_id, r.name or "", r.owner, r.tlp.upper(), shared + more)
        rt.err.print(table)


def search_technique(rt: Runtime, as_user: str, technique: str, as_json: bool) -> None:
    """`intel search --technique T1059`: visible objects tagged with it (or a sub-technique)."""
    with rt.reading() as conn:
        actor = directory.load_actor(conn, as_user)
        found = list_objects(conn, actor, technique=technique, limit=1000)
    if as_json:
        for o in found:
            line = {"stix_id": o.stix_id, "type": o.type, "name": o.name, "owner": o.owner}
            write_json(line)
        return
    if not found:
        rt.out.print(f"no intel visible to {as_user} tagged {technique.upper()}")
        return
    table = Table("object", "type", "name", "owner", "tlp", title=f"{technique.upper()}")
    for o in found:
        table.add_row(o.stix_id, o.type, o.name or "", o.owner, o.tlp.upper())
    rt.out.print(table)


def scores_of_hits(
    conn: Connection, hits: list[SearchHit], rt: Runtime
) -> dict[tuple[str, str], Score]:
    """Scores of search hits (already filtered by the policy), by (stix id, owner name)."""
    if not hits:
        return {}
    wanted = {(h.stix_id, h.owner) for h in hits}
    o = intel_objects
    rows = conn.execute(
        select(o.c.pk, o.c.stix_id, organisations.c.name)
        .join(organisations, organisations.c.id == o.c.owner_org_id)
        .where(o.c.stix_id.in_(sorted({h.stix_id for h in hits})), o.c.is_current.is_(True))
    ).all()
    pks = {(r.stix_id, r.name): r.pk for r in rows if (r.stix_id, r.name) in wanted}
    cfg = IntelConfig.from_settings(rt.settings)
    scores = _scores_for(conn, list(pks.values()), config=cfg.decay)
    return {key: scores[pk] for key, pk in pks.items() if pk in scores}


def score_text(score: Score | None) -> str:
    if score is None:
        return "-"
    return f"{score.score:.0f}" + (" (expired)" if score.expired else "")
