"""Helpers for the lake tests: read back everything the lake holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

from steppe.errors import Forbidden
from steppe.lake import EventLake
from steppe.lake.partitions import list_partitions, parquet_files
from steppe.lake.table import lake_schema
from steppe.sharing.model import Actor, OrgKind, Role
from steppe.sharing.policy import can_read_telemetry


def read_lake(root: Path) -> pa.Table:
    """Every row of every Parquet file in the lake (empty table with the schema if none)."""
    tables = [
        pq.read_table(path)
        for partition in list_partitions(root)
        for path in parquet_files(partition)
    ]
    if not tables:
        return lake_schema().empty_table()
    return pa.concat_tables(tables)


def fill(root: Path, events_per_org: dict[int, int], day: str = "2026-11-28") -> None:
    """A lake at ``root`` holding ``events_per_org[org]`` events of each organisation,
    numbered from 0, on ``day`` at 10:00."""
    lake = EventLake(root)
    lake.start(background=False)
    for org, count in events_per_org.items():
        lake.accept(org, [event(n, day) for n in range(count)])
    lake.close()


def event(n: int, day: str = "2026-11-28", **fields: Any) -> dict[str, Any]:
    """A small valid event numbered ``n`` (kept in raw so it can be counted back)."""
    base: dict[str, Any] = {
        "@timestamp": f"{day}T10:00:00.000000Z",
        "event.dataset": "zeek.conn",
        "source.ip": "10.0.0.1",
        "destination.port": 443,
        "raw": {"n": n},
    }
    base.update(fields)
    return base


# -- random worlds, for the differential tests of every lake read against the policy ----

KINDS = [OrgKind.MEMBER, OrgKind.MEMBER, OrgKind.COORDINATOR, OrgKind.PEER]
ROLES = [Role.ADMIN, Role.COORDINATOR, Role.ORG_ADMIN, Role.ANALYST, Role.READER, Role.SENSOR]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[dict[int, int], list[Actor]]:
    """Organisations 1..n with 0-4 events each (those with none left out), and actors of
    random kinds and roles, some of an organisation without events."""
    n_orgs = draw(st.integers(1, 5))
    kinds = [draw(st.sampled_from(KINDS)) for _ in range(n_orgs)]
    events = {org: draw(st.integers(0, 4)) for org in range(1, n_orgs + 1)}
    actors = [
        Actor(
            i,
            f"u{i}",
            draw(st.integers(1, n_orgs + 1)),  # n_orgs + 1: an organisation without events
            kind,
            frozenset(draw(st.sets(st.sampled_from(ROLES), min_size=1, max_size=3))),
        )
        for i, kind in enumerate(draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=4)))
    ]
    return {org: n for org, n in events.items() if n}, actors


def assert_reads_follow_the_policy(
    events_per_org: dict[int, int],
    actors: list[Actor],
    read: Callable[[Actor], dict[int, int]],
) -> None:
    """Each actor's ``read`` of the lake (events per organisation) is exactly what
    ``can_read_telemetry`` allows; a refusal (Forbidden) only for those who may read none."""
    for who in actors:
        expected = {
            org: n for org, n in events_per_org.items() if can_read_telemetry(who, org).allowed
        }
        try:
            got = read(who)
        except Forbidden:
            assert not can_read_telemetry(who, who.org_id).allowed  # only sensors
            assert not expected
            continue
        assert got == expected, who
