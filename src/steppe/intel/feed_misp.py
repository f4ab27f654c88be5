"""MISP event JSON → STIX 2.1 objects, by misp-stix (the MISP project's converter).

A stop-gap for the feed puller until the MISP reader of :mod:`steppe.ingest.intel`
lands; the errors name the file, as every reader's do.
"""

from __future__ import annotations

from typing import Any

import orjson

from steppe.errors import InvalidStix

__all__ = ["misp_event_to_stix"]


def misp_event_to_stix(data: bytes, source: str) -> list[Any]:
    from misp_stix_converter import MISPtoSTIX21Parser  # type: ignore[import-untyped]  # 0.3 s to import: only when used

    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidStix(f"not valid JSON: {exc.msg}", source=source, line=exc.lineno) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Event", doc), dict):
        raise InvalidStix("expected a MISP event ({'Event': {...}})", source=source, line=1)
    parser = MISPtoSTIX21Parser()
    try:
        parser.parse_misp_event(doc if "Event" in doc else {"Event": doc})
    except Exception as exc:  # misp-stix raises many kinds on malformed events
        raise InvalidStix(f"not a MISP event misp-stix can read: {exc}", source=source) from None
    return [orjson.loads(obj.serialize()) for obj in parser.stix_objects]
