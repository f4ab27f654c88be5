"""RPZ trigger names: the IPv4 fast path names what ``ipaddress`` would."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from steppe.response.exports.network import rpz_ip_name


def _by_ipaddress(value: str) -> str:
    network = ipaddress.ip_network(value, strict=False)
    if network.version == 4:
        labels = str(network.network_address).split(".")
    else:
        labels = [f"{int(g, 16):x}" for g in network.network_address.exploded.split(":")]
    return f"{network.prefixlen}.{'.'.join(reversed(labels))}.rpz-ip"


@given(st.ip_addresses())
def test_rpz_ip_name_agrees_with_ipaddress(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    assert rpz_ip_name(str(address)) == _by_ipaddress(str(address))


def test_rpz_ip_name_of_networks() -> None:
    assert rpz_ip_name("198.51.100.7") == "32.7.100.51.198.rpz-ip"
    assert rpz_ip_name("192.0.2.0/24") == "24.0.2.0.192.rpz-ip"
