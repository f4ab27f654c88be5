"""Blocks of ids for bulk inserts, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy import Connection, update

from steppe.errors import IntegrityError
from steppe.storage.schema import id_sequences

__all__ = ["ID_SEQUENCES", "allocate_ids"]

#: Tables whose ids come from :func:`allocate_ids`; migrations create their rows.
ID_SEQUENCES = ("intel_objects", "observables")


def allocate_ids(conn: Connection, name: str, count: int) -> range:
    """Reserve ``count`` consecutive ids for table ``name`` inside ``conn``'s transaction.

    The UPDATE takes the row's write lock, so concurrent importers get disjoint blocks;
    on SQLite it also takes the database write lock first thing, before any read, which
    keeps the transaction from failing later with SQLITE_BUSY on a stale snapshot.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    stmt = (
        update(id_sequences)
        .where(id_sequences.c.name == name)
        .values(next_id=id_sequences.c.next_id + count)
        .returning(id_sequences.c.next_id)
    )
    after = conn.execute(stmt).scalar()
    if after is None:
        raise IntegrityError(f"id sequence {name!r} is missing; run `steppe init` to migrate")
    start = after - count
    return range(start, after)
