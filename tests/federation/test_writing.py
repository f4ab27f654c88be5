"""POST of an envelope: each object succeeds or fails alone, whatever the mix (hypothesis)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from conftest import KEY
from federation.conftest import Coalition
from helpers import indicator
from steppe.audit.trail import AuditTrail
from steppe.federation.collections import find_collection
from steppe.federation.writing import add_objects
from steppe.sharing import directory
from steppe.storage.engine import writing
from steppe.storage.schema import intel_objects

AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"


def _bad(kind: str) -> Any:
    good = indicator(f"bad-{uuid.uuid4().hex[:8]}.example")
    if kind == "pattern":
        return {**good, "pattern": "[broken"}
    if kind == "type":
        return {**good, "type": "no such type", "id": f"x--{uuid.uuid4()}"}
    if kind == "time":
        return {**good, "modified": "yesterday"}
    if kind == "amber":  # fine elsewhere, but not in `federation`
        return {**good, "object_marking_refs": [AMBER]}
    return "not an object"


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_each_object_succeeds_or_fails_alone(engine: Engine, coalition: Coalition) -> None:
    with engine.connect() as conn:
        actor = directory.load_actor(conn, "ana")
        federation = find_collection(conn, actor, "federation")
    trail = AuditTrail(KEY, "test")

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(
            st.one_of(
                st.just("good"), st.sampled_from(["pattern", "type", "time", "amber", "scalar"])
            ),
            min_size=1,
            max_size=25,
        )
    )
    def run(kinds: list[str]) -> None:
        objects = [
            indicator(f"ok-{uuid.uuid4().hex[:8]}.example") if k == "good" else _bad(k)
            for k in kinds
        ]
        data = orjson.dumps({"objects": objects})
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(intel_objects)).scalar_one()
        with writing(engine) as conn:
            status = add_objects(conn, trail, actor, federation, data, objects).to_dict()
        good = [o for o, k in zip(objects, kinds, strict=True) if k == "good"]
        assert status["total_count"] == len(objects)
        assert status["success_count"] == len(good)
        assert status["failure_count"] == len(objects) - len(good)
        assert status["pending_count"] == 0
        assert [s["id"] for s in status.get("successes", [])] == [o["id"] for o in good]
        assert all(f["message"] for f in status.get("failures", []))
        with engine.connect() as conn:
            after = conn.execute(select(func.count()).select_from(intel_objects)).scalar_one()
            stored = set(
                conn.execute(
                    select(intel_objects.c.stix_id).where(
                        intel_objects.c.stix_id.in_([o["id"] for o in good] or [""])
                    )
                ).scalars()
            )
        assert after - before == len(good)
        assert stored == {o["id"] for o in good}

    run()
