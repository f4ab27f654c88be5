"""The intel settings the importers, search and scoring need, in one value.

>>> IntelConfig().correlation.cap
50
>>> IntelConfig.from_settings(settings)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

from steppe.errors import ConfigError
from steppe.intel.correlation import CorrelationConfig
from steppe.intel.scoring import DEFAULT_DECAY, DecayConfig, DecayParameters
from steppe.intel.warninglists import DEFAULT_DISABLED
from steppe.settings import Settings

__all__ = ["IntelConfig"]


@dataclass(frozen=True, slots=True)
class IntelConfig:
    warninglists_disabled: frozenset[str] = DEFAULT_DISABLED
    correlation: CorrelationConfig = field(default_factory=CorrelationConfig)
    decay: DecayConfig = field(default_factory=DecayConfig)
    free_tags: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> IntelConfig:
        decay = dict(DEFAULT_DECAY)
        for kind, (lifetime, speed) in settings.intel_decay.items():
            if lifetime <= 0 or speed <= 0:
                raise ConfigError(
                    f"STEPPE_INTEL_DECAY: {kind!r} needs a lifetime and a speed above 0, "
                    f"got [{lifetime}, {speed}]"
                )
            decay[kind] = DecayParameters(lifetime, speed)
        return cls(
            warninglists_disabled=frozenset(settings.intel_warninglists_disabled),
            correlation=CorrelationConfig(
                settings.intel_correlation_cap, frozenset(settings.intel_correlation_exclusions)
            ),
            decay=DecayConfig(
                decay,
                settings.intel_score_threshold,
                settings.intel_default_base_score,
                settings.intel_false_positive_factor,
            ),
            free_tags=settings.intel_free_tags,
        )
