"""Fixtures of the playbook tests: the alert coalition, detection, a runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from alert_world import NOW, alert_world
from conftest import KEY
from intel_world import World
from steppe.alerts.store import store_ioc_alerts
from steppe.audit.trail import AuditTrail
from steppe.detection.ioc import IocMatcher, build_index
from steppe.response.playbooks import PlaybookLibrary, PlaybookRunner, load_playbook
from steppe.settings import Settings
from steppe.workers.broker import Broker

RunnerFactory = Callable[..., PlaybookRunner]


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> World:
    return alert_world(engine, trail)


def detect(world: World, org: str, events: list[dict[str, Any]]) -> list[str]:
    """Store the alerts ``org``'s events raise; their ids."""
    with world.engine.connect() as conn:
        matcher = IocMatcher(build_index(conn, NOW))
    org_id = world.orgs[org].id
    with world.engine.begin() as conn:
        result = store_ioc_alerts(
            conn, world.trail, org_id, matcher.match_events(events, org_id, NOW)
        )
    return list(result.ids or [])


@pytest.fixture
def make_runner(world: World, tmp_path: Path) -> RunnerFactory:
    """``make_runner(yaml, ..., broker=b, smtp_port=p)``: a runner of these playbooks."""

    def build(*texts: str, broker: Broker | None = None, **settings: Any) -> PlaybookRunner:
        library = PlaybookLibrary(None, [load_playbook(t, source=f"pb{i}.yml")
                                         for i, t in enumerate(texts)])  # fmt: skip
        config = Settings(data_dir=tmp_path, secret_key=KEY, **settings)
        return PlaybookRunner(world.engine, KEY, library, config, broker=broker, settle_seconds=0)

    return build
