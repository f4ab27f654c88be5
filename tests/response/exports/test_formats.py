"""Every export format, produced for a member and accepted by its checker.

The real tools check what Debian ships (``nft -c -f``, ``named-checkzone``; scripts/
test.sh installs them); Suricata and Snort rules are parsed by suricataparser and
idstools; the Zeek file by a reader of Zeek's ASCII format; the STIX bundle by the OASIS
validator.
"""

from __future__ import annotations

import base64
import csv
import io
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import idstools.rule
import orjson
import pytest
import suricataparser
from sqlalchemy import Engine
from stix2validator import ValidationOptions, validate_string

from export_world import SAMPLES, every_type, export
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.response.exports import ExportOptions, iter_entries, registered_exporters
from steppe.response.exports.base import ExportContext
from steppe.storage import timestamps

EXPORTABLE = set(SAMPLES.values())


@pytest.fixture
def world(sqlite_engine: Engine, trail: AuditTrail) -> World:
    w = build_world(sqlite_engine, trail)
    every_type(w)
    return w


def _export(world: World, fmt: str) -> bytes:
    with world.engine.connect() as conn:
        data, _, _ = export(conn, world.actors["ana"], fmt)
    return data


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        pytest.skip(f"{name} is not installed (scripts/test.sh installs it on Debian)")
    return found


def test_every_built_in_format_is_registered() -> None:
    assert set(registered_exporters()) == {
        "csv",
        "nft",
        "rpz",
        "snort",
        "stix",
        "suricata",
        "suricata-datasets",
        "zeek",
    }


def test_nft_file_is_accepted_by_nft(world: World, tmp_path: Path) -> None:
    data = _export(world, "nft")
    path = tmp_path / "steppe.nft"
    path.write_bytes(data)
    checked = subprocess.run(
        [_tool("nft"), "-c", "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    text = data.decode()
    assert "add element inet steppe blocklist_v4 { 45.133.2.64/26, 45.133.1.7 }" in text
    assert "add element inet steppe blocklist_v6 { 2a0b:f4c2::7 }" in text
    assert "evil.example" not in text  # nft would resolve a name: only addresses go in


def test_rpz_zone_is_accepted_by_named_checkzone(world: World, tmp_path: Path) -> None:
    data = _export(world, "rpz")
    path = tmp_path / "steppe.zone"
    path.write_bytes(data)
    checked = subprocess.run(
        [_tool("named-checkzone"), "rpz.steppe", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = data.decode().splitlines()
    assert "evil.example CNAME ." in lines
    assert "*.evil.example CNAME ." in lines
    assert "32.7.1.133.45.rpz-ip CNAME ." in lines
    assert "26.64.2.133.45.rpz-ip CNAME ." in lines
    assert "128.7.0.0.0.0.0.f4c2.2a0b.rpz-ip CNAME ." in lines


def test_suricata_rules_all_parse_with_unique_sids(world: World) -> None:
    text = _export(world, "suricata").decode()
    rules = [suricataparser.parse_rule(line) for line in text.splitlines() if line.strip()]
    rules = [r for r in rules if r is not None]
    sids = [r.sid for r in rules]
    assert len(sids) == len(set(sids)) == 6  # ip, ipv6, cidr, dns + tls, url
    assert all(sid > 1_000_000_000 for sid in sids)
    dns = next(r for r in rules if r.header.startswith("dns "))
    assert 'content:".evil.example"' in dns.raw and "endswith" in dns.raw
    url = next(r for r in rules if r.header.startswith("http "))
    # The URL's quote and semicolons are hex, so they cannot end the option.
    assert '"/dl?x=1|3B|y=|3D|' not in url.raw
    assert "|3B|" in url.raw and "|22|" in url.raw
    assert "# 1 email value(s) have no rule" in text


def test_suricata_sids_are_stable_across_exports(world: World) -> None:
    assert (
        _export(world, "suricata").splitlines()[2:] == _export(world, "suricata").splitlines()[2:]
    )


def test_snort_rules_all_parse(world: World) -> None:
    text = _export(world, "snort").decode()
    rules = [idstools.rule.parse(line) for line in text.splitlines() if line.strip()]
    rules = [r for r in rules if r is not None]
    assert len(rules) == 5
    dns = next(r for r in rules if "53" in r.header)
    assert '"|04|evil|07|example|00|"' in dns.raw
    assert all(r.sid and r.msg.startswith("Steppe IOC") for r in rules)


def test_suricata_datasets_archive(world: World) -> None:
    archive = zipfile.ZipFile(io.BytesIO(_export(world, "suricata-datasets")))
    names = set(archive.namelist())
    assert names == {
        "steppe-domains.lst",
        "steppe-ip.lst",
        "steppe-md5.lst",
        "steppe-sha1.lst",
        "steppe-sha256.lst",
        "steppe-datasets.rules",
    }
    domains = archive.read("steppe-domains.lst").decode().split()
    assert [base64.b64decode(d).decode() for d in domains] == ["evil.example"]
    assert archive.read("steppe-ip.lst").decode().split() == ["45.133.1.7", "2a0b:f4c2::7"]
    rules_text = archive.read("steppe-datasets.rules").decode()
    rules = [suricataparser.parse_rule(x) for x in rules_text.splitlines() if x.strip()]
    rules = [r for r in rules if r is not None]
    assert len(rules) == 7
    assert any("dataset:isset,steppe-ip,type ip,load steppe-ip.lst" in r.raw for r in rules)


def test_suricata_datasets_archive_is_the_same_for_the_same_snapshot(world: World) -> None:
    """Its files are dated at the export's snapshot, not at the clock, so exporting the
    same snapshot twice gives the same bytes (a device can tell nothing changed)."""
    exporter = registered_exporters()["suricata-datasets"]
    context = ExportContext("2026-03-04T05:06:07.000000Z", "cursor", False, "KZ-CERT")
    with world.engine.connect() as conn:
        entries = list(iter_entries(conn, world.actors["ana"], ExportOptions(), timestamps.now()))
    first = b"".join(exporter(context).render(("add", e) for e in entries))
    time.sleep(2.1)  # the ZIP format's clock has two-second steps
    assert b"".join(exporter(context).render(("add", e) for e in entries)) == first
    for info in zipfile.ZipFile(io.BytesIO(first)).infolist():
        assert info.date_time == (2026, 3, 4, 5, 6, 6)  # ZIP times are even seconds


def _read_zeek(text: str) -> list[dict[str, str]]:
    """Zeek's ASCII reader: '#fields' names the tab-separated columns, '#' lines skip."""
    fields: list[str] = []
    rows = []
    for line in text.splitlines():
        if line.startswith("#fields\t"):
            fields = line.split("\t")[1:]
        elif line.startswith("#") or not line:
            continue
        else:
            values = line.split("\t")
            assert len(values) == len(fields), line
            rows.append(dict(zip(fields, values, strict=True)))
    return rows


def test_zeek_intel_file_has_zeek_fields_and_types(world: World) -> None:
    text = _export(world, "zeek").decode()
    assert text.startswith("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n")
    rows = _read_zeek(text)
    kinds = {r["indicator"]: r["indicator_type"] for r in rows}
    assert kinds == {
        "45.133.1.7": "Intel::ADDR",
        "2a0b:f4c2::7": "Intel::ADDR",
        "45.133.2.64/26": "Intel::SUBNET",
        "evil.example": "Intel::DOMAIN",
        'evil.example/dl?x=1;y="2"': "Intel::URL",
        "boss@evil.example": "Intel::EMAIL",
        SAMPLES["md5"]: "Intel::FILE_HASH",
        SAMPLES["sha1"]: "Intel::FILE_HASH",
        SAMPLES["sha256"]: "Intel::FILE_HASH",
    }
    assert {r["meta.source"] for r in rows} == {"steppe:KZ-CERT"}
    assert all("\t" not in r["meta.desc"] for r in rows)


def test_csv_has_every_value_once_in_stable_order(world: World) -> None:
    rows = list(csv.DictReader(io.StringIO(_export(world, "csv").decode())))
    assert [r["value"] for r in rows] == [SAMPLES[k] for k in sorted(SAMPLES)]
    assert {r["action"] for r in rows} == {"add"}
    assert {r["tlp"] for r in rows} == {"green"}


def test_stix_bundle_is_valid_stix(world: World) -> None:
    data = _export(world, "stix")
    doc = orjson.loads(data)
    indicators = [o for o in doc["objects"] if o["type"] == "indicator"]
    assert len(indicators) == len(SAMPLES)
    result = validate_string(data.decode(), ValidationOptions(version="2.1", strict=False))
    assert result.is_valid, [str(e) for e in result.errors]
