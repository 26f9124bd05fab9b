"""receipts: what councils' case systems sent back about each delivered copy

Revision ID: 0002_receipts
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_receipts"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the case_system_receipts table."""
    op.create_table(
        "case_system_receipts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("inbound_message_id", sa.String(length=36), nullable=False),
        sa.Column("authority", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("council_episode_id", sa.String(length=64), nullable=True),
        sa.Column("council_person_id", sa.String(length=64), nullable=True),
        sa.Column("matched_by", sa.String(length=32), nullable=True),
        sa.Column("candidates", sa.Integer(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"],
                                name=op.f("fk_case_system_receipts_delivery_id_deliveries")),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"], ["inbound_messages.id"],
            name=op.f("fk_case_system_receipts_inbound_message_id_inbound_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_system_receipts")),
    )
    op.create_index(op.f("ix_case_system_receipts_delivery_id"), "case_system_receipts",
                    ["delivery_id"])
    op.create_index("ix_case_system_receipts_authority_episode", "case_system_receipts",
                    ["authority", "council_episode_id"])


def downgrade() -> None:
    """Drop the case_system_receipts table."""
    op.drop_index("ix_case_system_receipts_authority_episode",
                  table_name="case_system_receipts")
    op.drop_index(op.f("ix_case_system_receipts_delivery_id"), table_name="case_system_receipts")
    op.drop_table("case_system_receipts")
