"""Sigma rules on members' telemetry: loading (pySigma), logsource mapping, compiled
matching, correlation, hot reload and the responder's scan mode. See docs/sigma.md.

    >>> from steppe.detection.sigma import RuleStore, SigmaEngine, SigmaHit  # doctest: +SKIP
"""

from steppe.detection.sigma.engine import RuleInfo, SigmaEngine
from steppe.detection.sigma.hits import AlertSink, MemoryAlertSink, SigmaHit
from steppe.detection.sigma.loader import LoadedRules, LoadProblem, load_rules
from steppe.detection.sigma.scan import ScanReport, scan
from steppe.detection.sigma.store import Reload, RuleStore

__all__ = [
    "AlertSink",
    "LoadProblem",
    "LoadedRules",
    "MemoryAlertSink",
    "Reload",
    "RuleInfo",
    "RuleStore",
    "ScanReport",
    "SigmaEngine",
    "SigmaHit",
    "load_rules",
    "scan",
]
