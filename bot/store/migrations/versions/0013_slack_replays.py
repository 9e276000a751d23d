"""slack_replays: Slack request signatures already accepted, kept until their five minutes are over"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0009"  # re-chained after main's 0009 (the brief said 0006; main took 0011 and 0009 first)
branch_labels = None
depends_on = None


def upgrade() -> None:
    # bot/replay.py: a second request with the same signature is a replay and runs nothing.
    op.create_table(
        "slack_replays",
        sa.Column("signature", sa.String(80), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_replays_expires_at", "slack_replays", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_replays_expires_at", table_name="slack_replays")
    op.drop_table("slack_replays")
