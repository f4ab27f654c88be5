"""Blocklists for enforcement exports

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 18:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.String(length=27)


def upgrade() -> None:
    op.create_table(
        "blocklists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_blocklists_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocklists")),
        sa.UniqueConstraint("org_id", "name", name="uq_blocklists_org_name"),
    )
    op.create_table(
        "blocklist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blocklist_id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=300), nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("removed_at", TS, nullable=True),
        sa.Column("removed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["blocklist_id"],
            ["blocklists.id"],
            name=op.f("fk_blocklist_entries_blocklist_id_blocklists"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocklist_entries")),
    )
    with op.batch_alter_table("blocklist_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_blocklist_entries_list", ["blocklist_id", "stix_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("blocklist_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_blocklist_entries_list")
    op.drop_table("blocklist_entries")
    op.drop_table("blocklists")
