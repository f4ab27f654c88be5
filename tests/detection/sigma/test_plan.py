"""The compiled plans never lose a match: constant folding and the literal prefilter
give the same answer as evaluating every rule's full condition on every event."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from steppe.detection.sigma.engine import SigmaEngine
from steppe.detection.sigma.ir import And, Match, Not, Or
from steppe.detection.sigma.logsource import route, select
from steppe.detection.sigma.plan import Plan
from steppe.detection.sigma.predicates import EventView
from steppe.ingest.telemetry.formats import read_path
from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem

from .conftest import SIGMA_DATA


def _regression_events() -> list[NormalisedEvent]:
    events = []
    for path in sorted((SIGMA_DATA / "regression_data").rglob("*.json")):
        events.extend(i for _, i in read_path(path, "winjson") if not isinstance(i, ParseProblem))
    return events


def _mutations(events: list[NormalisedEvent]) -> list[NormalisedEvent]:
    """The events, then copies with fields cut short, case changed and values swapped
    between events: near misses for the prefilter."""
    rng = random.Random(11)
    out = list(events)
    for event in events:
        raw = dict(event["raw"])
        for name, value in list(raw.items()):
            if isinstance(value, str) and name not in ("Channel",):
                choice = rng.random()
                if choice < 0.3:
                    raw[name] = value[: rng.randrange(len(value) + 1)]
                elif choice < 0.5:
                    raw[name] = value.swapcase()
                elif choice < 0.6:
                    other = rng.choice(events)["raw"]
                    raw[name] = other.get(name, value)
        out.append({**event, "raw": raw})
    return out


@pytest.fixture(scope="module")
def events() -> list[NormalisedEvent]:
    if not (SIGMA_DATA / "regression_data").is_dir():
        pytest.skip("tests/data/sigma/regression_data is missing")
    return _mutations(_regression_events())


def test_plans_agree_with_evaluating_every_rule(
    sigmahq: SigmaEngine, events: list[NormalisedEvent]
) -> None:
    brute: dict[object, Plan] = {}
    compared = matched = 0
    for event in events:
        key, doc = route(event)
        if key not in brute:
            chosen = [
                (info.number, info.tree, renames)
                for info in sigmahq.rules
                if (renames := select(info.logsource, key)) is not None
            ]
            brute[key] = Plan(chosen, constants={})  # no folding …
        unfolded = brute[key]
        view = EventView(doc)
        # … and no prefilter: every test of every rule of the route
        expected = [
            n
            for n in sorted(unfolded.tests, key=unfolded.order.__getitem__)
            if unfolded.tests[n](view)
        ]
        assert sigmahq.plan(key).match(doc) == expected
        compared += 1
        matched += bool(expected)
    assert compared == len(events) and matched > 200


def test_and_takes_the_cheaper_trigger_and_not_gives_none() -> None:
    tree = And(
        (
            Match("Image", "endswith", ("\\x.exe",)),
            Match("CommandLine", "contains", ("a",)),
            Not(Match("User", "eq", ("system",))),
        )
    )
    plan = Plan([(0, tree, {})], constants={})
    assert plan.stats()["literals"] == 1  # only "\x.exe": 1/64 beats "a": 1/1
    assert plan.match({"Image": "c:\\X.EXE", "CommandLine": "bab", "User": "ann"}) == [0]
    assert plan.match({"Image": "c:\\X.EXE", "CommandLine": "bab", "User": "SYSTEM"}) == []


def test_or_with_an_untriggered_side_is_always_evaluated() -> None:
    tree = Or((Match("Image", "endswith", ("\\x.exe",)), Not(Match("User", "eq", ("system",)))))
    plan = Plan([(0, tree, {})], constants={})
    assert plan.stats()["always"] == 1
    assert plan.match({"Image": "c:\\y.exe", "User": "ann"}) == [0]


def test_constant_fields_fold(tmp_path: Path) -> None:
    on_4624 = And((Match("EventID", "eq", ("4624",)), Match("LogonType", "eq", ("3",))))
    on_4625 = And((Match("EventID", "eq", ("4625",)), Match("LogonType", "eq", ("3",))))
    plan = Plan([(0, on_4624, {}), (1, on_4625, {})], constants={"EventID": 4624})
    assert plan.stats()["folded"] == 1
    assert plan.match({"EventID": 4624, "LogonType": 3}) == [0]
