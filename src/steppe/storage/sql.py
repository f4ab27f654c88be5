"""SQL helpers that differ by database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Text,
    any_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

__all__ = ["IN_LIST_CHUNK", "in_values"]

#: How many values one :func:`in_values` predicate should carry. On PostgreSQL, larger
#: arrays made the planner switch to a parallel full scan of the observables (measured
#: with EXPLAIN at 10,000 values: 140 ms against ~12 ms per 1,000-value chunk).
IN_LIST_CHUNK = {"postgresql": 1000, "sqlite": 10_000}


def in_values(
    column: ColumnElement[Any], values: Sequence[str] | Sequence[int], dialect: str
) -> ColumnElement[bool]:
    """``column IN values`` as one bound parameter instead of one parameter per value.

    SQLAlchemy's expanding IN renders and binds thousands of parameters per query; the
    bulk look-up benchmark spent more time there than in the database, and so did the
    streaming detector's refresh (docs/benchmarks.md, TAXII). SQLite gets a JSON array
    read with ``json_each`` (planned as one index probe a value), PostgreSQL an array
    (of text, or of integers when ``values`` are ints) compared with ``= ANY``.
    """
    if dialect == "postgresql":
        # An empty list says nothing of its type: the column's then decides.
        numbers = isinstance(values[0], int) if values else isinstance(column.type, Integer)
        kind = BigInteger if numbers else Text
        return column == any_(bindparam(None, list(values), type_=ARRAY(kind)))
    array = orjson.dumps(list(values)).decode()
    each: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam(None, array))
    )
    return column.in_(each.scalar_subquery())
