"""tracking: tracked episodes, return home interviews and attempts, acks, repeat triggers

Revision ID: 0002_tracking
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_tracking"
down_revision = "0001"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the tracking tables."""
    op.create_table(
        "tracking_episodes",
        sa.Column("episode_id", sa.String(length=36), nullable=False),
        sa.Column("force", sa.String(length=64), nullable=False),
        sa.Column("child_key", sa.String(length=160), nullable=True),
        sa.Column("owner_authority", sa.String(length=64), nullable=True),
        sa.Column("home_authority", sa.String(length=64), nullable=True),
        sa.Column("responsible_authority", sa.String(length=64), nullable=True),
        sa.Column("host_authority", sa.String(length=64), nullable=True),
        sa.Column("looked_after", sa.Boolean(), nullable=False),
        sa.Column("risk_grade", sa.String(length=32), nullable=True),
        _when("opened_at"),
        _when("received_at"),
        _when("last_police_update_at", nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["episode_id"], ["episodes.id"],
                                name=op.f("fk_tracking_episodes_episode_id_episodes")),
        sa.PrimaryKeyConstraint("episode_id", name=op.f("pk_tracking_episodes")),
    )
    op.create_index("ix_tracking_episodes_child_opened", "tracking_episodes",
                    ["child_key", "opened_at"])
    op.create_table(
        "tracking_rhis",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("episode_id", sa.String(length=36), nullable=False),
        sa.Column("child_key", sa.String(length=160), nullable=True),
        sa.Column("responsible_authority", sa.String(length=64), nullable=True),
        sa.Column("conducting_authority", sa.String(length=64), nullable=True),
        sa.Column("host_authority", sa.String(length=64), nullable=True),
        sa.Column("looked_after", sa.Boolean(), nullable=False),
        sa.Column("risk_grade", sa.String(length=32), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("clock_start", sa.String(length=16), nullable=False),
        _when("start_at"),
        _when("due_at"),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when("offered_at", nullable=True),
        sa.Column("accepted", sa.String(length=2), nullable=False),
        _when("outcome_at", nullable=True),
        sa.Column("outcome_by", sa.String(length=120), nullable=True),
        sa.Column("late_reason", sa.Text(), nullable=True),
        sa.Column("unsuccessful_attempts", sa.Integer(), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["episode_id"], ["episodes.id"],
                                name=op.f("fk_tracking_rhis_episode_id_episodes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_rhis")),
        sa.UniqueConstraint("episode_id", name=op.f("uq_tracking_rhis_episode_id")),
    )
    for column in ("child_key", "responsible_authority", "conducting_authority", "due_at",
                   "status"):
        op.create_index(op.f(f"ix_tracking_rhis_{column}"), "tracking_rhis", [column])
    op.create_table(
        "tracking_rhi_attempts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("rhi_id", sa.String(length=36), nullable=False),
        _when("at"),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("successful", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=120), nullable=True),
        _when("recorded_at"),
        sa.ForeignKeyConstraint(["rhi_id"], ["tracking_rhis.id"],
                                name=op.f("fk_tracking_rhi_attempts_rhi_id_tracking_rhis")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_rhi_attempts")),
    )
    op.create_index(op.f("ix_tracking_rhi_attempts_rhi_id"), "tracking_rhi_attempts",
                    ["rhi_id"])
    op.create_table(
        "tracking_delivery_acks",
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("authority", sa.String(length=64), nullable=False),
        _when("first_sent_at"),
        _when("received_at", nullable=True),
        _when("accepted_at", nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("alternate_of", sa.String(length=36), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"],
            name=op.f("fk_tracking_delivery_acks_delivery_id_deliveries")),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_tracking_delivery_acks")),
    )
    op.create_index(op.f("ix_tracking_delivery_acks_authority"), "tracking_delivery_acks",
                    ["authority"])
    op.create_index(op.f("ix_tracking_delivery_acks_alternate_of"), "tracking_delivery_acks",
                    ["alternate_of"])
    op.create_table(
        "tracking_repeat_triggers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("child_key", sa.String(length=160), nullable=False),
        sa.Column("authority", sa.String(length=64), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.String(length=36), nullable=False),
        _when("raised_at"),
        _when("due_at"),
        sa.Column("item_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_repeat_triggers")),
    )
    op.create_index("ix_tracking_repeat_triggers_child", "tracking_repeat_triggers",
                    ["child_key", "authority", "item"])
    # Clocks are listed by subject when an event cancels them.
    op.create_index("ix_clocks_subject", "clocks", ["subject_id", "state"])


def downgrade() -> None:
    """Drop the tracking tables."""
    op.drop_index("ix_clocks_subject", table_name="clocks")
    for table in ("tracking_repeat_triggers", "tracking_delivery_acks",
                  "tracking_rhi_attempts", "tracking_rhis", "tracking_episodes"):
        op.drop_table(table)
