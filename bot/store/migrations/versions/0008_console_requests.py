"""console requests: which OS account asked for a pending action from the console"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0013"  # the brief said "0006"; re-chained after main's head (0013) when merging main
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_requests",
        sa.Column("action_id", sa.String(64), primary_key=True),
        sa.Column("os_account", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("console_requests")
