"""Fixtures of the incident tests."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from incident_world import IncidentWorld, incident_world
from steppe.audit.trail import AuditTrail


@pytest.fixture
def iw(engine: Engine, trail: AuditTrail) -> IncidentWorld:
    return incident_world(engine, trail)
