"""The background scheduler pulls what is due and survives failures, its own included."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from conftest import KEY
from feed_server import local_limits
from steppe.audit.trail import AuditTrail
from steppe.ingest.feeds.fetch import FetchLimits
from steppe.ingest.feeds.scheduler import FeedScheduler
from steppe.intel.feeds import FeedFormat, FeedSpec, add_feed
from steppe.sharing import directory
from steppe.sharing.model import Distribution, OrgKind, TlpLevel
from steppe.storage.engine import writing

TRAIL = AuditTrail(KEY, "scheduler:test")


def test_rounds_pull_due_feeds_and_failures_do_not_stop_it(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "list.txt"
    path.write_text("77.90.185.20\n")
    with writing(sqlite_engine) as conn:
        org = directory.add_organisation(conn, TRAIL, "Center", None, OrgKind.COORDINATOR)
        for name, url in [("good", path.as_uri()), ("bad", "http://127.0.0.1:9/x")]:
            spec = FeedSpec(
                name, url, FeedFormat.PLAIN, org, Distribution.COMMUNITY, TlpLevel.CLEAR,
                every_seconds=3600,
            )  # fmt: skip
            add_feed(conn, TRAIL, spec)
    scheduler = FeedScheduler(sqlite_engine, TRAIL, local_limits(timeout=5), every=3600)
    assert {r.feed: r.status for r in scheduler.run_once()} == {"good": "ok", "bad": "error"}
    assert scheduler.run_once() == []  # nothing due again for an hour

    scheduler.start()  # the thread's first round runs at once; stop waits for it
    scheduler.stop()
    assert scheduler.rounds == 3


def test_a_round_that_fails_as_a_whole_is_logged_not_raised(tmp_path: Path) -> None:
    from steppe.storage.engine import make_engine

    broken = make_engine(f"sqlite:///{tmp_path}/not-migrated.db")  # no tables at all
    scheduler = FeedScheduler(broken, TRAIL, FetchLimits(), every=3600)
    assert scheduler.run_once() == [] and scheduler.rounds == 1
    broken.dispose()
