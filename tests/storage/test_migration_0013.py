"""Migration 0013 keeps what feed entries said: provenance reads the same before and after."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, Engine, insert, text

from steppe.intel.provenance import sources_of_values
from steppe.sharing.model import Actor, OrgKind, Role
from steppe.storage import migrate
from steppe.storage.schema import feeds, intel_objects, observables, organisations

T1 = "2026-11-01T00:00:00.000000Z"
T2 = "2026-11-02T00:00:00.000000Z"
T3 = "2026-11-03T00:00:00.000000Z"
ADMIN = Actor(0, "root", 1, OrgKind.COORDINATOR, frozenset({Role.ADMIN}))


def _version(conn: Connection, pk: int, value: str, confidence: int, until: str | None) -> None:
    conn.execute(
        insert(intel_objects).values(
            pk=pk, stix_id=f"indicator--{pk:08d}-0000-5000-8000-000000000000",
            type="indicator", created=T1, modified=until or T1, owner_org_id=1,
            distribution="community", tlp="clear", confidence=confidence, valid_from=T1,
            valid_until=until, revoked=False, is_current=True, matchable=True,
            name=f"list: {value}", imported_at=T1, body=f'["ipv4","{value}"]',
        )
    )  # fmt: skip
    conn.execute(insert(observables).values(id=pk, object_pk=pk, type="ipv4", value=value))


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_entries_of_0010_read_the_same_after_0013_and_back(bare_engine: Engine) -> None:
    migrate.upgrade(bare_engine, "0010")
    with bare_engine.begin() as conn:
        conn.execute(
            insert(organisations).values(id=1, name="Center", kind="coordinator", created_at=T1)
        )
        conn.execute(
            insert(feeds).values(
                id=1, name="list", owner_org_id=1, distribution="community", tlp="clear",
                format="plain", url="file:///list.txt", enabled=True, created_at=T1,
                last_version_at=T3, totals="{}",
            )
        )  # fmt: skip
        _version(conn, 1, "198.51.100.1", 60, None)  # listed
        _version(conn, 2, "198.51.100.2", 40, T3)  # gone at the third pull
        # The columns 0010 has (steppe.storage.schema's model no longer does).
        conn.execute(
            text(
                "INSERT INTO feed_entries (object_pk, feed_id, type, value, confidence,"
                " first_seen, last_seen, expired_at) VALUES"
                " (1, 1, 'ipv4', '198.51.100.1', 60, :t1, :t1, NULL),"
                " (2, 1, 'ipv4', '198.51.100.2', 40, :t1, :t2, :t3)"
            ),
            {"t1": T1, "t2": T2, "t3": T3},
        )
    migrate.upgrade(bare_engine)
    keys = [("ipv4", "198.51.100.1"), ("ipv4", "198.51.100.2")]
    with bare_engine.connect() as conn:
        found = sources_of_values(conn, ADMIN, keys)
    listed, gone = found[keys[0]][0], found[keys[1]][0]
    assert (listed.feed, listed.owner, listed.confidence) == ("list", "Center", 60)
    assert (listed.first_seen, listed.last_seen, listed.expired_at) == (T1, T3, None)
    assert (gone.confidence, gone.first_seen, gone.last_seen, gone.expired_at) == (40, T1, T2, T3)

    _downgrade(bare_engine, "0010")
    with bare_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT object_pk, type, value, confidence, first_seen, last_seen, expired_at"
                " FROM feed_entries ORDER BY object_pk"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, "ipv4", "198.51.100.1", 60, T1, T1, None),
        (2, "ipv4", "198.51.100.2", 40, T1, T2, T3),
    ]
