"""The examples in the modules' docstrings run and say what they show."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from steppe.ingest.intel import (
    entries,
    lists,
    misp_export,
    misp_import,
    misp_mapping,
    misp_objects,
    text,
)


@pytest.mark.parametrize(
    "module",
    [entries, lists, misp_export, misp_import, misp_mapping, misp_objects, text],
    ids=lambda m: m.__name__.rsplit(".", 1)[-1],
)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
