"""Cursors: export, change the store, export since the cursor — adds and removes only."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine

from export_world import export, ioc
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.errors import InputError
from steppe.response.blocklists import add_to_blocklist, remove_from_blocklist
from steppe.response.exports import ExportOptions, decode_cursor
from steppe.sharing.model import Distribution, TlpLevel
from steppe.storage import timestamps


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> World:
    return build_world(engine, trail)


def _csv(
    world: World, user: str, since: str | None = None, **options: object
) -> tuple[list[tuple[str, str]], str, bool]:
    with world.engine.connect() as conn:
        data, cursor, incremental = export(
            conn,
            world.actor(user),
            "csv",
            ExportOptions(**options),
            since,  # type: ignore[arg-type]
        )
    rows = [(r["action"], r["value"]) for r in csv.DictReader(io.StringIO(data.decode()))]
    return rows, cursor, incremental


def _later(obj: dict[str, object]) -> str:
    moment = timestamps.parse(timestamps.normalise(str(obj["modified"]))) + timedelta(seconds=1)
    return timestamps.format_ts(moment)[:23] + "Z"


def _revoke(world: World, org: str, obj: dict[str, object]) -> None:
    world.load(org, dict(obj, revoked=True, modified=_later(obj)))


def test_cursor_round_trip_add_revoke_unshare(world: World) -> None:
    keep, gone, narrowed = (
        ioc("domain", "keep.example"),
        ioc("domain", "gone.example"),
        ioc("ipv4", "45.133.1.1"),
    )
    world.load("kz", keep, gone, narrowed)
    full, cursor, incremental = _csv(world, "bek")
    assert not incremental
    assert full == [("add", "gone.example"), ("add", "keep.example"), ("add", "45.133.1.1")]

    assert _csv(world, "bek", cursor)[0] == []  # nothing changed

    world.load("kz", ioc("domain", "new.example"))
    _revoke(world, "kz", gone)
    # A new version marked for KZ-CERT only: BEK may no longer see it.
    world.load(
        "kz",
        dict(narrowed, modified=_later(narrowed)),
        distribution=Distribution.ORGANISATION,
    )
    world.load("uz", ioc("domain", "secret.example"), distribution=Distribution.ORGANISATION)
    changes, cursor2, incremental = _csv(world, "bek", cursor)
    assert incremental
    assert changes == [
        ("remove", "gone.example"),
        ("add", "new.example"),
        ("remove", "45.133.1.1"),
    ]
    assert _csv(world, "bek", cursor2)[0] == []
    # KZ-CERT still sees its narrowed indicator: no removal for it.
    kz_changes = _csv(world, "ana", _csv(world, "ana")[1])[0]
    assert kz_changes == []


def test_a_value_still_carried_by_another_indicator_is_not_removed(world: World) -> None:
    first = ioc("domain", "shared.example")
    world.load("kz", first)
    world.load("kg", ioc("domain", "shared.example"))
    _, cursor, _ = _csv(world, "ana")
    _revoke(world, "kz", first)
    assert _csv(world, "ana", cursor)[0] == []  # KG-CERT's copy still carries it


def test_other_options_or_formats_fall_back_to_a_full_export(world: World) -> None:
    world.load("kz", ioc("domain", "a.example"))
    _, cursor, _ = _csv(world, "ana")
    rows, _, incremental = _csv(world, "ana", cursor, max_tlp=TlpLevel.RED)
    assert not incremental and rows == [("add", "a.example")]
    with world.engine.connect() as conn:
        _, _, incremental = export(conn, world.actor("ana"), "rpz", since=cursor)
    assert not incremental  # an RPZ zone cannot say "remove": always full


def test_blocklist_changes_show_in_an_incremental_export(world: World) -> None:
    a, b = ioc("domain", "a.example"), ioc("domain", "b.example")
    world.load("kz", a, b)
    actor = world.actor("ana")
    with world.engine.begin() as conn:
        add_to_blocklist(conn, world.trail, actor, "edge", [a["id"]], "phishing")
    rows, cursor, _ = _csv(world, "ana", blocklist="edge")
    assert rows == [("add", "a.example")]
    with world.engine.begin() as conn:
        add_to_blocklist(conn, world.trail, actor, "edge", [b["id"]])
        remove_from_blocklist(conn, world.trail, actor, "edge", [a["id"]])
    rows, _, incremental = _csv(world, "ana", cursor, blocklist="edge")
    assert incremental
    assert rows == [("remove", "a.example"), ("add", "b.example")]


def test_nft_incremental_file_applies_on_any_prior_state(world: World, tmp_path: Path) -> None:
    nft = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    if nft is None:
        pytest.skip("nft is not installed (scripts/test.sh installs it on Debian)")
    old = ioc("ipv4", "45.133.1.1")
    world.load("kz", old)
    with world.engine.connect() as conn:
        _, cursor, _ = export(conn, world.actor("ana"), "nft")
    _revoke(world, "kz", old)
    world.load("kz", ioc("ipv6", "2a0b:f4c2::9"))
    with world.engine.connect() as conn:
        data, _, incremental = export(conn, world.actor("ana"), "nft", since=cursor)
    assert incremental
    text = data.decode()
    assert "delete element inet steppe blocklist_v4 { 45.133.1.1 }" in text
    assert "add element inet steppe blocklist_v6 { 2a0b:f4c2::9 }" in text
    assert "flush set" not in text
    path = tmp_path / "inc.nft"
    path.write_bytes(data)
    checked = subprocess.run(
        [nft, "-c", "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def test_stix_incremental_revokes_removed_values(world: World) -> None:
    old = ioc("domain", "old.example")
    world.load("kz", old)
    with world.engine.connect() as conn:
        first, cursor, _ = export(conn, world.actor("ana"), "stix")
    _revoke(world, "kz", old)
    with world.engine.connect() as conn:
        data, _, _ = export(conn, world.actor("ana"), "stix", since=cursor)
    before = [o for o in orjson.loads(first)["objects"] if o["type"] == "indicator"]
    after = [o for o in orjson.loads(data)["objects"] if o["type"] == "indicator"]
    assert [o["id"] for o in after] == [o["id"] for o in before]
    assert after[0]["revoked"] is True and after[0]["modified"] > before[0]["modified"]


@pytest.mark.parametrize("text", ["nope", "c1.!!!", "c1.eyJ0IjoxfQ", "c1." + "A" * 300])
def test_a_bad_cursor_is_refused_with_its_field(text: str) -> None:
    with pytest.raises(InputError) as err:
        decode_cursor(text)
    assert err.value.field == "since"
