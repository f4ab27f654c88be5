"""`steppe taxii` and `steppe sync` against a live TAXII server, through the real entry point."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from cli_runner import Steppe
from conftest import KEY
from federation.conftest import TAXII_MEDIA, Coalition
from helpers import indicator
from steppe.storage.engine import make_engine
from steppe.storage.schema import intel_objects, organisations

SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@pytest.fixture
def steppe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Steppe:
    monkeypatch.setenv("STEPPE_SECRET_KEY", KEY)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("STEPPE_FEED_ALLOWED_HOSTS", "127.0.0.1")  # the live TAXII server
    run = Steppe(tmp_path / "here", capsys)
    run.ok("init")
    run.ok("org", "add", "Local-CERT", "--country", "TJ")
    run.ok("user", "add", "tj", "--org", "Local-CERT")
    return run


def _seed(live_server: str, coalition: Coalition, count: int) -> list[str]:
    import httpx

    objects = [indicator(f"cli{i}.example") for i in range(count)]
    listing = httpx.get(
        f"{live_server}/taxii2/steppe/collections/", headers=coalition.bearer("ana")
    )
    cid = next(c["id"] for c in listing.json()["collections"] if c["alias"] == "community")
    answer = httpx.post(
        f"{live_server}/taxii2/steppe/collections/{cid}/objects/",
        content=orjson.dumps({"objects": objects}),
        headers={**coalition.bearer("ana"), "Content-Type": TAXII_MEDIA},
    )
    assert answer.status_code == 202
    return [o["id"] for o in objects]


@SQLITE
def test_pull_then_push(steppe: Steppe, live_server: str, coalition: Coalition) -> None:
    ids = _seed(live_server, coalition, 30)
    out = steppe.ok(
        "taxii",
        "pull",
        f"{live_server}/taxii2/",
        "--collection",
        "community",
        "--as",
        "Local-CERT",
        "--token",
        coalition.tokens["ana"],
        "--user",
        "ana",
    )
    assert "pulled 30 objects" in out and "--since 20" in out
    engine = make_engine(f"sqlite:///{steppe.data_dir / 'steppe.db'}")
    with engine.connect() as conn:
        stored = set(conn.execute(select(intel_objects.c.stix_id)).scalars())
        local = conn.execute(
            select(organisations.c.id).where(organisations.c.name == "Local-CERT")
        ).scalar()
        owners = set(conn.execute(select(intel_objects.c.owner_org_id)).scalars())
    engine.dispose()
    assert stored == set(ids) and owners == {local}

    since = out.split("--since ")[1].split()[0]
    again = steppe.ok(
        "taxii", "pull", f"{live_server}/taxii2/steppe/", "--collection", "community", "--as", "Local-CERT",
        "--token", coalition.tokens["ana"], "--since", since,
    )  # fmt: skip
    assert "pulled 0 objects" in again

    out = steppe.ok(
        "taxii", "push", f"{live_server}/taxii2/", "--collection", "organisation", "--as", "tj",
        "--token", coalition.tokens["bek"],
    )  # fmt: skip
    assert "pushed 30 objects" in out and "(0 refused there)" in out


@SQLITE
def test_bad_token_is_one_line(steppe: Steppe, live_server: str) -> None:
    code, _out, err = steppe(
        "taxii", "pull", f"{live_server}/taxii2/", "--collection", "community", "--as", "Local-CERT",
        "--token", "stp_nope",
    )  # fmt: skip
    assert code == 1
    assert err.startswith("error: ") and "HTTP 401" in err and len(err.strip().splitlines()) == 1


def test_collections_and_peers(steppe: Steppe) -> None:
    out = steppe.ok(
        "taxii",
        "collection",
        "add",
        "amber-ioc",
        "--title",
        "Amber",
        "--type",
        "indicator",
        "--tlp",
        "amber",
    )
    assert "defined collection amber-ioc" in out
    assert "amber-ioc" in steppe.ok("taxii", "collection", "list")
    code, _o, err = steppe("taxii", "collection", "add", "community", "--title", "x")
    assert code == 1 and "alias" in err
    steppe.ok("org", "add", "Node-X", "--kind", "peer")
    out = steppe.ok(
        "sync", "add-peer", "node-x", "--org", "Node-X", "--api-root", "http://127.0.0.1:9/taxii2/steppe/",
        "--user", "us", "--token", "t", "--sightings", "drop",
    )  # fmt: skip
    assert "added peer node-x" in out
    assert "drop" in steppe.ok("sync", "list")
    code, _o, err = steppe(
        "sync", "add-peer", "node-y", "--org", "Node-X", "--api-root", "http://x/", "--user", "u",
        "--token", "t", "--tlp", "amber",
    )  # fmt: skip
    assert code == 1 and "TLP:AMBER may not cross" in err
    code, _o, err = steppe("sync", "run", "node-x")  # nothing listens on port 9
    assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1


@SQLITE
def test_feed_pulls_on_schedule_from_where_it_stopped(
    steppe: Steppe, live_server: str, coalition: Coalition
) -> None:
    first = _seed(live_server, coalition, 12)
    steppe.ok(
        "taxii", "feed", "add", "kz-community", f"{live_server}/taxii2/", "--collection", "community",
        "--as", "Local-CERT", "--token", coalition.tokens["ana"], "--distribution", "community",
        "--tlp", "green", "--every", "60",
    )  # fmt: skip
    assert "pulled 12 objects" in steppe.ok("taxii", "feed", "run", "--due")
    second = _seed(live_server, coalition, 5)
    assert "pulled" not in steppe.ok("taxii", "feed", "run", "--due")  # not due for an hour
    assert "pulled 5 objects" in steppe.ok("taxii", "feed", "run", "kz-community")
    assert "kz-community" in steppe.ok("taxii", "feed", "list")
    engine = make_engine(f"sqlite:///{steppe.data_dir / 'steppe.db'}")
    with engine.connect() as conn:
        rows = conn.execute(select(intel_objects.c.stix_id, intel_objects.c.distribution)).all()
    engine.dispose()
    assert sorted(r.stix_id for r in rows) == sorted(first + second)
    assert {r.distribution for r in rows} == {"community"}
    code, _out, err = steppe(
        "taxii", "feed", "add", "bad", f"{live_server}/taxii2/", "--collection", "community",
        "--as", "Local-CERT", "--token", "t", "--distribution", "federation", "--tlp", "amber",
    )  # fmt: skip
    assert code == 1 and "TLP:CLEAR and TLP:GREEN" in err
