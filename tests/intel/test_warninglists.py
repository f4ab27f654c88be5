"""Warninglists: known-benign values are flagged with the list's name and not matched."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from helpers import indicator
from intel_world import World, build_world
from steppe.audit.trail import AuditTrail
from steppe.intel.config import IntelConfig
from steppe.intel.observables import ObservableType
from steppe.intel.queries import get_stored
from steppe.intel.warninglists import WarninglistIndex, flag
from steppe.storage.schema import observables

PUBLIC_DNS = "List of known IPv4 public DNS resolvers"
GOOGLE = "List of known google domains"


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> World:
    return build_world(engine, trail)


def test_known_values_are_flagged_with_the_list_name() -> None:
    hits = flag(
        [
            (ObservableType.IPV4, "8.8.8.8"),
            (ObservableType.DOMAIN, "google.com"),
            (ObservableType.DOMAIN, "mail.google.com"),
            (ObservableType.IPV4, "10.1.2.3"),
            (ObservableType.CIDR, "192.168.0.0/24"),
            (ObservableType.MD5, "d41d8cd98f00b204e9800998ecf8427e"),  # the empty file
            (ObservableType.URL, "https://google.com/"),
            (ObservableType.IPV4, "91.92.93.94"),
            (ObservableType.URL, "https://docs.google.com/forms/d/phish"),
        ]
    )
    assert PUBLIC_DNS in hits[(ObservableType.IPV4, "8.8.8.8")]
    assert GOOGLE in hits[(ObservableType.DOMAIN, "google.com")]
    assert GOOGLE in hits[(ObservableType.DOMAIN, "mail.google.com")]
    assert "List of RFC 1918 CIDR blocks" in hits[(ObservableType.IPV4, "10.1.2.3")]
    assert "List of RFC 1918 CIDR blocks" in hits[(ObservableType.CIDR, "192.168.0.0/24")]
    assert (
        "List of known hashes for empty files"
        in hits[(ObservableType.MD5, "d41d8cd98f00b204e9800998ecf8427e")]
    )
    assert GOOGLE in hits[(ObservableType.URL, "https://google.com/")]
    assert (ObservableType.IPV4, "91.92.93.94") not in hits
    # a path on a benign host is specific: a phishing form stays matchable
    assert (ObservableType.URL, "https://docs.google.com/forms/d/phish") not in hits


def _url_lists_by_urlsplit(index: WarninglistIndex, url: str) -> tuple[str, ...]:
    """The URL rule as it was written first: urlsplit finds the host of a bare URL."""
    found = index.exact.get((ObservableType.URL, url), ())
    parts = urlsplit(url)
    if parts.path in ("", "/") and not parts.query and parts.hostname:
        found += tuple(n for n in index._domain(parts.hostname) if n not in found)
    return found


@settings(max_examples=500, deadline=None)
@given(
    st.tuples(
        st.sampled_from(["http", "https", "ftp", "hxxp", "HTTP"]),
        st.sampled_from(["google.com", "docs.google.com", "evil.example", "1.1.1.1", "a.co.uk"])
        | st.from_regex(r"[a-z0-9._-]{0,12}", fullmatch=True),
        st.sampled_from(["", "/", "/?", "/?q", "/a", "/#x", "/?#", ":443/", "/ ", "/\t"])
        | st.from_regex(r"(/[!-~]{0,8})?", fullmatch=True),
    ).map("".join)
    | st.sampled_from(["https://user@google.com/", "https://[::1]/", "http://google.com"])
)
def test_url_host_rule_agrees_with_urlsplit(url: str) -> None:
    index = WarninglistIndex.load()
    assert index.check(ObservableType.URL, url) == _url_lists_by_urlsplit(index, url)


def test_subdomains_of_a_public_suffix_are_other_registrants() -> None:
    hits = flag([(ObservableType.DOMAIN, "evil.duckdns.org"), (ObservableType.DOMAIN, "x.co.uk")])
    assert hits == {}


def test_a_disabled_list_no_longer_flags() -> None:
    index = WarninglistIndex.load(["public-dns-v4", "vpn-ipv4"])
    assert PUBLIC_DNS not in index.check(ObservableType.IPV4, "8.8.8.8")
    assert "public-dns-v4" not in index.keys
    assert PUBLIC_DNS in WarninglistIndex.load().check(ObservableType.IPV4, "8.8.8.8")


def test_indicator_whose_every_value_is_listed_is_not_matchable(world: World) -> None:
    only_benign = indicator("8.8.8.8", "ipv4-addr:value")
    mixed = indicator(
        "x", pattern="[ipv4-addr:value = '8.8.8.8'] OR [ipv4-addr:value = '91.92.93.94']"
    )
    google = indicator("google.com")
    report = world.load("kz", only_benign, mixed, google)
    assert (report.matchable, report.not_matchable, report.warninglisted) == (1, 2, 2)
    ana = world.actors["ana"]
    with world.engine.connect() as conn:
        stored = get_stored(conn, ana, only_benign["id"])
        assert stored.matchable is False
        assert stored.pattern_note is not None and PUBLIC_DNS in stored.pattern_note
        assert get_stored(conn, ana, mixed["id"]).matchable is True
        assert get_stored(conn, ana, google["id"]).matchable is False
        flagged = dict(conn.execute(select(observables.c.value, observables.c.warninglists)).all())
    assert PUBLIC_DNS in flagged["8.8.8.8"].split("\n")
    assert flagged["91.92.93.94"] is None


def test_disabling_the_lists_keeps_indicators_matchable(world: World) -> None:
    config = IntelConfig(warninglists_disabled=frozenset({"public-dns-v4", "vpn-ipv4"}))
    report = world.load("kz", indicator("8.8.8.8", "ipv4-addr:value"), config=config)
    assert (report.matchable, report.warninglisted) == (1, 0)
