"""POST /api/v1/telemetry: sensors' events into the lake, for their own organisation only."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from steppe.api.app import API_PREFIX
from steppe.sharing import directory
from steppe.storage.schema import api_tokens

if TYPE_CHECKING:
    from tests.api.conftest import AppFactory, Coalition

URL = f"{API_PREFIX}/telemetry"


def eve_dns(i: int, query: str = "evil.example") -> dict[str, Any]:
    return {
        "timestamp": "2026-11-28T10:00:00.000000+0000",
        "event_type": "dns",
        "src_ip": "10.0.0.5",
        "src_port": 40000 + i,
        "dest_ip": "10.0.0.53",
        "dest_port": 53,
        "proto": "UDP",
        "dns": {"type": "query", "id": i, "rrname": query, "rrtype": "A"},
    }


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


def lake_rows(root: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for file in sorted(root.rglob("*.parquet")):
        rows.extend(pq.read_table(file).to_pylist())
    return rows


def org_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return directory.find_organisation(conn, name).id


pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def test_a_sensor_batch_lands_in_its_organisations_partition(
    make_app: AppFactory, coalition: Coalition, engine: Engine, tmp_path: Path
) -> None:
    with TestClient(make_app()) as client:
        response = client.post(
            f"{URL}?format=eve",
            content=jsonl([eve_dns(i) for i in range(50)]),
            headers=coalition.auth("sensor"),
        )
        assert response.status_code == 202, response.text
        assert response.json() == {"accepted": 50, "problems": 0, "first_problems": []}
    # Leaving the client shuts the app down, which writes the spool to Parquet.
    rows = lake_rows(tmp_path / "lake")
    kz = org_id(engine, "KZ-CERT")
    assert len(rows) == 50
    assert {r["organisation"] for r in rows} == {kz}
    assert {r["dns.question.name"] for r in rows} == {"evil.example"}
    assert {r["observer.name"] for r in rows} == {"kzsensor"}
    assert all(f"organisation={kz}" in str(f) for f in (tmp_path / "lake").rglob("*.parquet"))


def test_gzip_bodies_and_json_arrays_are_accepted(
    make_app: AppFactory, coalition: Coalition, tmp_path: Path
) -> None:
    with TestClient(make_app()) as client:
        zipped = client.post(
            URL,
            content=gzip.compress(jsonl([eve_dns(i) for i in range(10)])),
            headers={**coalition.auth("sensor"), "Content-Encoding": "gzip"},
        )
        array = client.post(
            f"{URL}?format=eve",
            content=orjson.dumps([eve_dns(i) for i in range(5)]),
            headers={**coalition.auth("analyst"), "Content-Type": "application/json"},
        )
    assert zipped.status_code == 202, zipped.text
    assert zipped.json()["accepted"] == 10
    assert array.status_code == 202, array.text
    assert array.json()["accepted"] == 5
    assert len(lake_rows(tmp_path / "lake")) == 15


def test_bad_lines_are_located_and_the_good_ones_kept(
    make_app: AppFactory, coalition: Coalition, tmp_path: Path
) -> None:
    body = jsonl([eve_dns(1)]) + b'{"event_type": "dns", "truncat\n' + jsonl([eve_dns(3)])
    with TestClient(make_app()) as client:
        response = client.post(f"{URL}?format=eve", content=body, headers=coalition.auth("sensor"))
        assert response.status_code == 202, response.text
        receipt = response.json()
        assert receipt["accepted"] == 2
        assert receipt["problems"] == 1
        assert receipt["first_problems"][0]["line"] == 2

        nothing = client.post(
            f"{URL}?format=eve", content=b"not json\nnor this\n", headers=coalition.auth("sensor")
        )
    assert nothing.status_code == 422
    problem = nothing.json()
    assert problem["errors"][0]["line"] == 1
    assert "no event could be read (2 problems)" in problem["detail"]
    assert len(lake_rows(tmp_path / "lake")) == 2


def test_nul_characters_in_raw_logs_are_kept(
    make_app: AppFactory, coalition: Coalition, tmp_path: Path
) -> None:
    record = {**eve_dns(1), "note": "padded\u0000\u0000"}
    with TestClient(make_app()) as client:
        response = client.post(URL, content=jsonl([record]), headers=coalition.auth("sensor"))
    assert response.status_code == 202, response.text
    (row,) = lake_rows(tmp_path / "lake")
    assert orjson.loads(row["raw"])["note"] == "padded\x00\x00"


@pytest.mark.parametrize(("caller", "status"), [("reader", 403), ("expired", 401)])
def test_only_submitting_roles_may_post(
    client: TestClient, coalition: Coalition, caller: str, status: int
) -> None:
    response = client.post(URL, content=jsonl([eve_dns(1)]), headers=coalition.auth(caller))
    assert response.status_code == status


def revoke(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.token_hash == hashlib.sha256(token.encode()).hexdigest())
            .values(revoked_at="2026-11-29T00:00:00.000000Z")
        )


def test_a_revoked_sensor_token_is_refused_once_its_moment_in_the_cache_is_over(
    make_app: AppFactory, coalition: Coalition, engine: Engine
) -> None:
    body = jsonl([eve_dns(1)])
    with TestClient(make_app(telemetry_token_cache_seconds=0.3)) as client:
        assert client.post(URL, content=body, headers=coalition.auth("sensor")).status_code == 202
        revoke(engine, coalition.tokens["sensor"])
        # taken as it was a moment ago on the telemetry stream; nowhere else
        assert client.post(URL, content=body, headers=coalition.auth("sensor")).status_code == 202
        stats = client.get(f"{URL}/stats", headers=coalition.auth("sensor"))
        assert stats.status_code == 401
        time.sleep(0.35)
        late = client.post(URL, content=body, headers=coalition.auth("sensor"))
        assert late.status_code == 401, late.text


def test_without_the_cache_a_revoked_sensor_token_is_refused_at_once(
    make_app: AppFactory, coalition: Coalition, engine: Engine
) -> None:
    body = jsonl([eve_dns(1)])
    with TestClient(make_app(telemetry_token_cache_seconds=0)) as client:
        assert client.post(URL, content=body, headers=coalition.auth("sensor")).status_code == 202
        revoke(engine, coalition.tokens["sensor"])
        assert client.post(URL, content=body, headers=coalition.auth("sensor")).status_code == 401


def test_bodies_over_the_limit_and_zip_bombs_get_413(
    make_app: AppFactory, coalition: Coalition, tmp_path: Path
) -> None:
    with TestClient(make_app(telemetry_max_body_bytes=10_000)) as client:
        big = client.post(
            URL, content=jsonl([eve_dns(i) for i in range(200)]), headers=coalition.auth("sensor")
        )
        bomb = client.post(
            URL,
            content=gzip.compress(b"[" + b" " * 5_000_000 + b"]"),
            headers={**coalition.auth("sensor"), "Content-Encoding": "gzip"},
        )
        junk = client.post(
            URL,
            content=b"\x1f\x8bnot really gzip",
            headers={**coalition.auth("sensor"), "Content-Encoding": "gzip"},
        )
    assert big.status_code == 413
    assert bomb.status_code == 413
    assert junk.status_code == 422
    assert "gzip" in junk.json()["detail"]
    assert lake_rows(tmp_path / "lake") == []


def test_a_full_lake_answers_429_and_keeps_nothing_of_that_request(
    make_app: AppFactory, coalition: Coalition, tmp_path: Path
) -> None:
    # A backlog bound smaller than one batch and no flushing: the second request is over.
    app = make_app(lake_max_backlog_bytes=1_000, lake_flush_seconds=3600)
    with TestClient(app) as client:
        first = client.post(
            URL, content=jsonl([eve_dns(i) for i in range(20)]), headers=coalition.auth("sensor")
        )
        second = client.post(
            URL, content=jsonl([eve_dns(i) for i in range(7)]), headers=coalition.auth("sensor")
        )
        unread = client.post(URL, content=b"not even JSON", headers=coalition.auth("sensor"))
        assert first.status_code == 202
        assert second.status_code == 429
        assert int(second.headers["Retry-After"]) >= 1
        assert unread.status_code == 429  # refused before the body was read, not 422
        app.state.services.telemetry.lake.flush()
        third = client.post(
            URL, content=jsonl([eve_dns(i) for i in range(7)]), headers=coalition.auth("sensor")
        )
        assert third.status_code == 202
    assert len(lake_rows(tmp_path / "lake")) == 27


def test_a_busy_intake_answers_429_before_reading_the_body(
    app: FastAPI, client: TestClient, coalition: Coalition
) -> None:
    app.state.telemetry_gate = asyncio.Semaphore(0)
    response = client.post(URL, content=jsonl([eve_dns(1)]), headers=coalition.auth("sensor"))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
