"""telemetry: per-organisation retention of the event lake

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 15:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telemetry_retention",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.String(length=27), nullable=False),
        sa.CheckConstraint("days > 0", name=op.f("ck_telemetry_retention_days_positive")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_telemetry_retention_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_telemetry_retention")),
    )


def downgrade() -> None:
    op.drop_table("telemetry_retention")
