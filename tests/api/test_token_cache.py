"""RecentTokens: actors kept a moment after their look-up, and never too many."""

from __future__ import annotations

from steppe.api.token_cache import RecentTokens
from steppe.sharing.model import Actor, OrgKind


def actor(n: int) -> Actor:
    return Actor(n, f"sensor{n}", 7, OrgKind.MEMBER, frozenset(), frozenset())


def test_an_actor_is_kept_for_its_seconds_only() -> None:
    recent = RecentTokens(seconds=2.0)
    recent.put("a", actor(1), now=100.0)
    assert recent.get("a", now=101.9) == actor(1)
    assert recent.get("a", now=102.0) is None
    assert recent.get("a", now=101.0) is None  # dropped when found expired


def test_zero_seconds_keeps_nothing() -> None:
    recent = RecentTokens(seconds=0)
    recent.put("a", actor(1), now=100.0)
    assert recent.get("a", now=100.0) is None


def test_when_full_the_expired_go_first_then_everything() -> None:
    recent = RecentTokens(seconds=10.0, size=3)
    recent.put("old", actor(0), now=0.0)
    recent.put("b", actor(1), now=5.0)
    recent.put("c", actor(2), now=5.0)
    recent.put("d", actor(3), now=11.0)  # full: "old" has expired and makes room
    assert [recent.get(k, now=11.0) is not None for k in ("old", "b", "c", "d")] == [
        False,
        True,
        True,
        True,
    ]
    recent.put("e", actor(4), now=12.0)  # full of live ones: all go, the new one stays
    assert [recent.get(k, now=12.0) is not None for k in ("b", "c", "d", "e")] == [
        False,
        False,
        False,
        True,
    ]
