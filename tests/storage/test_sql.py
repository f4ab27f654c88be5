"""in_values: one bound parameter for a long IN list, on both databases."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, insert, select

from steppe.storage.sql import in_values

VALUES = ["a.example", "O'Brien", "пример.рф", 'quote"d', "x" * 500]


def test_in_values_matches_exactly_the_listed_values(engine: Engine) -> None:
    meta = MetaData()
    table = Table("t_in_values", meta, Column("v", String(600), primary_key=True))
    meta.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(insert(table), [{"v": v} for v in [*VALUES, "other", "a.example.x"]])
            dialect = engine.dialect.name
            found = set(
                conn.execute(
                    select(table.c.v).where(in_values(table.c.v, VALUES, dialect))
                ).scalars()
            )
            assert found == set(VALUES)
            none = conn.execute(select(table.c.v).where(in_values(table.c.v, [], dialect))).all()
            assert none == []
    finally:
        meta.drop_all(engine)


def test_in_values_matches_integer_keys(engine: Engine) -> None:
    """Object pks (the detector's refresh, score facts): an integer array on PostgreSQL,
    JSON numbers on SQLite, each compared as the integer it is."""
    meta = MetaData()
    table = Table("t_in_ints", meta, Column("k", BigInteger, primary_key=True))
    meta.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(insert(table), [{"k": k} for k in (1, 2, 10, 2**40, 2**40 + 1)])
            wanted = [10, 1, 2**40, 7]
            found = conn.execute(
                select(table.c.k).where(in_values(table.c.k, wanted, engine.dialect.name))
            ).scalars()
            assert sorted(found) == [1, 10, 2**40]
            none = conn.execute(
                select(table.c.k).where(in_values(table.c.k, [], engine.dialect.name))
            ).all()
            assert none == []
    finally:
        meta.drop_all(engine)
