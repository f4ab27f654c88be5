"""What a sensor was told is accepted survives kill -9 of the server."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import orjson
import pyarrow.parquet as pq
import pytest

from conftest import KEY
from served import free_port, member_store, start_serve
from steppe.lake import EventLake
from steppe.sharing.model import Role


def sensor_token(data_dir: Path) -> tuple[str, int]:
    engine, token, org_id = member_store(data_dir, KEY, "sensor.kz", Role.SENSOR)
    engine.dispose()
    return token, org_id


@pytest.mark.slow
def test_acknowledged_events_survive_sigkill(tmp_path: Path) -> None:
    token, org_id = sensor_token(tmp_path)
    port = free_port()
    # Nothing reaches Parquet before the kill: only the spool can save the events.
    flush = {"STEPPE_LAKE_FLUSH_SECONDS": "3600"}
    proc = start_serve(tmp_path, port, KEY, env=flush, stderr=subprocess.PIPE)
    acknowledged: set[int] = set()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for batch in range(20):
                ids = range(batch * 100, batch * 100 + 100)
                body = b"\n".join(
                    orjson.dumps(
                        {
                            "timestamp": "2026-11-28T10:00:00.000000+0000",
                            "event_type": "flow",
                            "src_ip": "10.0.0.5",
                            "src_port": i,
                            "dest_ip": "10.9.9.9",
                            "dest_port": 443,
                            "proto": "TCP",
                        }
                    )
                    for i in ids
                )
                response = client.post(
                    "/api/v1/telemetry?format=eve",
                    content=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status_code == 202, response.text
                acknowledged.update(ids)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    lake_root = tmp_path / "lake"
    assert not list(lake_root.rglob("*.parquet")), (
        "flushed before the kill: the test proves nothing"
    )

    with EventLake(lake_root) as lake:  # a restart: recovery replays the dead spool
        lake.flush()
    ports = [
        port
        for file in lake_root.rglob("*.parquet")
        for port in pq.read_table(file, columns=["source.port"]).column(0).to_pylist()
    ]
    assert len(ports) == len(acknowledged) == 2000
    assert set(ports) == acknowledged  # all of them, each once
    assert all(f"organisation={org_id}" in str(f) for f in lake_root.rglob("*.parquet"))
