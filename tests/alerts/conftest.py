"""Fixtures of the alert tests."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from alert_world import alert_world
from intel_world import World
from steppe.audit.trail import AuditTrail


@pytest.fixture
def world(engine: Engine, trail: AuditTrail) -> World:
    return alert_world(engine, trail)
