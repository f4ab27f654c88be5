"""How long each organisation's telemetry is kept, and pruning what is past it.

Every organisation keeps ``STEPPE_LAKE_RETENTION_DAYS`` unless it has its own value in
the ``telemetry_retention`` table (set with ``steppe lake retention --org ORG --days N``).
Pruning deletes whole day partitions (:func:`steppe.lake.partitions.expired` says which);
:func:`apply_retention` prunes and audits (``lake.prune``), as ``steppe lake prune`` and
the server's retention thread (:mod:`steppe.lake.scheduler`) do.

    >>> # with a connection and an audit trail:
    >>> # set_retention(conn, trail, org, 30); prune(lake_root, date.today(), 90, retention_overrides(conn))
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, insert, select, update

from steppe.audit.trail import AuditTrail
from steppe.errors import InputError
from steppe.lake.partitions import Partition, delete_partition, expired, list_partitions
from steppe.sharing.directory import Organisation
from steppe.storage import timestamps
from steppe.storage.engine import writing
from steppe.storage.schema import telemetry_retention

__all__ = ["apply_retention", "prune", "retention_overrides", "set_retention"]

#: Longest retention one may set (about 100 years): beyond it is surely a typo.
MAX_DAYS = 36_500


def retention_overrides(conn: Connection) -> dict[int, int]:
    """Organisation id → days, for organisations with their own retention."""
    rows = conn.execute(select(telemetry_retention.c.organisation_id, telemetry_retention.c.days))
    return {org: days for org, days in rows}


def set_retention(
    conn: Connection, trail: AuditTrail, organisation: Organisation, days: int | None
) -> None:
    """Give ``organisation`` its own retention, or (``days=None``) the default back."""
    if days is not None and not 0 < days <= MAX_DAYS:
        raise InputError(f"retention must be 1 to {MAX_DAYS} days, not {days}", field="days")
    table = telemetry_retention
    exists = conn.execute(
        select(table.c.days).where(table.c.organisation_id == organisation.id)
    ).one_or_none()
    if days is None:
        conn.execute(delete(table).where(table.c.organisation_id == organisation.id))
    elif exists is None:
        conn.execute(
            insert(table).values(
                organisation_id=organisation.id, days=days, updated_at=timestamps.now()
            )
        )
    else:
        conn.execute(
            update(table)
            .where(table.c.organisation_id == organisation.id)
            .values(days=days, updated_at=timestamps.now())
        )
    trail.record(
        conn,
        "lake.retention",
        f"organisation {organisation.name}",
        {"days": days, "previous": None if exists is None else exists.days},
    )


def prune(
    root: Path, today: date, default_days: int, overrides: Mapping[int, int]
) -> list[Partition]:
    """Delete the day partitions past their organisation's retention; return them."""
    gone = expired(list_partitions(root), today, default_days=default_days, overrides=overrides)
    for partition in gone:
        delete_partition(partition)
    return gone


def apply_retention(
    engine: Engine, trail: AuditTrail, root: Path, today: date, default_days: int
) -> list[Partition]:
    """Prune every organisation's expired days (its own retention or ``default_days``);
    audit ``lake.prune`` with the partitions removed, if any."""
    with engine.connect() as conn:
        overrides = retention_overrides(conn)
    gone = prune(root, today, default_days, overrides)
    if gone:
        with writing(engine) as conn:
            trail.record(
                conn,
                "lake.prune",
                "telemetry lake",
                {"partitions": [f"{p.organisation}/{p.day.isoformat()}" for p in gone]},
            )
    return gone
