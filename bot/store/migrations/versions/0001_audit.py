"""audit log"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("command", sa.String(200), nullable=False),
        sa.Column("handler", sa.String(64), nullable=True),
        sa.Column("args", sa.Text, nullable=False, server_default="{}"),
        sa.Column("target", sa.String(200), nullable=False, server_default=""),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("duration_ms", sa.Integer, nullable=True),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_user_id", "audit", ["user_id"])
    op.create_index("ix_audit_handler", "audit", ["handler"])


def downgrade() -> None:
    op.drop_table("audit")
