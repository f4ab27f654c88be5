"""Playbooks: cursors, runs, action attempts, incidents opened; the alerts creation index

Revision ID: 0010
Revises: 0012
Create Date: 2026-11-28 18:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.String(length=27)
_STATUSES = "status IN ('pending', 'running', 'ok', 'failed', 'retrying', 'dead')"


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_created", ["created_at", "id"], unique=False)
    op.create_table(
        "playbook_cursors",
        sa.Column("playbook", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("after_ts", TS, nullable=True),
        sa.Column("after_key", sa.String(length=300), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("playbook", name=op.f("pk_playbook_cursors")),
    )
    op.create_table(
        "playbook_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("playbook", sa.String(length=200), nullable=False),
        sa.Column("owner_org_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("item_key", sa.String(length=300), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_playbook_runs_status")),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisations.id"],
            name=op.f("fk_playbook_runs_owner_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_runs")),
        sa.UniqueConstraint("playbook", "item_key", name="uq_playbook_runs_item"),
    )
    with op.batch_alter_table("playbook_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_playbook_runs_owner_org_id"), ["owner_org_id"], unique=False
        )
    op.create_table(
        "playbook_actions",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_playbook_actions_status")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["playbook_runs.id"], name=op.f("fk_playbook_actions_run_id_playbook_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "position", name=op.f("pk_playbook_actions")),
    )
    with op.batch_alter_table("playbook_actions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_playbook_actions_due", ["status", "next_attempt_at"], unique=False
        )
    op.create_table(
        "playbook_incidents",
        sa.Column("playbook", sa.String(length=200), nullable=False),
        sa.Column("group_key", sa.String(length=300), nullable=False),
        sa.Column("incident_id", sa.String(length=100), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("last_added_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("playbook", "group_key", name=op.f("pk_playbook_incidents")),
    )


def downgrade() -> None:
    op.drop_table("playbook_incidents")
    with op.batch_alter_table("playbook_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_playbook_actions_due")
    op.drop_table("playbook_actions")
    with op.batch_alter_table("playbook_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playbook_runs_owner_org_id"))
    op.drop_table("playbook_runs")
    op.drop_table("playbook_cursors")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_created")
