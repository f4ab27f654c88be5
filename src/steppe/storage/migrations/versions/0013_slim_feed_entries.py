"""Feed entries keep only what their indicator version does not hold

``feed_entries`` repeated its version's observable (type, value), confidence,
``valid_from`` (first seen) and ``valid_until`` (expired at), and wrote the pull's time as
``last_seen`` on every row. Those are now read from ``intel_objects`` and ``observables``
(steppe.intel.provenance); ``last_seen`` stays only on expired entries (the feed's pull
before they went), NULL while the entry is listed.

Revision ID: 0013
Revises: 0010
Create Date: 2026-11-29 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.String(length=27)


def upgrade() -> None:
    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.alter_column("last_seen", existing_type=TS, nullable=True)
    op.execute("UPDATE feed_entries SET last_seen = NULL WHERE expired_at IS NULL")
    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.drop_column("expired_at")
        batch_op.drop_column("first_seen")
        batch_op.drop_column("confidence")
        batch_op.drop_column("value")
        batch_op.drop_column("type")


def downgrade() -> None:
    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("type", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("value", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("confidence", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_seen", TS, nullable=True))
        batch_op.add_column(sa.Column("expired_at", TS, nullable=True))
    op.execute(
        "UPDATE feed_entries SET"
        " type = (SELECT o.type FROM observables o WHERE o.object_pk = feed_entries.object_pk),"
        " value = (SELECT o.value FROM observables o WHERE o.object_pk = feed_entries.object_pk),"
        " confidence = (SELECT i.confidence FROM intel_objects i"
        " WHERE i.pk = feed_entries.object_pk),"
        " first_seen = (SELECT i.valid_from FROM intel_objects i"
        " WHERE i.pk = feed_entries.object_pk),"
        " expired_at = (SELECT i.valid_until FROM intel_objects i"
        " WHERE i.pk = feed_entries.object_pk),"
        " last_seen = COALESCE(last_seen, (SELECT i.modified FROM intel_objects i"
        " WHERE i.pk = feed_entries.object_pk))"
    )
    with op.batch_alter_table("feed_entries", schema=None) as batch_op:
        batch_op.alter_column("type", existing_type=sa.String(length=20), nullable=False)
        batch_op.alter_column("value", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("first_seen", existing_type=TS, nullable=False)
        batch_op.alter_column("last_seen", existing_type=TS, nullable=False)
