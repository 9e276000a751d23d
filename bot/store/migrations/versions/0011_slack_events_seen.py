"""slack_events_seen: Events API callbacks already handled (a retried event runs once)"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_events_seen",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_events_seen_seen_at", "slack_events_seen", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_events_seen_seen_at", table_name="slack_events_seen")
    op.drop_table("slack_events_seen")
