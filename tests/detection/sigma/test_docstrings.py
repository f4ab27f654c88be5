"""The usage examples in the Sigma modules' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "correlation",
    "engine",
    "hits",
    "ir",
    "loader",
    "logsource",
    "plan",
    "predicates",
    "scan",
    "store",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"steppe.detection.sigma.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
