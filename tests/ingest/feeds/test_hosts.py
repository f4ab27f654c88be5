"""The feed host policy: where a feed URL may point, at add time and on every request."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from conftest import KEY
from feed_server import FeedServer, feed_server_fixture  # noqa: F401  (the fixture)
from steppe.audit.trail import AuditTrail
from steppe.federation.agreements import add_peer
from steppe.federation.client import TaxiiClient
from steppe.ingest.feeds.fetch import FetchLimits, fetch
from steppe.ingest.feeds.hosts import HostPolicy, HostRefused
from steppe.ingest.feeds.pull import pull_feed, register_feed
from steppe.intel.feeds import FeedFormat, FeedSpec, add_feed
from steppe.settings import Settings
from steppe.sharing import directory
from steppe.sharing.model import Distribution, OrgKind, TlpLevel
from steppe.storage.engine import writing

TRAIL = AuditTrail(KEY, "test")


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.0.0.5", "a private address"),
        ("172.16.3.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("169.254.169.254", "a link-local address (cloud metadata lives there)"),
        ("fe80::1", "a link-local address (cloud metadata lives there)"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("::ffff:10.1.2.3", "a private address"),  # IPv4-mapped: judged as the IPv4
        ("100.64.0.1", "a reserved address"),  # carrier-grade NAT
        ("8.8.8.8", None),
        ("2a00:1450:4001::1", None),
    ],
)
def test_only_public_addresses_by_default(address: str, why: str | None) -> None:
    assert HostPolicy().address_refusal(ipaddress.ip_address(address)) == why


def test_allowed_hosts_open_exact_addresses_and_blocks() -> None:
    policy = HostPolicy.from_entries(["127.0.0.1", "10.20.0.0/16", "[fd00::1]"])
    assert policy.check_host("127.0.0.1", 80) == ["127.0.0.1"]
    assert policy.check_host("10.20.9.9", 80) == ["10.20.9.9"]
    assert policy.check_host("[fd00::1]", 443) == ["fd00::1"]
    with pytest.raises(HostRefused, match=re.escape("host 127.0.0.2 is a loopback address")):
        policy.check_host("127.0.0.2", 80)
    with pytest.raises(
        HostRefused, match=re.escape("10.21.0.1 is a private address; allow it with")
    ):
        policy.check_host("10.21.0.1", 80)
    with pytest.raises(HostRefused, match=re.escape("STEPPE_FEED_ALLOWED_HOSTS")):
        HostPolicy.from_entries(["10.0.0.0/33"])


def test_a_name_is_refused_if_any_of_its_addresses_is() -> None:
    answers = {"mixed.example": ["93.184.216.34", "10.0.0.7"], "ok.example": ["93.184.216.34"]}
    policy = HostPolicy(resolver=lambda host, _port: answers[host])
    assert policy.check_host("ok.example", 443) == ["93.184.216.34"]
    with pytest.raises(HostRefused) as refused:
        policy.check_host("mixed.example", 443)
    assert str(refused.value) == (
        "feed URL host mixed.example (resolves to 10.0.0.7) is a private address; "
        "allow it with STEPPE_FEED_ALLOWED_HOSTS"
    )
    # A name on the allow-list may resolve anywhere (an internal mirror).
    mirror = HostPolicy.from_entries(["Mirror.Internal"], resolver=lambda _h, _p: ["10.9.9.9"])
    assert mirror.check_host("mirror.internal", 80) == ["10.9.9.9"]


def test_settings_take_comma_separated_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEPPE_FEED_ALLOWED_HOSTS", "127.0.0.1, 10.0.0.0/8 ,mirror.internal")
    monkeypatch.setenv("STEPPE_FEED_FILE_ROOTS", f"{tmp_path / 'a'},{tmp_path / 'b'}")
    settings = Settings(data_dir=tmp_path)
    assert settings.feed_allowed_hosts == ["127.0.0.1", "10.0.0.0/8", "mirror.internal"]
    assert settings.resolved_feed_file_roots() == [tmp_path / "a", tmp_path / "b"]
    monkeypatch.delenv("STEPPE_FEED_FILE_ROOTS")
    assert Settings(data_dir=tmp_path).resolved_feed_file_roots() == [tmp_path / "feeds"]


def test_file_feeds_only_under_the_allowed_folders(tmp_path: Path) -> None:
    root = tmp_path / "feeds"
    root.mkdir()
    (root / "list.txt").write_text("198.51.100.7\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for feeds\n")
    (root / "link.txt").symlink_to(secret)
    policy = HostPolicy.from_entries([], [root])
    limits = FetchLimits(hosts=policy)
    assert fetch((root / "list.txt").as_uri(), limits=limits).data == b"198.51.100.7\n"
    for url in (secret.as_uri(), (root / "link.txt").as_uri(), f"file://{root}/../secret.txt"):
        with pytest.raises(HostRefused, match=re.escape("outside the folders file feeds may read")):
            fetch(url, limits=limits)
    with pytest.raises(HostRefused, match=re.escape("STEPPE_FEED_FILE_ROOTS")):
        fetch((root / "list.txt").as_uri())  # the default policy allows no folder


def _org(engine: Engine) -> directory.Organisation:
    with writing(engine) as conn:
        return directory.add_organisation(conn, TRAIL, "Center", None, OrgKind.COORDINATOR)


def _spec(name: str, url: str, org: directory.Organisation) -> FeedSpec:
    return FeedSpec(name, url, FeedFormat.PLAIN, org, Distribution.COMMUNITY, TlpLevel.CLEAR)


def test_adding_a_feed_to_an_internal_address_is_refused(sqlite_engine: Engine) -> None:
    org = _org(sqlite_engine)
    for url, message in [
        ("http://10.0.0.5/list.txt", "feed URL host 10.0.0.5 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local"),
        ("http://[::1]:8080/x", "host ::1 is a loopback address"),
        ("http://localhost/x", "localhost (resolves to 127.0.0.1) is a loopback"),
        ("file:///etc/passwd", "file:///etc/passwd is outside the folders"),
    ]:
        with writing(sqlite_engine) as conn, pytest.raises(HostRefused, match=re.escape(message)):
            register_feed(conn, TRAIL, _spec("internal", url, org))
    with writing(sqlite_engine) as conn:  # allowed explicitly: added
        allowed = HostPolicy.from_entries(["10.0.0.0/8"])
        register_feed(conn, TRAIL, _spec("mirror", "http://10.0.0.5/list.txt", org), hosts=allowed)
        # A name that does not resolve now is checked when it is pulled.
        register_feed(conn, TRAIL, _spec("later", "https://feeds.invalid/x.txt", org))


def test_a_pull_checks_again_and_never_connects(
    sqlite_engine: Engine, feed_server: FeedServer
) -> None:
    feed_server.files["/list.txt"] = b"198.51.100.7\n"
    org = _org(sqlite_engine)
    with writing(sqlite_engine) as conn:  # stored without the add-time check (an old feed)
        add_feed(conn, TRAIL, _spec("loopback", feed_server.url("/list.txt"), org))
    result = pull_feed(sqlite_engine, TRAIL, "loopback")  # default policy
    assert result.status == "error"
    assert "host 127.0.0.1 is a loopback address; allow it with STEPPE_FEED_ALLOWED_HOSTS" in str(
        result.error
    )
    assert feed_server.requests == []


def test_redirects_are_checked_too(feed_server: FeedServer) -> None:
    feed_server.redirects["/meta"] = "http://169.254.169.254/latest/meta-data/iam/"
    limits = FetchLimits(hosts=HostPolicy.from_entries(["127.0.0.1"]))
    with pytest.raises(HostRefused, match=re.escape("169.254.169.254 is a link-local address")):
        fetch(feed_server.url("/meta"), limits=limits)


def test_the_request_goes_to_the_address_that_was_checked(feed_server: FeedServer) -> None:
    """DNS rebinding: the first answer is public, the second internal. The check and the
    connection use one resolution, so the internal answer is refused, never connected."""
    feed_server.files["/list.txt"] = b"198.51.100.7\n"
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    rebinding = HostPolicy(resolver=lambda _host, _port: next(answers))
    url = f"http://feeds.rebind.test:{feed_server.port}/list.txt"
    rebinding.check_url(url)  # at add time: a public address
    with pytest.raises(HostRefused, match=r"feeds.rebind.test \(resolves to 127.0.0.1\)"):
        fetch(url, limits=FetchLimits(hosts=rebinding))
    assert feed_server.requests == []

    # Allowed, a name resolved by the policy is connected to at the checked address
    # (this name resolves nowhere else).
    pinned = HostPolicy.from_entries(["127.0.0.1"], resolver=lambda _h, _p: ["127.0.0.1"])
    got = fetch(url, limits=FetchLimits(hosts=pinned))
    assert got.data == b"198.51.100.7\n"


def test_taxii_peers_and_clients_follow_the_policy(sqlite_engine: Engine) -> None:
    with writing(sqlite_engine) as conn:
        peer_org = directory.add_organisation(conn, TRAIL, "Node-X", None, OrgKind.PEER)
        with pytest.raises(HostRefused, match=re.escape("10.1.1.1 is a private address")):
            add_peer(
                conn, TRAIL, "node-x", peer_org, api_root="https://10.1.1.1/taxii2/",
                collection="federation", username="us", token="t",
            )  # fmt: skip
    with pytest.raises(HostRefused, match=re.escape("169.254.169.254 is a link-local address")):
        TaxiiClient("http://169.254.169.254/taxii2/", token="t")
