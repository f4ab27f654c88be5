"""Steppe: a regional center's shared threat intelligence, detection and response.

The public API for scripts and plugins::

    >>> from steppe import canonicalise, ObservableType
    >>> canonicalise(ObservableType.DOMAIN, "Evil.Example.")
    'evil.example'
"""

from __future__ import annotations

from steppe.errors import SteppeError
from steppe.intel.guess import canonical_observable
from steppe.intel.observables import ObservableType, canonicalise
from steppe.settings import Settings
from steppe.sharing.model import (
    Actor,
    Decision,
    Distribution,
    ObjectRights,
    OrgKind,
    Role,
    TlpLevel,
)
from steppe.sharing.policy import can_see, check_marking, visible_filter

__version__ = "0.1.0"

__all__ = [
    "Actor",
    "Decision",
    "Distribution",
    "ObjectRights",
    "ObservableType",
    "OrgKind",
    "Role",
    "Settings",
    "SteppeError",
    "TlpLevel",
    "__version__",
    "can_see",
    "canonical_observable",
    "canonicalise",
    "check_marking",
    "visible_filter",
]
