"""Listener configuration: endpoints, CIDR mappings and the organisation router."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from steppe.errors import InputError
from steppe.ingest.telemetry.syslog_config import (
    ListenerConfig,
    OrganisationRouter,
    parse_endpoint,
    parse_mapping,
)
from steppe.settings import Settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.1.2.3", 2), ("10.1.9.9", 3), ("::ffff:10.1.9.9", 3), ("2001:db8::1", 4), ("x", 1)],
)
def test_router_takes_the_longest_prefix(text: str, expected: int) -> None:
    router = OrganisationRouter(
        1,
        [
            (ip_network("10.1.0.0/16"), 3),
            (ip_network("10.1.2.0/24"), 2),
            (ip_network("2001:db8::/32"), 4),
        ],
    )
    assert router.organisation_for(text) == expected


def test_router_cache_stays_bounded_under_many_senders() -> None:
    router = OrganisationRouter(1, [(ip_network("10.0.0.0/8"), 2)])
    for i in range(OrganisationRouter._CACHE_LIMIT + 10):
        router.organisation_for(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    assert len(router._cache) <= OrganisationRouter._CACHE_LIMIT
    assert router.organisation_for("10.9.9.9") == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0:514", ("0.0.0.0", 514)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::]:6514", ("::", 6514)),
        (":514", ("0.0.0.0", 514)),
        ("syslog.example:1514", ("syslog.example", 1514)),
    ],
)
def test_endpoints(text: str, expected: tuple[str, int]) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize("text", ["514x", "host", "host:", "host:70000", "host:-1"])
def test_bad_endpoints(text: str) -> None:
    with pytest.raises(InputError, match="HOST:PORT"):
        parse_endpoint(text, "--udp")


def test_mappings() -> None:
    assert parse_mapping(" 2001:db8::/32 = UZ-CERT ") == (ip_network("2001:db8::/32"), "UZ-CERT")
    with pytest.raises(InputError, match="host bits"):
        parse_mapping("10.1.0.1/16=KZ-CERT")
    with pytest.raises(InputError, match="CIDR=ORGANISATION"):
        parse_mapping("10.1.0.0/16=")


def test_config_from_settings() -> None:
    settings = Settings(syslog_queue_messages=123, syslog_tcp_max_stall_seconds=2.5)
    config = ListenerConfig.from_settings(settings, udp=(("0.0.0.0", 514),))
    assert (config.queue_messages, config.tcp_max_stall, config.udp) == (
        123,
        2.5,
        (("0.0.0.0", 514),),
    )
