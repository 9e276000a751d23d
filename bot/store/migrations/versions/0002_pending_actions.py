"""pending actions (confirmation and approval)"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_actions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("requester", sa.String(32), nullable=False),
        sa.Column("handler", sa.String(64), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("target", sa.String(200), nullable=False, server_default=""),
        sa.Column("preview", sa.Text, nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("response_url", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("needs_approval", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("confirmed_by", sa.String(32), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("incident_id", sa.Integer, nullable=True),
    )
    op.create_index("ix_pending_actions_status", "pending_actions", ["status"])


def downgrade() -> None:
    op.drop_table("pending_actions")
