"""alerts: groups and their Slack message, alert occurrences (fingerprint + startsAt once), watches"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0011"  # re-chained after main's 0011 (the brief said 0006; main took 0011 first)
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("receiver", sa.String(200), nullable=False, server_default=""),
        sa.Column("labels", sa.Text, nullable=False, server_default="{}"),
        sa.Column("common_labels", sa.Text, nullable=False, server_default="{}"),
        sa.Column("common_annotations", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("posted_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("post_lease", TS, nullable=True),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("firing_since", TS, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column(
            "incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("incident_lease", TS, nullable=True),
        sa.Column("incident_for", TS, nullable=True),
        sa.Column("runbook_for", TS, nullable=True),
        sa.Column("resolved_told_for", TS, nullable=True),
        sa.Column("acked_by", sa.String(32), nullable=True),
        sa.Column("acked_at", TS, nullable=True),
    )
    op.create_index("ix_alert_groups_due", "alert_groups", ["seq", "posted_seq"])
    op.create_table(
        "alert_occurrences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "group_id", sa.Integer, sa.ForeignKey("alert_groups.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("labels", sa.Text, nullable=False, server_default="{}"),
        sa.Column("annotations", sa.Text, nullable=False, server_default="{}"),
        sa.Column("generator_url", sa.Text, nullable=False, server_default=""),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("resolved_received_at", TS, nullable=True),
        sa.Column("told", sa.String(16), nullable=False, server_default=""),
        sa.UniqueConstraint("fingerprint", "starts_at", name="uq_alert_occurrence"),
    )
    op.create_index("ix_alert_occurrences_group_id", "alert_occurrences", ["group_id"])
    op.create_index("ix_alert_occurrences_status", "alert_occurrences", ["status"])
    op.create_table(
        "watch_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("fails", sa.Integer, nullable=False, server_default="0"),
        sa.Column("oks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("streak_since", TS, nullable=True),
        sa.Column("alert_starts_at", TS, nullable=True),
        sa.Column("last_outcome", sa.String(8), nullable=False, server_default=""),
        sa.Column("last_detail", sa.Text, nullable=False, server_default=""),
        sa.Column("last_at", TS, nullable=True),
        sa.Column("last_slot", TS, nullable=True),
    )
    op.create_table(
        "watch_days",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("ok", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("down", sa.Boolean, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("watch_days")
    op.drop_table("watch_state")
    op.drop_index("ix_alert_occurrences_status", table_name="alert_occurrences")
    op.drop_index("ix_alert_occurrences_group_id", table_name="alert_occurrences")
    op.drop_table("alert_occurrences")
    op.drop_index("ix_alert_groups_due", table_name="alert_groups")
    op.drop_table("alert_groups")
