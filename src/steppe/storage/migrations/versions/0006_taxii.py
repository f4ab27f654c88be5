"""TAXII collections, statuses and feeds, sync peers and cursors, the date_added index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 15:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.String(length=27)


def upgrade() -> None:
    with op.batch_alter_table("intel_objects", schema=None) as batch_op:
        batch_op.create_index("ix_intel_objects_imported_at", ["imported_at", "pk"], unique=False)
    op.create_table(
        "taxii_collections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("filter", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_collections")),
        sa.UniqueConstraint("alias", name=op.f("uq_taxii_collections_alias")),
    )
    op.create_table(
        "taxii_statuses",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("request_timestamp", TS, nullable=False),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("pending_count", sa.Integer(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_taxii_statuses_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_statuses")),
    )
    with op.batch_alter_table("taxii_statuses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_taxii_statuses_user_id"), ["user_id"], unique=False)
    op.create_table(
        "sync_peers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("api_root", sa.Text(), nullable=False),
        sa.Column("collection", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("tlp", sa.String(length=100), nullable=False),
        sa.Column("types", sa.Text(), nullable=False),
        sa.Column("sightings", sa.String(length=20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "direction IN ('pull', 'push', 'both')", name=op.f("ck_sync_peers_direction")
        ),
        sa.CheckConstraint(
            "sightings IN ('keep', 'anonymise', 'drop')", name=op.f("ck_sync_peers_sightings")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_sync_peers_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_peers")),
        sa.UniqueConstraint("name", name=op.f("uq_sync_peers_name")),
        sa.UniqueConstraint("org_id", name=op.f("uq_sync_peers_org_id")),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("next_token", sa.Text(), nullable=True),
        sa.Column("added_after", TS, nullable=True),
        sa.Column("after_ts", TS, nullable=True),
        sa.Column("after_pk", sa.Integer(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["sync_peers.id"], name=op.f("fk_sync_cursors_peer_id_sync_peers")
        ),
        sa.PrimaryKeyConstraint("peer_id", "direction", name=op.f("pk_sync_cursors")),
    )

    op.create_table(
        "taxii_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("collection", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("distribution", sa.String(length=20), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("every_minutes", sa.Integer(), nullable=False),
        sa.Column("next_token", sa.Text(), nullable=True),
        sa.Column("added_after", TS, nullable=True),
        sa.Column("last_run", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_taxii_feeds_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_feeds")),
        sa.UniqueConstraint("name", name=op.f("uq_taxii_feeds_name")),
    )


def downgrade() -> None:
    op.drop_table("taxii_feeds")
    op.drop_table("sync_cursors")
    op.drop_table("sync_peers")
    with op.batch_alter_table("taxii_statuses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_taxii_statuses_user_id"))
    op.drop_table("taxii_statuses")
    op.drop_table("taxii_collections")
    with op.batch_alter_table("intel_objects", schema=None) as batch_op:
        batch_op.drop_index("ix_intel_objects_imported_at")
