"""Alembic environment: runs on the connection :mod:`steppe.storage.migrate` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from steppe.storage.schema import metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by a hand-run `alembic` command
    raise RuntimeError("run migrations through `steppe init`, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
