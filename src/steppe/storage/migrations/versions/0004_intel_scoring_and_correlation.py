"""intel scoring and correlation: warninglist flags, bounded correlations, sightings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.String(length=27)


def upgrade() -> None:
    with op.batch_alter_table("observables", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warninglists", sa.Text(), nullable=True))
    op.create_table(
        "correlation_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("over_cap", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correlation_values")),
        sa.UniqueConstraint("value", "type", name="uq_correlation_values_value"),
    )
    op.create_table(
        "correlations",
        sa.Column("value_id", sa.Integer(), nullable=False),
        sa.Column("object_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["value_id"],
            ["correlation_values.id"],
            name=op.f("fk_correlations_value_id_correlation_values"),
        ),
        sa.ForeignKeyConstraint(
            ["object_pk"],
            ["intel_objects.pk"],
            name=op.f("fk_correlations_object_pk_intel_objects"),
        ),
        sa.PrimaryKeyConstraint("value_id", "object_pk", name=op.f("pk_correlations")),
    )
    with op.batch_alter_table("correlations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_correlations_object_pk"), ["object_pk"], unique=False)
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=300), nullable=False),
        sa.Column("owner_org_id", sa.Integer(), nullable=False),
        sa.Column("object_pk", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("named", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "type IN ('seen', 'false-positive', 'expired')", name=op.f("ck_sightings_type")
        ),
        sa.CheckConstraint("count >= 1", name=op.f("ck_sightings_count")),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisations.id"],
            name=op.f("fk_sightings_owner_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["object_pk"], ["intel_objects.pk"], name=op.f("fk_sightings_object_pk_intel_objects")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_sightings_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
    )
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.create_index("ix_sightings_object", ["stix_id", "owner_org_id"], unique=False)
    # correlation_values ids come in blocks, like objects' (steppe.storage.ids)
    id_sequences = sa.table("id_sequences", sa.column("name"), sa.column("next_id"))
    op.bulk_insert(id_sequences, [{"name": "correlation_values", "next_id": 1}])


def downgrade() -> None:
    op.execute("DELETE FROM id_sequences WHERE name = 'correlation_values'")
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_index("ix_sightings_object")
    op.drop_table("sightings")
    with op.batch_alter_table("correlations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_correlations_object_pk"))
    op.drop_table("correlations")
    op.drop_table("correlation_values")
    with op.batch_alter_table("observables", schema=None) as batch_op:
        batch_op.drop_column("warninglists")
