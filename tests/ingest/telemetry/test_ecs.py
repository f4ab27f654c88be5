"""Value normalisers: canonical IPs, ports, times, domains, hashes; bad values named."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from steppe.ingest.telemetry import ecs
from steppe.ingest.telemetry.ecs import FieldProblem
from steppe.ingest.telemetry.model import ECS_COLUMNS, ColumnKind
from steppe.storage.timestamps import format_ts


@given(seconds=st.integers(min_value=0, max_value=2**34), micros=st.integers(0, 999_999))
def test_epoch_text_gives_the_exact_microseconds(seconds: int, micros: int) -> None:
    expected = format_ts(datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros))
    assert ecs.epoch(f"{seconds}.{micros:06d}", "ts") == expected
    assert ecs.timestamp(f"{seconds}.{micros:06d}", "ts") == expected


@given(value=st.decimals(min_value=0, max_value=4_000_000_000, places=6))
def test_epoch_floats_agree_with_the_text(value: Decimal) -> None:
    text = f"{value:.6f}"
    assert ecs.epoch(float(text), "ts") == ecs.epoch(text, "ts")


def test_times_in_every_form() -> None:
    assert ecs.iso("2018-03-24T14:37:19.037299-0600", "t") == "2018-03-24T20:37:19.037299Z"
    assert ecs.iso("2025-11-27 07:40:10.132", "t") == "2025-11-27T07:40:10.132000Z"
    assert ecs.iso("2026-03-20T08:31:26.751156500Z", "t") == "2026-03-20T08:31:26.751156Z"
    assert ecs.epoch(1700000000, "t") == "2023-11-14T22:13:20.000000Z"
    for bad in ("yesterday", "", None, True, float("nan"), "1e400", "-"):
        with pytest.raises(FieldProblem) as caught:
            ecs.timestamp(bad, "ts")
        assert caught.value.field == "ts"


def test_ips_are_canonical_and_match_the_intel_side() -> None:
    from steppe.intel.observables import canonicalise

    for value in ("10.0.0.1", "2001:DB8:0::1", "::ffff:10.0.0.1", "fe80::1"):
        kind = "ipv4" if ":" not in value else "ipv6"
        assert ecs.ip(value, "source.ip") == canonicalise(kind, value)
    for bad in ("10.0.0.256", "", "example.com", 3232235777):
        with pytest.raises(FieldProblem, match="IP address"):
            ecs.ip(bad, "source.ip")


def test_integers_and_ports() -> None:
    assert ecs.integer("0x378", "ProcessId") == 888
    assert ecs.integer(7.0, "n") == 7
    assert ecs.port("65535", "p") == 65535
    for bad in (True, "eighty", 1.5, None, [80]):
        with pytest.raises(FieldProblem):
            ecs.integer(bad, "n")
    for bad in (-1, 65536):
        with pytest.raises(FieldProblem, match="out of range"):
            ecs.port(bad, "p")


def test_domains_hashes_and_text() -> None:
    assert ecs.domain("WWW.Example.COM.", "d") == "www.example.com"
    assert ecs.hashes("SHA1=AB, MD5=CD,SHA256=EF,IMPHASH=00,junk") == {
        "file.hash.sha1": "ab",
        "file.hash.md5": "cd",
        "file.hash.sha256": "ef",
    }
    assert ecs.text(5, "t") == "5"
    with pytest.raises(FieldProblem, match="expected text"):
        ecs.text({"a": 1}, "t")


def test_every_column_has_a_normaliser_of_its_kind() -> None:
    for name, kind in ECS_COLUMNS:
        normaliser = ecs.normaliser_for(name)
        if kind is ColumnKind.INT:
            assert normaliser in (ecs.integer, ecs.port)
        elif kind is ColumnKind.TIMESTAMP:
            assert normaliser is ecs.timestamp


@given(
    moment=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
    style=st.sampled_from(["basic", "extended", "z"]),
)
def test_the_cached_iso_path_agrees_with_datetime(
    moment: datetime, offset_minutes: int, style: str
) -> None:
    from datetime import timedelta, timezone

    zone = timezone(timedelta(minutes=0 if style == "z" else offset_minutes))
    local = moment.astimezone(zone)
    text = local.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if style == "z":
        text += "Z"
    else:
        sign = "-" if offset_minutes < 0 else "+"
        hours, minutes = divmod(abs(offset_minutes), 60)
        text += (
            f"{sign}{hours:02d}:{minutes:02d}"
            if style == "extended"
            else f"{sign}{hours:02d}{minutes:02d}"
        )
    assert ecs.iso(text, "t") == format_ts(moment)
    assert ecs.iso(text, "t") == format_ts(moment)  # again, from the cache


_STORED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


@given(
    text=st.one_of(
        st.text(max_size=40),
        st.from_regex(r"\A2026-01-02T03:04:..\.......(Z|[+-]\d\d:?\d\d)\Z"),
        st.from_regex(r"\A\d{1,11}(\.\w{0,8})?\Z"),
    )
)
@example(text="2026-01-02T03:04:05.\u0661\u0662\u0663Z")  # Arabic-Indic digits
@example(text="2026-01-02T03:04:0a.123456Z")
@example(text="1521911720.\u00b2")
def test_every_time_out_is_in_the_stored_form_or_a_problem(text: str) -> None:
    for normaliser in (ecs.iso, ecs.epoch, ecs.timestamp):
        try:
            out = normaliser(text, "t")
        except FieldProblem:
            continue
        assert _STORED.fullmatch(out), (text, out)


@given(
    octets=st.lists(st.integers(0, 300), min_size=3, max_size=5),
    zeros=st.lists(st.integers(0, 2), min_size=5, max_size=5),
    noise=st.sampled_from(["", " ", "\n", "x", "٣", "+"]),
)
@example(octets=[1, 2, 3, 4], zeros=[0, 0, 0, 0, 0], noise="\n")
@example(octets=[1, 2, 3, 4], zeros=[1, 0, 0, 0, 0], noise="")
def test_ipv4_fast_path_agrees_with_ipaddress(
    octets: list[int], zeros: list[int], noise: str
) -> None:
    """The hand-written IPv4 check accepts exactly what ipaddress does, unchanged."""
    import ipaddress

    text = ".".join("0" * pad + str(n) for n, pad in zip(octets, zeros, strict=False)) + noise
    try:
        expected: str | None = str(ipaddress.ip_address(text))
    except ValueError:
        expected = None
    ecs.IPS.clear()  # the cache would answer for a value seen before
    if expected is None:
        with pytest.raises(FieldProblem, match="IP address"):
            ecs.ip(text, "source.ip")
    else:
        assert ecs.ip(text, "source.ip") == expected
