"""Hunts see exactly the telemetry can_read_telemetry allows, and can reach nothing else."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from lake.lakedata import assert_reads_follow_the_policy, event, fill, worlds
from steppe.errors import Forbidden, InputError
from steppe.lake import EventLake
from steppe.lake.hunt import hunt, hunt_schema
from steppe.lake.partitions import Partition
from steppe.sharing.model import Actor, OrgKind, Role

A, B, CENTER = 1, 2, 3


def actor(org: int, kind: OrgKind = OrgKind.MEMBER, *roles: Role) -> Actor:
    return Actor(org * 100, f"user{org}", org, kind, frozenset(roles or {Role.ANALYST}))


ANALYST_A = actor(A)
ANALYST_B = actor(B)
STAFF = actor(CENTER, OrgKind.COORDINATOR, Role.COORDINATOR)


@pytest.fixture
def lake_root(tmp_path: Path) -> Path:
    lake = EventLake(tmp_path)
    lake.start(background=False)
    lake.accept(A, [event(n, "2026-11-27", **{"source.ip": "10.1.0.1"}) for n in range(3)])
    lake.accept(A, [event(n, "2026-11-28", **{"source.ip": "10.1.0.1"}) for n in range(3, 5)])
    lake.accept(B, [event(n, "2026-11-28", **{"source.ip": "10.2.0.1"}) for n in range(10, 14)])
    lake.close()
    return tmp_path


def per_org(result_rows: list[tuple[object, ...]]) -> dict[object, object]:
    return {row[0]: row[1] for row in result_rows}


COUNT = "SELECT organisation, count(*) FROM events GROUP BY 1 ORDER BY 1"


def test_an_analyst_sees_only_their_organisation(lake_root: Path) -> None:
    result = hunt(ANALYST_A, COUNT, lake_root)
    assert per_org(result.rows) == {A: 5}
    assert result.organisations == [A]
    ips = hunt(ANALYST_A, 'SELECT DISTINCT "source.ip" FROM events', lake_root)
    assert ips.rows == [("10.1.0.1",)]


def test_center_staff_see_every_member(lake_root: Path) -> None:
    assert per_org(hunt(STAFF, COUNT, lake_root).rows) == {A: 5, B: 4}
    admin = actor(CENTER, OrgKind.COORDINATOR, Role.ADMIN)
    assert per_org(hunt(admin, COUNT, lake_root).rows) == {A: 5, B: 4}
    reader_of_center = actor(CENTER, OrgKind.COORDINATOR, Role.READER)
    assert hunt(reader_of_center, COUNT, lake_root).rows == []


def test_the_day_partition_and_typed_columns_are_queryable(lake_root: Path) -> None:
    result = hunt(
        ANALYST_A,
        'SELECT day, count(*), max("destination.port") + 1 FROM events '
        "WHERE \"@timestamp\" >= TIMESTAMPTZ '2026-11-27 00:00:00+00' GROUP BY 1 ORDER BY 1",
        lake_root,
    )
    assert [(str(day), n, port) for day, n, port in result.rows] == [
        ("2026-11-27", 3, 444),
        ("2026-11-28", 2, 444),
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_parquet('{root}/organisation=1/*/*.parquet')",
        "SELECT * FROM read_parquet('{root}/**/*.parquet', hive_partitioning = true)",
        "SELECT * FROM '{root}/organisation=1/day=2026-11-27/*.parquet'",
        "ATTACH '{root}/x.duckdb' AS other",
        "COPY (SELECT 1) TO '{root}/organisation=2/day=2026-11-28/planted.parquet'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('{root}/*')",
        "SET enable_external_access = true",
    ],
)
def test_another_organisations_folder_cannot_be_reached(lake_root: Path, sql: str) -> None:
    with pytest.raises(InputError) as refused:
        hunt(ANALYST_B, sql.format(root=lake_root), lake_root)
    assert refused.value.field == "sql"
    assert "Traceback" not in str(refused.value)
    assert not list(lake_root.rglob("planted.parquet"))
    assert not (lake_root / "x.duckdb").exists()
    assert per_org(hunt(ANALYST_B, COUNT, lake_root).rows) == {B: 4}


def test_file_access_errors_say_so(lake_root: Path) -> None:
    with pytest.raises(InputError, match="may only read the events view"):
        hunt(
            ANALYST_B,
            f"SELECT * FROM read_parquet('{lake_root}/organisation=1/*/*.parquet')",
            lake_root,
        )


def test_python_variables_are_not_scanned(lake_root: Path) -> None:
    secret_table = pa.table({"x": [1]})  # DuckDB scans local Python tables by name if allowed
    assert secret_table.num_rows == 1
    with pytest.raises(InputError, match="secret_table"):
        hunt(ANALYST_B, "SELECT * FROM secret_table", lake_root)


def test_an_actor_who_may_read_nothing_gets_an_empty_events_view(lake_root: Path) -> None:
    peer = actor(7, OrgKind.PEER, Role.ADMIN)
    result = hunt(peer, "SELECT * FROM events", lake_root)
    assert result.rows == [] and result.organisations == []
    assert result.columns == hunt_schema().names
    outsider = actor(8)  # a member with no telemetry yet
    assert hunt(outsider, "SELECT count(*) FROM events", lake_root).rows == [(0,)]


def test_sensors_may_not_hunt(lake_root: Path) -> None:
    with pytest.raises(Forbidden):
        hunt(actor(A, OrgKind.MEMBER, Role.SENSOR), "SELECT 1", lake_root)


def test_bad_sql_is_an_input_error_with_duckdbs_message(lake_root: Path) -> None:
    with pytest.raises(InputError, match="syntax error") as bad:
        hunt(ANALYST_A, "SELEC * FROM events", lake_root)
    assert "LINE 1" not in str(bad.value)
    with pytest.raises(InputError, match='"nope"'):
        hunt(ANALYST_A, "SELECT nope FROM events", lake_root)
    with pytest.raises(InputError, match="empty"):
        hunt(ANALYST_A, "   ", lake_root)


def test_a_runaway_query_is_stopped(lake_root: Path) -> None:
    with pytest.raises(InputError, match=r"longer than 0\.5 s"):
        hunt(
            ANALYST_A, "SELECT count(*) FROM range(100000000000) a", lake_root, timeout_seconds=0.5
        )


def test_rows_are_capped_with_a_note(lake_root: Path) -> None:
    result = hunt(STAFF, "SELECT * FROM events", lake_root, limit=4)
    assert len(result.rows) == 4 and result.truncated
    assert result.note is not None and "4" in result.note
    whole = hunt(STAFF, "SELECT * FROM events", lake_root, limit=9)
    assert len(whole.rows) == 9 and not whole.truncated and whole.note is None


def test_json_form_has_iso_timestamps(lake_root: Path) -> None:
    result = hunt(ANALYST_A, 'SELECT "@timestamp", day FROM events ORDER BY 1 LIMIT 1', lake_root)
    assert result.as_json()["rows"] == [
        {"@timestamp": "2026-11-27T10:00:00.000000Z", "day": "2026-11-27"}
    ]


def test_files_of_an_older_schema_read_new_columns_as_null(tmp_path: Path) -> None:
    folder = tmp_path / f"organisation={A}" / "day=2026-11-28"
    folder.mkdir(parents=True)
    old = pa.table(
        {
            "@timestamp": pa.array([0], pa.timestamp("us", tz="UTC")),
            "source.ip": ["10.9.9.9"],
            "raw": ["{}"],
            "organisation": pa.array([A], pa.int64()),
        }
    )
    pq.write_table(old, folder / "old.parquet")
    result = hunt(ANALYST_A, 'SELECT "source.ip", "rule.name" FROM events', tmp_path)
    assert result.rows == [("10.9.9.9", None)]


def test_temporary_files_are_never_read(lake_root: Path) -> None:
    folder = lake_root / f"organisation={A}" / "day=2026-11-28"
    (folder / ".tmp-half-written.parquet").write_bytes(b"PAR1 not really")
    assert per_org(hunt(ANALYST_A, COUNT, lake_root).rows) == {A: 5}


# -- differential: the hunt against the policy, over random worlds ----------------------


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_hunt_counts_equal_what_the_policy_allows(
    tmp_path_factory: pytest.TempPathFactory, world: tuple[dict[int, int], list[Actor]]
) -> None:
    events_per_org, actors = world
    root = tmp_path_factory.mktemp("world")
    fill(root, events_per_org)
    assert_reads_follow_the_policy(
        events_per_org,
        actors,
        lambda who: dict(Counter({org: n for org, n in hunt(who, COUNT, root).rows})),
    )


def test_a_file_removed_during_the_hunt_is_listed_again(
    lake_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import steppe.lake.hunt as hunt_module

    real = hunt_module.parquet_files
    calls = {"n": 0}

    def stale_once(partition: Partition) -> list[Path]:
        calls["n"] += 1
        found = real(partition)
        if calls["n"] == 1:  # as if a compaction removed a file right after the listing
            return [*found, partition.path / "gone-meanwhile.parquet"]
        return found

    monkeypatch.setattr(hunt_module, "parquet_files", stale_once)
    assert per_org(hunt(ANALYST_A, COUNT, lake_root).rows) == {A: 5}
