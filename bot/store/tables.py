"""The state store's tables (SQLAlchemy Core). Migrations in `migrations/versions` create them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Every request, preview, confirmation, refusal and result.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("request_id", String(32), nullable=False),
    Column("user_id", String(32), nullable=False, index=True),
    Column("channel_id", String(32), nullable=False, server_default=""),
    Column("command", String(200), nullable=False),
    Column("handler", String(64), nullable=True, index=True),
    Column("args", Text, nullable=False, server_default="{}"),
    Column("target", String(200), nullable=False, server_default=""),
    Column("event", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Column("duration_ms", Integer, nullable=True),
)

# A destructive request waiting for its confirmation (and maybe an approval).
pending_actions = Table(
    "pending_actions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("requester", String(32), nullable=False),
    Column("handler", String(64), nullable=False),
    Column("params", Text, nullable=False),
    Column("target", String(200), nullable=False, server_default=""),
    Column("preview", Text, nullable=False),
    Column("channel_id", String(32), nullable=False, server_default=""),
    Column("message_ts", String(32), nullable=True),
    Column("response_url", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("status", String(24), nullable=False, index=True),
    Column("needs_approval", Boolean, nullable=False, server_default="0"),
    Column("confirmed_by", String(32), nullable=True),
    Column("confirmed_at", DateTime(timezone=True), nullable=True),
    Column("approved_by", String(32), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("result", Text, nullable=True),
    Column("incident_id", Integer, nullable=True),
    # 0006: the request it came from, who decided, the approval message, when it finished.
    Column("request_id", String(32), nullable=False, server_default=""),
    Column("command", String(64), nullable=False, server_default=""),
    Column("text", Text, nullable=False, server_default=""),
    Column("decided_by", String(32), nullable=True),
    Column("approval_ts", String(32), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)
Index("ix_pending_actions_requester_created", pending_actions.c.requester, pending_actions.c.created_at)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(200), nullable=False),
    Column("severity", String(4), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("service", String(64), nullable=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("declared_by", String(32), nullable=False),
    Column("declared_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_by", String(32), nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("resolved_by", String(32), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolution", Text, nullable=True),
    Column("channel_id", String(32), nullable=True, index=True),
    Column("channel_name", String(80), nullable=True),
    Column("announcement_channel", String(32), nullable=True),
    Column("announcement_ts", String(32), nullable=True),
    Column("summary_ts", String(32), nullable=True),
    Column("roles", Text, nullable=False, server_default="{}"),
    # JSON list of set-up steps Slack refused, finished later by retry-setup.
    Column("setup_pending", Text, nullable=False, server_default="[]"),
    Column("last_update_at", DateTime(timezone=True), nullable=True),
    Column("next_update_due", DateTime(timezone=True), nullable=True),
    Column("escalation_step", Integer, nullable=False, server_default="0"),
    Column("next_escalation_due", DateTime(timezone=True), nullable=True),
    # When a scheduler instance claimed the reminder / escalation it is posting (a lease):
    # cleared once Slack accepted the post; a stale one means the poster died, so it is retried.
    Column("reminder_claimed_at", DateTime(timezone=True), nullable=True),
    Column("escalation_claimed_at", DateTime(timezone=True), nullable=True),
)
Index("ix_incidents_next_update_due", incidents.c.next_update_due)
Index("ix_incidents_next_escalation_due", incidents.c.next_escalation_due)

# The incident's timeline, from which the post-mortem is drawn.
incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("author", String(32), nullable=False, server_default=""),
    Column("text", Text, nullable=False, server_default=""),
    Column("public", Boolean, nullable=False, server_default="0"),
    Column("data", Text, nullable=False, server_default="{}"),
)

# One row per scheduled run that happened: the primary key makes each slot run once.
scheduled_runs = Table(
    "scheduled_runs",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("slot", DateTime(timezone=True), primary_key=True),
    Column("claimed_by", String(64), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=False, server_default="claimed"),
)
