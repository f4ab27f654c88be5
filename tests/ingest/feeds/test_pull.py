"""Pulling feeds over HTTP (a local server) and from files: conditional requests,
recorded errors, bad rows reported with file and line, MISP feed folders."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from conftest import KEY
from feed_server import FeedServer, feed_server_fixture, local_limits  # noqa: F401  (the fixture)
from steppe.audit.trail import AuditTrail
from steppe.ingest.feeds.pull import pull_due, pull_feed
from steppe.intel.feeds import FeedFormat, FeedSpec, add_feed, find_feed
from steppe.sharing import directory
from steppe.sharing.model import Distribution, OrgKind, TlpLevel
from steppe.storage.engine import writing
from steppe.storage.schema import audit_log, feed_entries, intel_objects

ROOT = Path(__file__).resolve().parents[3]
FEEDS = ROOT / "tests" / "data" / "feeds"
TRAIL = AuditTrail(KEY, "test")
LIMITS = local_limits()  # this test server and tmp_path are allowed explicitly


def _add(engine: Engine, name: str, url: str, fmt: FeedFormat, **extra: object) -> None:
    with writing(engine) as conn:
        try:
            org = directory.find_organisation(conn, "Center")
        except Exception:
            org = directory.add_organisation(conn, TRAIL, "Center", None, OrgKind.COORDINATOR)
        spec = FeedSpec(
            name,
            url,
            fmt,
            org,
            Distribution.COMMUNITY,
            TlpLevel.CLEAR,
            **extra,  # type: ignore[arg-type]
        )
        add_feed(conn, TRAIL, spec)


def _objects(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(intel_objects)).scalar() or 0)


def _data(path: Path) -> bytes:
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} is missing")
    return path.read_bytes()


def test_etag_makes_the_second_pull_transfer_and_change_nothing(
    sqlite_engine: Engine, feed_server: FeedServer
) -> None:
    feed_server.files["/c2-iocs.txt"] = _data(FEEDS / "signature-base" / "c2-iocs.txt")
    _add(
        sqlite_engine,
        "c2",
        feed_server.url("/c2-iocs.txt"),
        FeedFormat.PLAIN,
        preset="signature-base",
    )
    first = pull_feed(sqlite_engine, TRAIL, "c2", limits=LIMITS)
    assert first.status == "ok" and first.stats is not None and first.stats.new > 1000
    stored, sent = _objects(sqlite_engine), feed_server.bytes_sent

    second = pull_feed(sqlite_engine, TRAIL, "c2", limits=LIMITS)
    assert second.status == "not-modified"
    assert feed_server.requests[-1] == ("/c2-iocs.txt", 304)
    assert feed_server.bytes_sent == sent and _objects(sqlite_engine) == stored
    with sqlite_engine.connect() as conn:
        feed = find_feed(conn, "c2")
    assert feed.last_status == "not-modified" and feed.totals["pulls"] == 1
    assert feed.etag and feed.last_modified


def test_file_feeds_are_not_read_again_when_unchanged(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "list.txt"
    path.write_text("198.51.100.7\nevil.example\n")
    _add(sqlite_engine, "local", path.as_uri(), FeedFormat.PLAIN)
    assert pull_feed(sqlite_engine, TRAIL, "local", limits=LIMITS).status == "ok"
    assert pull_feed(sqlite_engine, TRAIL, "local", limits=LIMITS).status == "not-modified"
    path.write_text("198.51.100.7\n")
    result = pull_feed(sqlite_engine, TRAIL, "local", limits=LIMITS)
    assert result.stats is not None and (result.stats.unchanged, result.stats.expired) == (1, 1)


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/missing.txt", None, "HTTP 404"),
        ("/broken.txt", 500, "HTTP 500"),
        ("/loop", None, "redirects"),
    ],
)
def test_failing_feeds_record_their_error(
    sqlite_engine: Engine, feed_server: FeedServer, path: str, status: int | None, message: str
) -> None:
    if status is not None:
        feed_server.status[path] = status
    feed_server.redirects["/loop"] = "/loop"
    _add(sqlite_engine, "bad", feed_server.url(path), FeedFormat.PLAIN)
    result = pull_feed(sqlite_engine, TRAIL, "bad", limits=LIMITS)
    assert result.status == "error" and message in (result.error or "")
    with sqlite_engine.connect() as conn:
        feed = find_feed(conn, "bad")
        audited = conn.execute(
            select(audit_log.c.detail).where(audit_log.c.action == "feed.pull")
        ).scalar()
    assert feed.health == "failing" and message in (feed.last_error or "")
    assert feed.totals == {"errors": 1}
    assert message in json.loads(audited or "{}")["error"]


def test_connection_refused_and_bad_content_are_recorded(
    sqlite_engine: Engine, feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.files["/bundle.json"] = b"{not json"
    _add(sqlite_engine, "down", "http://127.0.0.1:9/feed.txt", FeedFormat.PLAIN)
    _add(sqlite_engine, "garbled", feed_server.url("/bundle.json"), FeedFormat.STIX)
    _add(sqlite_engine, "gone", (tmp_path / "nothing.txt").as_uri(), FeedFormat.PLAIN)
    results = {
        r.feed: r
        for r in (
            pull_feed(sqlite_engine, TRAIL, n, limits=LIMITS) for n in ("down", "garbled", "gone")
        )
    }
    assert "Connection refused" in (results["down"].error or "")
    assert "bundle.json:1: not valid JSON" in (results["garbled"].error or "")
    assert "no such file" in (results["gone"].error or "")
    assert _objects(sqlite_engine) == 0


def test_bad_rows_are_reported_with_file_and_line_and_the_rest_lands(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "ipsum.txt"
    path.write_text(
        "# ipsum\n198.51.100.7\t3\nnot-an-ip!\t2\n198.51.100.8\tmany\n198.51.100.9\t1\n"
    )
    _add(sqlite_engine, "ipsum", path.as_uri(), FeedFormat.CSV, preset="ipsum")
    result = pull_feed(sqlite_engine, TRAIL, "ipsum", limits=LIMITS)
    assert result.status == "ok" and result.stats is not None
    assert (result.stats.new, result.stats.bad_rows) == (2, 2)
    assert [p.split(": ")[0] for p in result.problems] == [f"{path}:3", f"{path}:4"]
    with sqlite_engine.connect() as conn:
        feed = find_feed(conn, "ipsum")
    assert feed.health == "ok (2 bad rows)"
    assert f"{path}:3" in (feed.last_error or "")


def test_csv_with_a_mapping(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("indicator,score,note\nevil.example,80,phishing\n10.0.0.1,x,\n")
    mapping = {
        "delimiter": ",",
        "header": True,
        "value_column": "indicator",
        "confidence_column": "score",
        "comment_column": "note",
    }
    _add(sqlite_engine, "csv", path.as_uri(), FeedFormat.CSV, mapping=mapping)
    result = pull_feed(sqlite_engine, TRAIL, "csv", limits=LIMITS)
    assert result.stats is not None and (result.stats.new, result.stats.bad_rows) == (1, 1)
    assert result.problems[0].startswith(f"{path}:3: ")


def test_ipsum_and_signature_base_over_http(sqlite_engine: Engine, feed_server: FeedServer) -> None:
    feed_server.files["/ipsum.txt"] = _data(FEEDS / "ipsum" / "ipsum.txt")
    feed_server.files["/hash-iocs.txt"] = _data(FEEDS / "signature-base" / "hash-iocs.txt")
    _add(sqlite_engine, "ipsum", feed_server.url("/ipsum.txt"), FeedFormat.CSV, preset="ipsum")
    _add(
        sqlite_engine,
        "hashes",
        feed_server.url("/hash-iocs.txt"),
        FeedFormat.PLAIN,
        preset="signature-base",
    )
    ipsum = pull_feed(sqlite_engine, TRAIL, "ipsum", limits=LIMITS)
    hashes = pull_feed(sqlite_engine, TRAIL, "hashes", limits=LIMITS)
    assert ipsum.stats is not None and ipsum.stats.new > 120_000
    assert hashes.stats is not None and hashes.stats.new > 3000
    with sqlite_engine.connect() as conn:
        comment = conn.execute(
            select(intel_objects.c.body).where(intel_objects.c.name.like("hashes: ce5838%"))
        ).scalar()
    assert comment is not None and "Dark Caracal" in comment


def _misp_folder(folder: Path, values: list[str]) -> Path:
    from pymisp import MISPEvent, MISPOrganisation
    from pymisp.tools import feed_meta_generator

    folder.mkdir(parents=True, exist_ok=True)
    event = MISPEvent()
    event.info = "test event"
    org = MISPOrganisation()
    org.name, org.uuid = "KZ-CERT", "0b7d2e4c-1a93-4c2e-9f6a-5e3c7f0a8d1b"
    event.Orgc = org
    event.date = datetime.date(2026, 1, 1)
    event.timestamp = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    event.threat_level_id, event.analysis, event.published = 1, 0, True
    for value in values:
        event.add_attribute("domain" if not value[0].isdigit() else "ip-dst", value)
    (folder / f"{event.uuid}.json").write_text(json.dumps(event.to_feed(with_meta=False)))
    feed_meta_generator(folder)
    return folder


def test_a_misp_feed_folder_imports_and_unchanged_events_are_skipped(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    folder = _misp_folder(tmp_path / "misp", ["evil.example", "198.51.100.7"])
    _add(sqlite_engine, "misp", folder.as_uri(), FeedFormat.MISP_FEED)
    first = pull_feed(sqlite_engine, TRAIL, "misp", limits=LIMITS)
    assert first.status == "ok", first.error
    assert first.stats is not None and first.stats.new > 2
    stored = _objects(sqlite_engine)
    with sqlite_engine.connect() as conn:
        assert find_feed(conn, "misp").state["events"]
    assert pull_feed(sqlite_engine, TRAIL, "misp", limits=LIMITS).status == "not-modified"
    assert _objects(sqlite_engine) == stored

    # Over HTTP: manifest.json, then each event.
    for path in folder.iterdir():
        feed_server.files[f"/misp/{path.name}"] = path.read_bytes()
    _add(sqlite_engine, "misp-http", feed_server.url("/misp"), FeedFormat.MISP_FEED)
    over_http = pull_feed(sqlite_engine, TRAIL, "misp-http", limits=LIMITS)
    assert over_http.status == "ok" and over_http.stats is not None
    # Same owner, same MISP uuids: the same STIX objects, already stored.
    assert over_http.stats.entries == over_http.stats.unchanged == first.stats.new
    assert {p for p, _s in feed_server.requests} == {
        "/misp/manifest.json",
        *(f"/misp/{p.name}" for p in folder.glob("*-*.json")),
    }


def test_pull_due_pulls_what_is_due_and_survives_failures(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "list.txt"
    path.write_text("198.51.100.7\n")
    _add(sqlite_engine, "hourly", path.as_uri(), FeedFormat.PLAIN, every_seconds=3600)
    _add(sqlite_engine, "failing", "http://127.0.0.1:9/x", FeedFormat.PLAIN, every_seconds=3600)
    _add(sqlite_engine, "manual", path.as_uri(), FeedFormat.PLAIN)
    results = {r.feed: r.status for r in pull_due(sqlite_engine, TRAIL, limits=LIMITS)}
    assert results == {"hourly": "ok", "failing": "error"}
    assert pull_due(sqlite_engine, TRAIL, limits=LIMITS) == []  # nothing due for an hour
    later = "2999-01-01T00:00:00.000000Z"
    assert {r.feed for r in pull_due(sqlite_engine, TRAIL, limits=LIMITS, now=later)} == {
        "hourly",
        "failing",
    }
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(feed_entries)).scalar() == 1


def test_a_misp_event_is_never_shared_wider_than_it_asks(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    event = {
        "Event": {
            "uuid": "5f1c2a9e-1d2b-4c3d-8e4f-0a1b2c3d4e5f",
            "info": "your organisation only",
            "distribution": "0",
            "timestamp": "1767225600",
            "Tag": [{"name": "tlp:amber"}],
            "Attribute": [
                {
                    "uuid": "6a2d3b0f-2e3c-4d4e-9f50-1b2c3d4e5f60",
                    "type": "domain",
                    "category": "Network activity",
                    "value": "org-only.evil-bench.ru",
                    "to_ids": True,
                }
            ],
        }
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    _add(sqlite_engine, "event", path.as_uri(), FeedFormat.MISP_EVENT)  # community, CLEAR
    result = pull_feed(sqlite_engine, TRAIL, "event", limits=LIMITS)
    assert result.status == "ok", result.error
    with sqlite_engine.connect() as conn:
        marks = set(
            conn.execute(
                select(intel_objects.c.distribution, intel_objects.c.tlp).where(
                    intel_objects.c.type == "indicator"
                )
            ).all()
        )
    assert marks == {("organisation", "amber")}
