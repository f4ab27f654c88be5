"""Correlation rules over a stream: windows, group-by, aliases, per-organisation state."""

from __future__ import annotations

from typing import Any

from steppe.detection.sigma.hits import SigmaHit

from .helpers import engine, rule, sysmon

FAILED = rule(
    {"sel": {"CommandLine|contains": "net use"}, "condition": "sel"},
    title="net use",
    rule_id="00000000-0000-4000-8000-0000000000a1",
    name="net_use",
)
WHOAMI = rule(
    {"sel": {"Image|endswith": "\\whoami.exe"}, "condition": "sel"},
    title="whoami",
    rule_id="00000000-0000-4000-8000-0000000000a2",
    name="whoami",
)


def correlation(
    kind: str, rules: list[str], condition: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "rules": rules, "timespan": "1m", **extra}
    if condition is not None:
        body["condition"] = condition
    return {
        "title": f"{kind} correlation",
        "id": "00000000-0000-4000-8000-0000000000c1",
        "level": "high",
        "tags": ["attack.t1135"],
        "correlation": body,
    }


def at(second: int) -> str:
    return f"2026-11-28T10:{second // 60:02d}:{second % 60:02d}.000000Z"


def feed(eng: Any, events: list[tuple[int, dict[str, Any], int]]) -> list[SigmaHit]:
    hits = []
    for second, fields, org in events:
        hits.extend(eng.evaluate(sysmon(time=at(second), **fields), org))
    return [h for h in hits if h.correlation]


def test_event_count_fires_once_per_burst_within_the_window() -> None:
    eng = engine(
        FAILED, correlation("event_count", ["net_use"], {"gte": 3}, **{"group-by": ["User"]})
    )
    cmd = {"CommandLine": "net use \\\\h\\c$", "User": "ann"}
    hits = feed(eng, [(0, cmd, 1), (10, cmd, 1), (100, cmd, 1), (110, cmd, 1), (120, cmd, 1)])
    assert len(hits) == 1
    hit = hits[0]
    assert hit.correlation == "event_count" and hit.group == (("User", "ann"),)
    assert len(hit.related) == 3 and hit.time == at(120)
    assert hit.attack_techniques == ("T1135",)


def test_group_by_and_organisations_keep_separate_windows() -> None:
    eng = engine(
        FAILED, correlation("event_count", ["net_use"], {"gte": 2}, **{"group-by": ["User"]})
    )
    ann = {"CommandLine": "net use x", "User": "ann"}
    bob = {"CommandLine": "net use x", "User": "bob"}
    assert feed(eng, [(0, ann, 1), (1, bob, 1)]) == []
    assert feed(eng, [(2, ann, 2)]) == []  # another member's ann: not the same window
    assert len(feed(eng, [(3, ann, 1)])) == 1


def test_value_count_counts_distinct_values() -> None:
    eng = engine(
        FAILED,
        correlation(
            "value_count", ["net_use"], {"gte": 3, "field": "CommandLine"}, **{"group-by": ["User"]}
        ),
    )
    same = [(i, {"CommandLine": "net use a", "User": "ann"}, 1) for i in range(5)]
    assert feed(eng, same) == []
    distinct = [(10 + i, {"CommandLine": f"net use h{i}", "User": "ann"}, 1) for i in range(3)]
    assert len(feed(eng, distinct)) == 1


def test_temporal_needs_every_rule_in_the_window_in_any_order() -> None:
    eng = engine(
        FAILED, WHOAMI, correlation("temporal", ["net_use", "whoami"], **{"group-by": ["Computer"]})
    )
    net = {"CommandLine": "net use x", "Computer": "pc1"}
    who = {"Image": "c:\\whoami.exe", "Computer": "pc1"}
    assert len(feed(eng, [(0, who, 1), (30, net, 1)])) == 1
    assert feed(eng, [(100, who, 1), (200, net, 1)]) == []  # 100 s apart: too far


def test_temporal_ordered_needs_the_order() -> None:
    eng = engine(
        FAILED,
        WHOAMI,
        correlation("temporal_ordered", ["whoami", "net_use"], **{"group-by": ["Computer"]}),
    )
    net = {"CommandLine": "net use x", "Computer": "pc1"}
    who = {"Image": "c:\\whoami.exe", "Computer": "pc1"}
    assert feed(eng, [(0, net, 1), (10, who, 1)]) == []
    assert len(feed(eng, [(20, net, 1)])) == 1  # whoami at 10, then net use at 20


def test_aliases_group_rules_naming_the_field_differently() -> None:
    eng = engine(
        FAILED,
        WHOAMI,
        correlation(
            "temporal",
            ["net_use", "whoami"],
            **{
                "group-by": ["host"],
                "aliases": {"host": {"net_use": "Computer", "whoami": "Hostname"}},
            },
        ),
    )
    hits = feed(
        eng,
        [
            (0, {"CommandLine": "net use", "Computer": "pc1"}, 1),
            (5, {"Image": "c:\\whoami.exe", "Hostname": "pc1"}, 1),
        ],
    )
    assert len(hits) == 1 and hits[0].group == (("host", "pc1"),)


def test_referenced_rules_alert_only_when_generate_is_set() -> None:
    eng = engine(FAILED, correlation("event_count", ["net_use"], {"gte": 5}))
    assert [h for h in eng.evaluate(sysmon(CommandLine="net use")) if not h.correlation] == []
    eng = engine(FAILED, correlation("event_count", ["net_use"], {"gte": 5}, generate=True))
    assert len(eng.evaluate(sysmon(CommandLine="net use"))) == 1


def test_state_is_bounded() -> None:
    eng = engine(
        FAILED, correlation("event_count", ["net_use"], {"gte": 2}, **{"group-by": ["User"]})
    )
    eng.correlations.correlations[0].max_groups = 50
    feed(eng, [(i % 60, {"CommandLine": "net use", "User": f"u{i}"}, 1) for i in range(500)])
    assert eng.correlations.state_size() == 50


def test_window_end_conditions_are_reported_unsupported() -> None:
    eng = engine(FAILED, correlation("event_count", ["net_use"], {"lt": 3}))
    assert not eng.correlations
    assert any("needs the end of a window" in p.reason for p in eng.problems)
