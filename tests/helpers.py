"""Builders for tests: small worlds of organisations, groups, users and STIX objects."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

WHEN = "2026-01-01T00:00:00.000Z"


def indicator(value: str, path: str = "domain-name:value", **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": WHEN,
        "modified": WHEN,
        "name": f"test {value}",
        "pattern": f"[{path} = '{value}']",
        "pattern_type": "stix",
        "valid_from": WHEN,
    }
    obj.update(extra)
    return obj


def bundle(*objects: dict[str, Any], pretty: bool = True) -> bytes:
    doc = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 if pretty else 0)
