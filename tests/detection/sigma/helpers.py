"""Small rules and events for the Sigma tests."""

from __future__ import annotations

from typing import Any

from sigma.collection import SigmaCollection

from steppe.detection.sigma.engine import SigmaEngine
from steppe.detection.sigma.loader import LoadedRules

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def rule(
    detection: dict[str, Any],
    logsource: dict[str, Any] | None = None,
    title: str = "test rule",
    rule_id: str = "00000000-0000-4000-8000-000000000001",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "title": title,
        "id": rule_id,
        "logsource": logsource or {"product": "windows", "category": "process_creation"},
        "detection": detection,
        **extra,
    }


def engine(*docs: dict[str, Any]) -> SigmaEngine:
    collection = SigmaCollection.from_dicts(list(docs), collect_filters=True)
    out = LoadedRules()
    for item in collection.rules:
        if type(item).__name__ == "SigmaCorrelationRule":
            out.correlations.append(item)  # type: ignore[arg-type]
        else:
            out.rules.append(item)  # type: ignore[arg-type]
    return SigmaEngine(out)


def sysmon(
    event_id: int = 1, time: str = "2026-11-28T10:00:00.000000Z", **fields: Any
) -> dict[str, Any]:
    raw = {"EventID": event_id, "Channel": SYSMON, "Provider_Name": "Microsoft-Windows-Sysmon"}
    raw.update(fields)
    return {"event.module": "windows", "@timestamp": time, "raw": raw}


def fires(detection: dict[str, Any], **fields: Any) -> bool:
    """Whether a one-rule process-creation engine matches a Sysmon 1 event."""
    return bool(engine(rule(detection)).matching_rules(sysmon(**fields)))
