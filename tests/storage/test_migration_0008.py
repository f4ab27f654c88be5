"""Migration 0008 keeps the alerts stored before aggregation idempotent."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select

from steppe.storage import migrate
from steppe.storage.schema import alert_events, alerts, organisations

NOW = "2026-01-01T00:00:00.000000Z"


def test_alerts_of_0007_become_their_own_event_keys(bare_engine: Engine) -> None:
    migrate.upgrade(bare_engine, "0007")
    with bare_engine.begin() as conn:
        org = conn.execute(
            insert(organisations)
            .values(name="KZ-CERT", country="KZ", kind="member", created_at=NOW)
            .returning(organisations.c.id)
        ).scalar_one()
        # Only the columns 0007 has: the model's newer ones are left out of the INSERT.
        conn.execute(
            alerts.insert().values(
                id="a" * 64, kind="ioc", org_id=org, title="t", severity="low", status="new",
                event="{}", event_fingerprint="f" * 64, first_seen=NOW, last_seen=NOW, count=1,
                created_at=NOW,
            )
        )  # fmt: skip
    migrate.upgrade(bare_engine)
    with bare_engine.connect() as conn:
        keys = conn.execute(select(alert_events.c.event_key, alert_events.c.alert_id)).all()
        status = conn.scalar(select(alerts.c.status))
    assert [tuple(k) for k in keys] == [("a" * 64, "a" * 64)]
    assert status == "new"
