"""What goes into an export: only what the member may see, active, under the TLP ceiling,
off warninglists — compared with the policy oracle on every indicator."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from export_world import export, ioc, recent
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.errors import InputError
from steppe.intel.scoring import DecayConfig, ScoreFacts, current_score
from steppe.intel.sightings import SightingType, record_sighting
from steppe.response.exports import EXPORTABLE_TYPES, ExportOptions, iter_entries
from steppe.response.exports.selection import _plain_score
from steppe.sharing.model import Distribution, ObjectRights, TlpLevel
from steppe.sharing.policy import can_see, check_marking
from steppe.storage import timestamps
from steppe.storage.schema import intel_objects, object_groups

ACTORS = ("root", "ana", "bek", "uzi")


def _values(world: World, user: str, options: ExportOptions | None = None) -> list[str]:
    with world.engine.connect() as conn:
        data, _, _ = export(conn, world.actor(user), "csv", options)
    return [row["value"] for row in csv.DictReader(io.StringIO(data.decode()))]


def _marked_world(world: World) -> dict[str, tuple[str, TlpLevel]]:
    """One domain indicator per owner × distribution × TLP the marking rules allow."""
    expected: dict[str, tuple[str, TlpLevel]] = {}
    n = 0
    for org, dist, tlp in itertools.product(
        ("kz", "kg", "uz", "center"), list(Distribution), list(TlpLevel)
    ):
        if dist is Distribution.GROUPS and org not in ("kz", "kg"):
            continue
        try:
            check_marking(dist, tlp, [world.group.id] if dist is Distribution.GROUPS else [])
        except Exception:
            continue
        n += 1
        domain = f"d{n}-{org}-{dist.value}-{tlp.value.replace('+', '-')}.example"
        world.load(org, ioc("domain", domain), distribution=dist, tlp=tlp)
        expected[domain] = (org, tlp)
    return expected


@pytest.mark.parametrize("max_tlp", [TlpLevel.AMBER, TlpLevel.RED])
def test_a_members_export_holds_exactly_what_can_see_allows(
    engine: Engine, trail: AuditTrail, max_tlp: TlpLevel
) -> None:
    world = build_world(engine, trail)
    domains = _marked_world(world)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                intel_objects.c.pk,
                intel_objects.c.name,
                intel_objects.c.owner_org_id,
                intel_objects.c.distribution,
                intel_objects.c.tlp,
            )
        ).all()
        groups = {
            pk: frozenset(g for p, g in conn.execute(select(object_groups)) if p == pk)
            for pk, *_ in rows
        }
    order = [t.value for t in (TlpLevel.CLEAR, TlpLevel.GREEN, TlpLevel.AMBER,
                               TlpLevel.AMBER_STRICT, TlpLevel.RED)]  # fmt: skip
    for user in ACTORS:
        actor = world.actor(user)
        allowed = {
            name.removeprefix("test ")
            for pk, name, owner, dist, tlp in rows
            if can_see(actor, ObjectRights(owner, Distribution(dist), TlpLevel(tlp), groups[pk]))
            and order.index(tlp) <= order.index(max_tlp.value)
        }
        got = _values(world, user, ExportOptions(max_tlp=max_tlp))
        assert set(got) == allowed, user
        assert got == sorted(got)  # stable order, each value once
    assert set(_values(world, "uzi", ExportOptions(max_tlp=TlpLevel.RED))) < set(domains)


def test_tlp_ceiling_defaults_to_amber(sqlite_engine: Engine, trail: AuditTrail) -> None:
    world = build_world(sqlite_engine, trail)
    for tlp in TlpLevel:
        world.load(
            "kz",
            ioc("domain", f"{tlp.value.replace('+', '-')}.example"),
            distribution=Distribution.ORGANISATION,
            tlp=tlp,
        )
    assert _values(world, "ana") == ["amber.example", "clear.example", "green.example"]
    strict = ExportOptions(max_tlp=TlpLevel.AMBER_STRICT)
    assert "amber-strict.example" in _values(world, "ana", strict)
    assert "red.example" in _values(world, "ana", ExportOptions(max_tlp=TlpLevel.RED))
    assert _values(world, "ana", ExportOptions(max_tlp=TlpLevel.CLEAR)) == ["clear.example"]


def test_inactive_and_warninglisted_values_stay_out(
    sqlite_engine: Engine, trail: AuditTrail
) -> None:
    world = build_world(sqlite_engine, trail)
    world.load(
        "kz",
        ioc("domain", "live.example"),
        ioc("domain", "revoked.example", revoked=True),
        ioc("domain", "over.example", valid_until=recent(0.5)),
        # Created two years ago: a domain's score has long decayed under the threshold.
        ioc(
            "domain",
            "old.example",
            created=recent(730),
            modified=recent(730),
            valid_from=recent(730),
        ),
        ioc("ipv4", "203.0.113.9"),  # TEST-NET-3: on a warninglist
    )
    assert _values(world, "ana") == ["live.example"]
    with_listed = _values(world, "ana", ExportOptions(include_warninglisted=True))
    assert with_listed == ["live.example", "203.0.113.9"]


def test_filters_by_type_and_confidence(sqlite_engine: Engine, trail: AuditTrail) -> None:
    world = build_world(sqlite_engine, trail)
    low = ioc("domain", "low.example")
    low["confidence"] = 20
    world.load("kz", low, ioc("domain", "high.example"), ioc("ipv4", "45.133.1.9"))
    assert _values(world, "ana", ExportOptions(types=("ipv4",))) == ["45.133.1.9"]
    assert _values(world, "ana", ExportOptions(min_confidence=50)) == [
        "high.example",
        "45.133.1.9",
    ]


def test_bad_options_are_named() -> None:
    with pytest.raises(InputError) as err:
        ExportOptions(types=("asn",))
    assert err.value.field == "types"
    with pytest.raises(InputError):
        ExportOptions(min_score=101)


@given(
    kind=st.sampled_from(EXPORTABLE_TYPES),
    confidence=st.one_of(st.none(), st.integers(0, 100)),
    age_days=st.floats(-10, 2000, allow_nan=False),
)
def test_the_plain_score_agrees_with_the_intel_model(
    kind: str, confidence: int | None, age_days: float
) -> None:
    now = "2026-11-28T00:00:00.000000Z"
    start = timestamps.format_ts(timestamps.parse(now) - timedelta(days=age_days))
    elapsed = (timestamps.parse(now) - timestamps.parse(start)).total_seconds()
    reference = current_score(ScoreFacts(confidence, start, (kind,)), now)
    model = DecayConfig()
    plain = _plain_score(model, model.parameters((kind,)), confidence, elapsed)
    assert (plain is None) == reference.expired
    if plain is not None:
        assert plain == reference.score


def test_an_expired_sighting_from_the_producer_ends_the_export_of_a_value(
    engine: Engine, trail: AuditTrail
) -> None:
    world = build_world(engine, trail)
    ended, kept = ioc("domain", "ended.example"), ioc("domain", "kept.example")
    world.load("kz", ended, kept)
    with engine.begin() as conn:
        record_sighting(conn, trail, world.actor("ana"), ended["id"], SightingType.EXPIRED)
        # A false positive from another member lowers the score, but not under 30.
        record_sighting(conn, trail, world.actor("bek"), kept["id"], SightingType.FALSE_POSITIVE)
    assert _values(world, "bek") == ["kept.example"]


def test_an_export_bounds_sqlites_sort_and_gives_the_cache_back(
    engine: Engine, trail: AuditTrail
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("a SQLite page-cache setting")
    world = build_world(engine, trail)
    world.load("kg", ioc("domain", "one.example"))
    world.load("kg", ioc("domain", "two.example"))
    with engine.connect() as conn:
        before = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        entries = iter_entries(conn, world.actor("ana"), ExportOptions(), timestamps.now())
        assert next(entries).value == "one.example"
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -16_384
        entries.close()  # a client that hung up half-way
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == before
        assert [
            e.value
            for e in iter_entries(conn, world.actor("ana"), ExportOptions(), timestamps.now())
        ] == ["one.example", "two.example"]
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == before


@pytest.mark.parametrize("fmt", ["csv", "stix"])
def test_an_indicator_of_several_types_decays_as_its_fastest_type(
    engine: Engine, trail: AuditTrail, fmt: str
) -> None:
    """45 days old: an IPv4 (30-day lifetime) has expired, a domain (90 days) has not.
    An indicator holding both decays as the IPv4, so neither of its values is exported;
    a domain-only indicator of the same age still is."""
    world = build_world(engine, trail)
    old = recent(45)
    both = ioc("domain", "mixed.example", created=old, modified=old, valid_from=old)
    both["pattern"] = "[domain-name:value = 'mixed.example'] OR [ipv4-addr:value = '203.0.113.7']"
    alone = ioc("domain", "alone.example", created=old, modified=old, valid_from=old)
    world.load("kz", both, alone)
    with world.engine.connect() as conn:
        data, _, _ = export(conn, world.actor("bek"), fmt)
    text = data.decode()
    assert "alone.example" in text
    assert "mixed.example" not in text and "203.0.113.7" not in text
