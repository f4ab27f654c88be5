"""GET /api/v1/telemetry/stats: events a day and the last event of each organisation the
caller may read; the lake's plumbing for the center's staff only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.conftest import Coalition
from lake.lakedata import event
from steppe.api.app import API_PREFIX
from steppe.lake import EventLake
from steppe.sharing import directory

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

URL = f"{API_PREFIX}/telemetry/stats"


@pytest.fixture
def orgs(coalition: Coalition, engine: Engine, tmp_path: Path) -> dict[str, int]:
    """KZ-CERT sent 3 events today and 1 yesterday, KG-CERT 2 five days ago."""
    with engine.connect() as conn:
        ids = {name: directory.find_organisation(conn, name).id for name in ("KZ-CERT", "KG-CERT")}
    today = datetime.now(UTC).date()
    lake = EventLake(tmp_path / "lake")
    lake.start(background=False)
    lake.accept(ids["KZ-CERT"], [event(n, today.isoformat()) for n in range(3)])
    lake.accept(ids["KZ-CERT"], [event(3, (today - timedelta(days=1)).isoformat())])
    lake.accept(
        ids["KG-CERT"], [event(n, (today - timedelta(days=5)).isoformat()) for n in range(2)]
    )
    lake.close()
    return ids


def test_a_member_gets_its_own_days_and_no_plumbing(
    client: TestClient, coalition: Coalition, orgs: dict[str, int]
) -> None:
    answer = client.get(URL, params={"days": 3}, headers=coalition.auth("analyst"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["days"]) == 3 and body["health"] is None
    (kz,) = body["organisations"]
    assert kz["organisation"] == "KZ-CERT" and kz["organisation_id"] == orgs["KZ-CERT"]
    assert kz["events_per_day"] == [0, 1, 3] and kz["events"] == 4 and kz["days_held"] == 2
    assert kz["last_event"].startswith(datetime.now(UTC).date().isoformat())
    outsider = client.get(URL, headers=coalition.auth("outsider")).json()
    assert outsider["organisations"] == []  # UZ-CERT sent nothing; it sees no one else's


def test_the_centers_admin_sees_every_member_and_the_lake(
    client: TestClient, coalition: Coalition, orgs: dict[str, int]
) -> None:
    body = client.get(URL, headers=coalition.auth("admin")).json()
    names = {o["organisation"]: o for o in body["organisations"]}
    assert set(names) == {"KZ-CERT", "KG-CERT"}
    assert names["KG-CERT"]["events"] == 2 and len(names["KG-CERT"]["events_per_day"]) == 14
    assert body["health"] == {"spool_segments": 0, "spool_bytes": 0, "quarantined_segments": 0}


def test_sensors_and_strangers_get_nothing(client: TestClient, coalition: Coalition) -> None:
    assert client.get(URL, headers=coalition.auth("sensor")).status_code == 403
    assert client.get(URL).status_code == 401
    bad = client.get(URL, params={"days": 0}, headers=coalition.auth("analyst"))
    assert bad.status_code == 422 and "days" in bad.text
