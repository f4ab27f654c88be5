"""`steppe telemetry ingest`: files and folders into the lake."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from cli_runner import Steppe

DATA = Path(__file__).parents[1] / "data" / "telemetry"


@pytest.fixture
def members(steppe: Steppe) -> Steppe:
    steppe.ok("org", "add", "KZ-CERT", "--country", "KZ")
    steppe.ok("org", "add", "KG-CERT", "--country", "KG")
    return steppe


def lake_rows(steppe: Steppe) -> list[dict[str, object]]:
    return [
        row
        for file in sorted((steppe.data_dir / "lake").rglob("*.parquet"))
        for row in pq.read_table(file, columns=["organisation", "event.dataset"]).to_pylist()
    ]


def test_a_folder_of_samples_lands_in_the_organisations_partitions(members: Steppe) -> None:
    out = members.ok("telemetry", "ingest", str(DATA / "suricata-eve"), "--org", "KZ-CERT")
    count = int(re.search(r"([\d,]+) events into the lake for KZ-CERT", out)[1].replace(",", ""))  # type: ignore[index]
    rows = lake_rows(members)
    assert count == len(rows) > 500
    assert {r["organisation"] for r in rows} == {1}
    assert {str(r["event.dataset"]).split(".")[0] for r in rows} == {"suricata"}
    assert "telemetry.ingest" in members.ok("audit", "list")


def test_bad_lines_are_reported_with_file_and_line_and_the_rest_lands(
    members: Steppe, tmp_path: Path
) -> None:
    log = tmp_path / "eve.json.gz"
    alerts = orjson.loads((DATA / "suricata-eve" / "wrccdc-2017" / "alerts-only.json").read_bytes())
    lines = [orjson.dumps(alert) for alert in alerts[:3]]
    log.write_bytes(gzip.compress(b"\n".join([lines[0], b"{broken", lines[1], lines[2]]) + b"\n"))
    code, out, err = members("telemetry", "ingest", str(log), "--org", "KG-CERT", "--format", "eve")
    assert code == 0, err
    assert f"skipped {log}:2:" in err
    assert "3 events into the lake for KG-CERT, 1 lines skipped" in out
    assert [r["organisation"] for r in lake_rows(members)] == [2, 2, 2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--org", "NOPE"), "NOPE"),
        (("--org", "KZ-CERT", "--format", "pcap"), "unknown format 'pcap'"),
    ],
)
def test_mistakes_are_one_line_errors(members: Steppe, args: tuple[str, ...], message: str) -> None:
    code, _out, err = members("telemetry", "ingest", str(DATA / "zeek-tsv"), *args)
    assert code == 1
    assert err.startswith("error:") and message in err
    assert len(err.strip().splitlines()) == 1
    assert lake_rows(members) == []


def test_a_missing_path_is_named(members: Steppe, tmp_path: Path) -> None:
    code, _out, err = members(
        "telemetry", "ingest", str(tmp_path / "nothing.log"), "--org", "KZ-CERT"
    )
    assert code == 1 and "nothing.log: no such file or folder" in err


def test_a_mapping_file_names_a_sensors_own_fields(members: Steppe, tmp_path: Path) -> None:
    mapping = tmp_path / "acme.json"
    mapping.write_bytes(
        orjson.dumps(
            {
                "dataset": "acme.proxy",
                "fields": {"source.ip": "client.addr", "url.full": "req.url"},
                "timestamp": "when",
                "timestamp_format": "epoch_ms",
            }
        )
    )
    log = tmp_path / "proxy.jsonl"
    log.write_bytes(
        orjson.dumps(
            {
                "when": 1764324000000,
                "client": {"addr": "10.0.0.9"},
                "req": {"url": "http://x.example/a"},
            }
        )
        + b"\n"
    )
    members.ok(
        "telemetry",
        "ingest",
        str(log),
        "--org",
        "KZ-CERT",
        "--format",
        "jsonl",
        "--mapping",
        str(mapping),
    )
    (row,) = [
        r
        for file in (members.data_dir / "lake").rglob("*.parquet")
        for r in pq.read_table(file, columns=["source.ip", "url.full", "event.dataset"]).to_pylist()
    ]
    assert row == {
        "source.ip": "10.0.0.9",
        "url.full": "http://x.example/a",
        "event.dataset": "acme.proxy",
    }

    code, _out, err = members(
        "telemetry",
        "ingest",
        str(log),
        "--org",
        "KZ-CERT",
        "--mapping",
        str(tmp_path / "none.json"),
    )
    assert code == 1 and err.startswith("error: field mapping") and "none.json" in err
