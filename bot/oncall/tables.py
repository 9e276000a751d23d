"""The on-call and paging tables (migration 0010). Kept here, apart from the shared `bot.store.tables`."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

# Overrides: someone takes a rotation's place from `starts_at` to `ends_at`. Removed ones stay
# (removed_at set), so the audit and the hand-off history still tell who was on call.
oncall_overrides = Table(
    "oncall_overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rotation", String(32), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("removed_at", DateTime(timezone=True), nullable=True),
    Column("removed_by", String(32), nullable=True),
)
Index("ix_oncall_overrides_rotation_ends", oncall_overrides.c.rotation, oncall_overrides.c.ends_at)

# The roster history: each member list a rotation had, from when it applies. A change in
# chatops.yaml is recorded the first time a replica sees it, so past shifts keep who they had.
# (rotation, timing, prev_id) is unique: two replicas seeing the same change record it once.
oncall_rosters = Table(
    "oncall_rosters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rotation", String(32), nullable=False),
    Column("timing", String(128), nullable=False),  # every|handoff|timezone|start: a new one starts afresh
    Column("prev_id", Integer, nullable=False),  # the row this one follows (0 for the first)
    Column("members", Text, nullable=False),  # JSON list of user ids
    Column("effective_at", DateTime(timezone=True), nullable=True),  # None: from the rotation's start
    Column("base_index", Integer, nullable=False),
    Column("pos0", Integer, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("rotation", "timing", "prev_id", name="uq_oncall_rosters_follow"),
)

# One PagerDuty alert per incident: the dedup key and how far it got.
paging_alerts = Table(
    "paging_alerts",
    metadata,
    Column("incident_id", Integer, primary_key=True, autoincrement=False),
    Column("dedup_key", String(64), nullable=False, unique=True),
    Column("state", String(16), nullable=False),  # triggering, triggered, acknowledged, resolved, failed
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
)

# PagerDuty v3 webhook deliveries seen (at-least-once delivery): the event id is the key.
paging_webhooks = Table(
    "paging_webhooks",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("incident_id", Integer, nullable=True),
    Column("outcome", String(32), nullable=False, server_default="received"),
    Column("detail", Text, nullable=False, server_default="{}"),  # JSON: who, link (to redo the work)
)
