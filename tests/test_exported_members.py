"""`steppe.__all__` names exactly the public members, and each exists."""

from __future__ import annotations

import steppe


def test_all_is_complete_and_real() -> None:
    public = {name for name in dir(steppe) if not name.startswith("_")} - {"annotations"}
    # Subpackages are importable but are not part of the flat API.
    modules = {
        "alerts", "api", "audit", "cli", "demo", "detection", "errors", "federation", "heap", "ingest", "intel", "lake", "response", "settings",
        "sharing", "storage", "web", "workers",
    }  # fmt: skip
    assert set(steppe.__all__) - {"__version__"} == public - modules
    for name in steppe.__all__:
        assert hasattr(steppe, name)
