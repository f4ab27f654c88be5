"""Our condition parser against pySigma's: the same tree for every SigmaHQ rule."""

from __future__ import annotations

from typing import Any

import pytest
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule

from steppe.detection.sigma import ir
from steppe.detection.sigma.loader import load_rules

from .conftest import RULE_DIRS, SIGMA_DATA


def _from_pysigma(item: Any) -> ir.Node:
    """The tree built from pySigma's own parse of the condition (pyparsing)."""
    if isinstance(item, ConditionAND):
        return ir._merge(ir.And(tuple(_from_pysigma(a) for a in item.args)))
    if isinstance(item, ConditionOR):
        return ir._merge(ir.Or(tuple(_from_pysigma(a) for a in item.args)))
    if isinstance(item, ConditionNOT):
        return ir.Not(_from_pysigma(item.args[0]))
    if isinstance(item, ConditionFieldEqualsValueExpression):
        return ir._leaf(item.field, item.value)
    assert isinstance(item, ConditionValueExpression)
    return ir._leaf(None, item.value)


def _canonical(node: ir.Node) -> Any:
    """Order-free form: And/Or children as sorted reprs, after flattening."""
    if isinstance(node, ir.And | ir.Or):
        flat: list[ir.Node] = []
        for child in node.items:
            flat.extend(child.items if type(child) is type(node) else (child,))
        return (type(node).__name__, tuple(sorted(repr(_canonical(c)) for c in flat)))
    if isinstance(node, ir.Not):
        return ("Not", _canonical(node.item))
    if isinstance(node, ir.Match):
        return (
            "Match",
            node.field,
            node.kind,
            tuple(sorted(node.values)),
            node.cased,
            node.all and len(set(node.values)) > 1,
        )
    return node


def test_condition_parser_agrees_with_pysigma() -> None:
    if not (SIGMA_DATA / "rules").is_dir():
        pytest.skip("tests/data/sigma is missing")
    loaded = load_rules(RULE_DIRS)
    compared = 0
    for rule in loaded.rules:
        assert isinstance(rule, SigmaRule)
        try:
            ours = ir.rule_tree(rule)
        except ir.Unsupported:
            continue
        trees = [_from_pysigma(c.parsed) for c in rule.detection.parsed_condition]
        theirs = trees[0] if len(trees) == 1 else ir._merge(ir.Or(tuple(trees)))
        assert _canonical(ours) == _canonical(theirs), rule.source
        compared += 1
    assert compared > 3700


def test_unsupported_condition_is_reported_not_raised() -> None:
    rule = SigmaRule.from_dict(
        {
            "title": "old aggregation",
            "logsource": {"product": "windows"},
            "detection": {"sel": {"a": 1}, "condition": "sel | count() > 5"},
        }
    )
    with pytest.raises(ir.Unsupported, match="aggregation"):
        ir.rule_tree(rule)
