"""POST /api/v1/hunt: the sandboxed DuckDB hunt over HTTP, on the partitions the caller
may read only; bad SQL is a 422 with DuckDB's message, never a 500."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.conftest import AppFactory, Coalition
from lake.lakedata import event
from steppe.api.app import API_PREFIX
from steppe.lake import EventLake
from steppe.sharing import directory

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

URL = f"{API_PREFIX}/hunt"
COUNT = "SELECT organisation, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"


@pytest.fixture
def orgs(coalition: Coalition, engine: Engine, tmp_path: Path) -> dict[str, int]:
    """KZ-CERT has 3 events in the lake, KG-CERT 2 (the app's lake: tmp_path/lake)."""
    with engine.connect() as conn:
        ids = {name: directory.find_organisation(conn, name).id for name in ("KZ-CERT", "KG-CERT")}
    lake = EventLake(tmp_path / "lake")
    lake.start(background=False)
    lake.accept(ids["KZ-CERT"], [event(n, **{"source.ip": "10.1.0.1"}) for n in range(3)])
    lake.accept(ids["KG-CERT"], [event(n, **{"source.ip": "10.2.0.1"}) for n in range(3, 5)])
    lake.close()
    return ids


def _hunt(
    client: TestClient, coalition: Coalition, caller: str, sql: str, **extra: object
) -> httpx.Response:
    return client.post(URL, json={"sql": sql, **extra}, headers=coalition.auth(caller))


def test_each_member_hunts_only_its_own_partitions(
    client: TestClient, coalition: Coalition, orgs: dict[str, int]
) -> None:
    kz, kg = orgs["KZ-CERT"], orgs["KG-CERT"]
    mine = _hunt(client, coalition, "analyst", COUNT)
    assert mine.status_code == 200, mine.text
    assert mine.json()["rows"] == [{"organisation": kz, "n": 3}]
    assert mine.json()["organisations"] == [kz] and mine.json()["truncated"] is False
    partner = _hunt(client, coalition, "partner", 'SELECT DISTINCT "source.ip" FROM events')
    assert partner.json()["rows"] == [{"source.ip": "10.2.0.1"}]
    # Naming another member's organisation in SQL finds nothing: its files are not there.
    other = _hunt(
        client, coalition, "analyst", f"SELECT count(*) AS n FROM events WHERE organisation = {kg}"
    )
    assert other.json()["rows"] == [{"n": 0}]
    # A member without telemetry, and the center's admin (who reads every member's).
    assert _hunt(client, coalition, "outsider", COUNT).json()["rows"] == []
    center = _hunt(client, coalition, "admin", COUNT).json()
    assert center["rows"] == sorted(
        [{"organisation": kz, "n": 3}, {"organisation": kg, "n": 2}],
        key=lambda r: r["organisation"],
    )


def test_rows_are_capped(client: TestClient, coalition: Coalition, orgs: dict[str, int]) -> None:
    cut = _hunt(client, coalition, "admin", "SELECT * FROM events", limit=2).json()
    assert len(cut["rows"]) == 2 and cut["truncated"] is True and cut["limit"] == 2
    assert "first 2 rows" in cut["note"]
    too_many = _hunt(client, coalition, "admin", "SELECT 1", limit=10**9)
    assert too_many.status_code == 422 and "STEPPE_HUNT_MAX_ROWS" in too_many.json()["detail"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC * FROM events", "syntax error"),
        ("SELECT nope FROM events", '"nope"'),
        ("SELECT * FROM read_parquet('lake/**/*.parquet')", "a hunt may only read the events view"),
        ("COPY (SELECT 1) TO 'planted.parquet'", "a hunt may only read the events view"),
        ("   ", "empty query"),
    ],
)
def test_bad_sql_is_422_with_duckdbs_message(
    client: TestClient, coalition: Coalition, orgs: dict[str, int], sql: str, message: str
) -> None:
    answer = _hunt(client, coalition, "analyst", sql)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert message in answer.json()["detail"]


def test_a_runaway_hunt_is_stopped(
    make_app: AppFactory, coalition: Coalition, orgs: dict[str, int]
) -> None:
    with TestClient(make_app(hunt_timeout_seconds=0.5)) as client:
        answer = _hunt(client, coalition, "analyst", "SELECT count(*) FROM range(100000000000) a")
    assert answer.status_code == 422 and "longer than 0.5 s" in answer.json()["detail"]


def test_sensors_may_not_hunt(client: TestClient, coalition: Coalition) -> None:
    assert _hunt(client, coalition, "sensor", "SELECT 1").status_code == 403
    assert client.post(URL, json={"sql": "SELECT 1"}).status_code == 401
