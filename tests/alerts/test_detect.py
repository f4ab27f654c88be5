"""Streaming detection (IOC and Sigma on the broker's batches) and the lake retro-hunt."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from alert_world import NOW, dns
from helpers import indicator
from intel_world import World
from steppe.alerts import detect
from steppe.alerts.detect import DetectReport, StreamingDetector, detect_lake, retro_hunt
from steppe.alerts.queries import list_alerts
from steppe.detection.ioc import build_index
from steppe.detection.sigma.store import RuleStore
from steppe.ingest.telemetry.formats import parse_bytes_batched
from steppe.ingest.telemetry.intake import TelemetryIntake
from steppe.lake import EventLake
from steppe.sharing.model import Distribution
from steppe.storage import timestamps
from steppe.storage.schema import alerts
from steppe.workers.broker import InProcessBroker, telemetry_subject

RULE = """title: Evil binary
id: 9c7a1f0e-2b3c-4d5e-8f90-a1b2c3d4e5f6
level: high
logsource: {product: windows, category: process_creation}
detection: {sel: {Image|endswith: '\\\\evil.exe'}, condition: sel}
"""


def _sysmon(image: str) -> dict[str, object]:
    raw = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
           "Provider_Name": "Microsoft-Windows-Sysmon", "Image": image}  # fmt: skip
    return {"event.module": "windows", "@timestamp": timestamps.now(), "raw": raw}


def test_the_stream_stores_ioc_and_sigma_alerts(world: World, tmp_path: Path) -> None:
    now = timestamps.now()
    fresh = indicator("fresh.example", created=now, modified=now, valid_from=now, confidence=80)
    world.load("kz", fresh)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "evil.yml").write_text(RULE)
    broker = InProcessBroker()
    detector = StreamingDetector(world.engine, world.trail, broker, retro_days=0,
                                 rules=RuleStore([tmp_path / "rules"]))  # fmt: skip
    detector.start()
    try:
        kg = world.orgs["kg"].id
        batch = [dns("www.fresh.example", 1), _sysmon("C:\\tmp\\evil.exe"), _sysmon("C:\\ok.exe")]
        broker.publish(telemetry_subject(kg), orjson.dumps(batch))
        broker.publish(telemetry_subject(kg), orjson.dumps(batch))  # redelivered
        broker.drain()
    finally:
        detector.stop()
        broker.close()
    with world.engine.connect() as conn:
        page = list_alerts(conn, world.actors["bek"])
    assert sorted((a.kind, a.indicator or a.rule_id) for a in page.items) == [
        ("ioc", fresh["id"]),
        ("sigma", "9c7a1f0e-2b3c-4d5e-8f90-a1b2c3d4e5f6"),
    ]


def test_the_stream_without_rules_matches_iocs_of_what_each_member_may_see(
    world: World,
) -> None:
    """IOC-only streaming parses in full only the events that may hit (JsonEventMatcher);
    a group-only indicator alerts its group's member, never a member outside it."""
    now = timestamps.now()
    fresh = {"created": now, "modified": now, "valid_from": now, "confidence": 80}
    group_only = indicator("csto.example", **fresh)
    world.load("kz", group_only, distribution=Distribution.GROUPS)
    broker = InProcessBroker()
    detector = StreamingDetector(world.engine, world.trail, broker, retro_days=0)
    detector.start()
    try:
        batch = [dns("www.csto.example", 1), dns("benign.test", 2), dns("CSTO.example", 3)]
        for org in ("kg", "uz"):
            broker.publish(telemetry_subject(world.orgs[org].id), orjson.dumps(batch))
        broker.drain()
    finally:
        detector.stop()
        broker.close()
    assert detector.alerts == 1  # kg's two hits aggregate into one alert; uz: none
    with world.engine.connect() as conn:
        bek = list_alerts(conn, world.actors["bek"]).items
        uzi = list_alerts(conn, world.actors["uzi"]).items
    assert [(a.kind, a.indicator) for a in bek] == [("ioc", group_only["id"])]
    assert uzi == []


def test_retro_hunt_finds_new_intel_in_the_recent_lake(world: World, tmp_path: Path) -> None:
    lake = EventLake(tmp_path / "lake")
    lake.start(background=False)
    lake.accept(world.orgs["uz"].id, [dns("a.late.example", 1) | {"@timestamp": timestamps.now()}])
    lake.close()
    now = timestamps.now()
    late = indicator("late.example", created=now, modified=now, valid_from=now)
    world.load("kz", late)
    report = retro_hunt(world.engine, world.trail, tmp_path / "lake", [late["id"]], days=30)
    assert (report.events, report.new) == (1, 1)
    again = retro_hunt(world.engine, world.trail, tmp_path / "lake", [late["id"]], days=30)
    assert (again.new, again.duplicates) == (0, 1)
    with world.engine.connect() as conn:
        assert conn.scalar(select(alerts.c.org_id)) == world.orgs["uz"].id


def test_retro_hunt_reads_no_intel_without_a_lake_day_in_the_window(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The streaming detector retro-hunts after every refresh; with no lake day in the
    window there is nothing to hunt in, and the indicators are not read a second time."""
    lake = EventLake(tmp_path / "lake")
    lake.start(background=False)
    lake.accept(world.orgs["uz"].id, [dns("a.late.example", 1)])  # January: out of the window
    lake.close()
    now = timestamps.now()
    late = indicator("late.example", created=now, modified=now, valid_from=now)
    world.load("kz", late)

    def read(*args: object) -> None:
        raise AssertionError("the indicators were read")

    monkeypatch.setattr(detect, "refresh", read)
    for root in (tmp_path / "lake", tmp_path / "no-lake"):
        report = retro_hunt(world.engine, world.trail, root, [late["id"]], days=30)
        assert report == DetectReport()


def test_detect_lake_matches_column_slices_since_the_cutoff_for_each_member(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One row group per slice, so every slice is screened and read on its own.
    monkeypatch.setattr(detect, "_SCREEN_ROWS", 1)
    lake = EventLake(tmp_path / "lake")
    lake.start(background=False)
    for org in ("kg", "uz"):
        for n in range(4):  # n = 0, 1 before the cutoff; 2, 3 after it
            lake.accept(world.orgs[org].id, [dns(f"c{n}.evil.example", n), dns("benign.test", n)])
    lake.close()
    with world.engine.connect() as conn:
        index = build_index(conn, NOW)
    report = detect_lake(world.engine, world.trail, tmp_path / "lake", index,
                         since="2026-01-09T10:00:02.000000Z", now=NOW)  # fmt: skip
    # Two events hit; both are KG's, on one host within the hour: one aggregated alert.
    assert (report.events, report.events_hit, report.new) == (8, 2, 1)
    with world.engine.connect() as conn:
        found = conn.execute(
            select(alerts.c.org_id, alerts.c.observed, alerts.c.count, alerts.c.event)
        ).all()
    # KG is in the group the evil.example indicator is shared with; UZ is not: nothing.
    assert [(org, observed, count) for org, observed, count, _ in found] == [
        (world.orgs["kg"].id, "c2.evil.example", 2),
    ]
    assert all(orjson.loads(event)["raw"] for *_, event in found)  # the whole event


@pytest.mark.parametrize("handed", ["as an Arrow record", "as rows, the body spooled"])
def test_the_stream_matches_eve_batches_sent_as_arrow(
    world: World, tmp_path: Path, handed: str
) -> None:
    now = timestamps.now()
    fresh = indicator("fresh.example", created=now, modified=now, valid_from=now, confidence=80)
    world.load("kz", fresh)
    broker = InProcessBroker()
    detector = StreamingDetector(world.engine, world.trail, broker, retro_days=0)
    detector.start()
    kg = world.orgs["kg"].id
    lines = [
        {"timestamp": "2026-11-28T10:00:00.000000+0000", "event_type": "dns", "src_ip": f"10.0.0.{i}",
         "dns": {"rrname": "www.fresh.example" if i == 7 else f"host{i}.example", "rrtype": "A"}}
        for i in range(100)
    ]  # fmt: skip
    try:
        with EventLake(tmp_path / "lake") as lake:
            intake = TelemetryIntake(lake, broker)
            body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
            if handed.startswith("as rows"):
                report = intake.ingest_request(kg, body, "eve")
            else:
                report = intake.ingest_body(kg, parse_bytes_batched(body, "eve", "body"))
            broker.drain()
    finally:
        detector.stop()
        broker.close()
    assert report.events == 100
    with world.engine.connect() as conn:
        page = list_alerts(conn, world.actors["bek"])
    assert [(a.kind, a.indicator) for a in page.items] == [("ioc", fresh["id"])]
    assert detector.alerts == 1
