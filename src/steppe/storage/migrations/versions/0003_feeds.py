"""feeds

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.String(length=27)


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_org_id", sa.Integer(), nullable=False),
        sa.Column("distribution", sa.String(length=20), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("preset", sa.String(length=50), nullable=True),
        sa.Column("mapping", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("last_pull_at", _TS, nullable=True),
        sa.Column("last_version_at", _TS, nullable=True),
        sa.Column("last_success_at", _TS, nullable=True),
        sa.Column("last_status", sa.String(length=20), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_stats", sa.Text(), nullable=True),
        sa.Column("totals", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_org_id"], ["organisations.id"], name=op.f("fk_feeds_owner_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feeds")),
        sa.UniqueConstraint("name", name=op.f("uq_feeds_name")),
    )
    op.create_table(
        "feed_groups",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_feed_groups_feed_id_feeds")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["sharing_groups.id"], name=op.f("fk_feed_groups_group_id_sharing_groups")
        ),
        sa.PrimaryKeyConstraint("feed_id", "group_id", name=op.f("pk_feed_groups")),
    )
    op.create_table(
        "feed_entries",
        sa.Column("object_pk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=True),
        sa.Column("first_seen", _TS, nullable=False),
        sa.Column("last_seen", _TS, nullable=False),
        sa.Column("expired_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_feed_entries_feed_id_feeds")
        ),
        sa.ForeignKeyConstraint(
            ["object_pk"],
            ["intel_objects.pk"],
            name=op.f("fk_feed_entries_object_pk_intel_objects"),
        ),
        sa.PrimaryKeyConstraint("object_pk", name=op.f("pk_feed_entries")),
    )
    op.create_index("ix_feed_entries_feed_id", "feed_entries", ["feed_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_feed_entries_feed_id", table_name="feed_entries")
    op.drop_table("feed_entries")
    op.drop_table("feed_groups")
    op.drop_table("feeds")
