"""The alert tables (SQLAlchemy Core, on the shared metadata). Migration 0009 creates them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bot.store.tables import metadata

# One row per alert group (Alertmanager's groupKey, per source): its Slack message and claims.
alert_groups = Table(
    "alert_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256(source + groupKey)
    Column("group_key", Text, nullable=False),
    Column("source", String(16), nullable=False),
    Column("receiver", String(200), nullable=False, server_default=""),
    Column("labels", Text, nullable=False, server_default="{}"),  # groupLabels
    Column("common_labels", Text, nullable=False, server_default="{}"),
    Column("common_annotations", Text, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Every accepted change bumps seq; the Slack message shows posted_seq. seq > posted_seq: due.
    Column("seq", Integer, nullable=False, server_default="0"),
    Column("posted_seq", Integer, nullable=False, server_default="0"),
    Column("post_lease", DateTime(timezone=True), nullable=True),
    Column("channel_id", String(32), nullable=True),
    Column("message_ts", String(32), nullable=True),
    # The current firing episode (None while every alert is resolved) and what was done for it.
    Column("firing_since", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True),
    Column("incident_lease", DateTime(timezone=True), nullable=True),
    Column("incident_for", DateTime(timezone=True), nullable=True),  # the episode it was declared in
    Column("runbook_for", DateTime(timezone=True), nullable=True),
    Column("resolved_told_for", DateTime(timezone=True), nullable=True),
    Column("acked_by", String(32), nullable=True),
    Column("acked_at", DateTime(timezone=True), nullable=True),
)
Index("ix_alert_groups_due", alert_groups.c.seq, alert_groups.c.posted_seq)

# One row per alert occurrence: (fingerprint, startsAt) is stored once, whoever sends it.
alert_occurrences = Table(
    "alert_occurrences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "group_id", Integer, ForeignKey("alert_groups.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("fingerprint", String(64), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=True),
    Column("labels", Text, nullable=False, server_default="{}"),
    Column("annotations", Text, nullable=False, server_default="{}"),
    Column("generator_url", Text, nullable=False, server_default=""),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("resolved_received_at", DateTime(timezone=True), nullable=True),
    # The status already told to the group's incident (its channel and timeline), once.
    Column("told", String(16), nullable=False, server_default=""),
    UniqueConstraint("fingerprint", "starts_at", name="uq_alert_occurrence"),
)
Index("ix_alert_occurrences_status", alert_occurrences.c.status)

# A watch's running state: consecutive outcomes and the alert it raised.
watch_state = Table(
    "watch_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("service", String(64), nullable=False),
    Column("fails", Integer, nullable=False, server_default="0"),
    Column("oks", Integer, nullable=False, server_default="0"),
    Column("streak_since", DateTime(timezone=True), nullable=True),  # first slot of the failing streak
    Column("alert_starts_at", DateTime(timezone=True), nullable=True),  # set while its alert fires
    Column("last_outcome", String(8), nullable=False, server_default=""),
    Column("last_detail", Text, nullable=False, server_default=""),
    Column("last_at", DateTime(timezone=True), nullable=True),
    Column("last_slot", DateTime(timezone=True), nullable=True),
)

# Probes per watch and day (UTC), for the status page's 90-day uptime bar.
watch_days = Table(
    "watch_days",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("ok", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("down", Boolean, nullable=False, server_default="0"),  # its alert fired that day
)
