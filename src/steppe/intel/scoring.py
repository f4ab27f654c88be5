"""How much an indicator is still worth: MISP's polynomial decay, moved by sightings.

The model is MISP's ``Polynomial`` decaying model (from "An indicator scoring method for
MISP platforms")::

    score(t) = base × (1 - (t / τ) ^ (1 / δ)),   0 when t ≥ τ

``t`` is the time since the indicator was last confirmed — the newest ``seen`` sighting,
else its ``valid_from`` (else when it was created) — ``τ`` the lifetime of its type in
days and ``δ`` the decay speed (above 1 the score drops fast at first; below 1 it holds,
then falls). The base is the object's STIX ``confidence`` (0-100), or a default.

Sightings move it: ``seen`` restarts the clock; each ``false-positive`` halves the score
(configurable); ``expired`` from the producer (or the center) ends it. An object is
*expired* — kept, shown, but not matched — when its score falls under the threshold,
when ``valid_until`` has passed, or when it is revoked.

    >>> model = DecayConfig()
    >>> facts = ScoreFacts(confidence=80, start="2026-01-01T00:00:00.000000Z",
    ...                    observable_types=("ipv4",))
    >>> s = current_score(facts, "2026-01-16T00:00:00.000000Z", model)
    >>> round(s.score, 1), s.expired
    (40.0, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from steppe.storage import timestamps

__all__ = [
    "DEFAULT_DECAY",
    "DecayConfig",
    "DecayParameters",
    "Score",
    "ScoreFacts",
    "current_score",
    "polynomial",
]

_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class DecayParameters:
    """Lifetime τ (days) and decay speed δ of one observable type."""

    lifetime_days: float
    speed: float


#: Per observable type: network infrastructure changes hands fast, a file hash stays
#: the same file. IPs are reassigned in weeks, domains live longer, hashes for years.
DEFAULT_DECAY: Mapping[str, DecayParameters] = {
    "ipv4": DecayParameters(30, 1.0),
    "ipv6": DecayParameters(30, 1.0),
    "cidr": DecayParameters(60, 1.0),
    "url": DecayParameters(60, 0.5),
    "domain": DecayParameters(90, 0.5),
    "email": DecayParameters(180, 0.5),
    "filename": DecayParameters(180, 0.5),
    "asn": DecayParameters(365, 0.3),
    "md5": DecayParameters(730, 0.3),
    "sha1": DecayParameters(730, 0.3),
    "sha256": DecayParameters(730, 0.3),
    "cve": DecayParameters(1095, 0.3),
}
#: Objects without observables (malware, reports, …) and types not listed above.
FALLBACK_DECAY = DecayParameters(365, 0.5)


@dataclass(frozen=True, slots=True)
class DecayConfig:
    """The scoring model's settings (see docs/configuration.md, ``STEPPE_INTEL_*``)."""

    decay: Mapping[str, DecayParameters] = field(default_factory=lambda: dict(DEFAULT_DECAY))
    threshold: float = 30.0  # under it: expired, not matched (MISP's default model uses 30)
    default_base: float = 50.0  # base score of objects without a confidence
    false_positive_factor: float = 0.5  # score multiplier per false-positive sighting

    def parameters(self, observable_types: Iterable[str]) -> DecayParameters:
        """The fastest-decaying parameters among the types (the most cautious)."""
        found = [self.decay.get(t, FALLBACK_DECAY) for t in observable_types]
        if not found:
            return FALLBACK_DECAY
        return min(found, key=lambda p: (p.lifetime_days, -p.speed))


@dataclass(frozen=True, slots=True)
class ScoreFacts:
    """What the score of one object depends on (read by :mod:`steppe.intel.sightings`)."""

    confidence: int | None
    start: str  # stored timestamp: valid_from, else created, else modified
    observable_types: tuple[str, ...] = ()
    valid_until: str | None = None
    revoked: bool = False
    last_seen: str | None = None  # newest "seen" sighting
    false_positives: int = 0  # sum of false-positive sighting counts
    expired_by: str | None = None  # who ended it with an "expired" sighting


@dataclass(frozen=True, slots=True)
class Score:
    score: float  # 0-100
    base: float
    expired: bool
    reason: str  # why, in words: "decayed under 30", "valid_until passed", …


def polynomial(base: float, elapsed_seconds: float, lifetime_days: float, speed: float) -> float:
    """MISP's ``Polynomial::computeScore``: 0 for negative or past-lifetime times.

    >>> polynomial(100, 15 * 86400, 30, 1.0)
    50.0
    """
    if elapsed_seconds < 0:
        return 0.0  # as MISP: a sighting dated in the future does not score
    tau = lifetime_days * _DAY
    score = base * (1 - (elapsed_seconds / tau) ** (1 / speed))
    return max(float(score), 0.0)


def current_score(facts: ScoreFacts, now: str, config: DecayConfig | None = None) -> Score:
    """The object's score at ``now`` (a stored timestamp), and whether it has expired."""
    model = config or DecayConfig()
    base = float(facts.confidence) if facts.confidence is not None else model.default_base
    if facts.revoked:
        return Score(0.0, base, True, "revoked")
    if facts.expired_by is not None:
        return Score(0.0, base, True, f"expired by a sighting from {facts.expired_by}")
    if facts.valid_until is not None and facts.valid_until <= now:
        return Score(0.0, base, True, f"valid_until {facts.valid_until} has passed")
    start = facts.start
    if facts.last_seen is not None and facts.last_seen > start:
        start = facts.last_seen
    elapsed = (timestamps.parse(now) - timestamps.parse(start)).total_seconds()
    params = model.parameters(facts.observable_types)
    # Not yet valid (or a sighting ahead of the clock): the object has not started to
    # decay; MISP scores negative times 0, which would expire every future-dated object.
    score = base if elapsed < 0 else polynomial(base, elapsed, params.lifetime_days, params.speed)
    if facts.false_positives:
        score *= model.false_positive_factor**facts.false_positives
    if score < model.threshold:
        why = "false-positive sightings" if facts.false_positives else "decay"
        return Score(score, base, True, f"score {score:.1f} under {model.threshold:g} ({why})")
    return Score(score, base, False, "active")
