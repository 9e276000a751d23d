"""on-call: overrides, roster history; paging: alerts per incident, webhook deliveries seen"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
# Given as "0006"; chained after main's head (0008, after 0013, 0009 and 0011) once main was
# merged in, so the branch has one head. Re-chain freely: it only creates its own tables.
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rotation", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(32), nullable=True),
    )
    op.create_index("ix_oncall_overrides_rotation_ends", "oncall_overrides", ["rotation", "ends_at"])
    op.create_table(
        "oncall_rosters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rotation", sa.String(32), nullable=False),
        sa.Column("timing", sa.String(128), nullable=False),
        sa.Column("prev_id", sa.Integer, nullable=False),
        sa.Column("members", sa.Text, nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("base_index", sa.Integer, nullable=False),
        sa.Column("pos0", sa.Integer, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("rotation", "timing", "prev_id", name="uq_oncall_rosters_follow"),
    )
    op.create_table(
        "paging_alerts",
        sa.Column("incident_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("dedup_key", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "paging_webhooks",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False, server_default="received"),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
    )


def downgrade() -> None:
    op.drop_table("paging_webhooks")
    op.drop_table("paging_alerts")
    op.drop_table("oncall_rosters")
    op.drop_index("ix_oncall_overrides_rotation_ends", table_name="oncall_overrides")
    op.drop_table("oncall_overrides")
