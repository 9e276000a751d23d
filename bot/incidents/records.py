"""Incident rows as values, and the small queries everything else shares."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update

from bot.metrics import OPEN_INCIDENTS
from bot.store import as_utc
from bot.store.tables import incidents

# The seeds' lifecycle: investigating → identified → monitoring → resolved.
STATUSES = ("investigating", "identified", "monitoring", "resolved")
RESOLVED = "resolved"

# Slack set-up steps in the order they run; the names are what `setup_pending` records.
SETUP_STEPS = ("channel", "invite", "topic", "bookmarks", "summary", "pin", "checklist", "announce")
STEP_LABELS = {
    "channel": "create the incident channel",
    "invite": "invite the responders",
    "topic": "set the channel topic",
    "bookmarks": "add the runbook bookmarks",
    "summary": "post the incident summary",
    "pin": "pin the summary",
    "checklist": "post the response checklist",
    "announce": "announce the incident",
}


class IncidentError(Exception):
    """A request about an incident that cannot be done; the message tells the user why."""


@dataclass(frozen=True)
class Incident:
    id: int
    title: str
    severity: str
    status: str
    service: str | None
    description: str
    declared_by: str
    declared_at: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
    channel_id: str | None = None
    channel_name: str | None = None
    announcement_channel: str | None = None
    announcement_ts: str | None = None
    summary_ts: str | None = None
    roles: Mapping[str, str] = field(default_factory=dict)
    setup_pending: tuple[Mapping[str, str], ...] = ()
    last_update_at: datetime | None = None
    next_update_due: datetime | None = None
    escalation_step: int = 0
    next_escalation_due: datetime | None = None

    @property
    def ref(self) -> str:
        return f"#{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status != RESOLVED

    @property
    def commander(self) -> str:
        return self.roles.get("commander") or self.declared_by

    @property
    def pending_steps(self) -> list[str]:
        return [str(p.get("step", "")) for p in self.setup_pending]


def _loads(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def from_row(row: Any) -> Incident:
    m = row._mapping
    pending = _loads(m["setup_pending"], [])
    return Incident(
        id=int(m["id"]),
        title=m["title"],
        severity=m["severity"],
        status=m["status"],
        service=m["service"],
        description=m["description"] or "",
        declared_by=m["declared_by"],
        declared_at=as_utc(m["declared_at"]),
        acknowledged_by=m["acknowledged_by"],
        acknowledged_at=as_utc(m["acknowledged_at"]),
        resolved_by=m["resolved_by"],
        resolved_at=as_utc(m["resolved_at"]),
        resolution=m["resolution"],
        channel_id=m["channel_id"],
        channel_name=m["channel_name"],
        announcement_channel=m["announcement_channel"],
        announcement_ts=m["announcement_ts"],
        summary_ts=m["summary_ts"],
        roles=dict(_loads(m["roles"], {})),
        setup_pending=tuple(p for p in pending if isinstance(p, dict)),
        last_update_at=as_utc(m["last_update_at"]),
        next_update_due=as_utc(m["next_update_due"]),
        escalation_step=int(m["escalation_step"] or 0),
        next_escalation_due=as_utc(m["next_escalation_due"]),
    )


def get(engine: Engine, incident_id: int) -> Incident | None:
    with engine.connect() as conn:
        row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    return from_row(row) if row else None


def require(engine: Engine, incident_id: int) -> Incident:
    found = get(engine, incident_id)
    if found is None:
        raise IncidentError(f"There is no incident #{incident_id}. `/incident list` shows the open ones.")
    return found


def list_open(engine: Engine) -> list[Incident]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(incidents).where(incidents.c.status != RESOLVED).order_by(incidents.c.id)
        ).all()
    return [from_row(r) for r in rows]


def count_open(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(incidents).where(incidents.c.status != RESOLVED)
            ).scalar_one()
        )


def refresh_open_gauge(engine: Engine) -> None:
    """The gauge follows the store (not this process's memory), so it survives restarts."""
    OPEN_INCIDENTS.set(count_open(engine))


def save(engine: Engine, incident_id: int, **values: Any) -> Incident:
    """Write some columns and return the row as it now is."""
    for key in ("roles", "setup_pending"):
        if key in values and not isinstance(values[key], str):
            values[key] = json.dumps(values[key])
    with engine.begin() as conn:
        conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))
    return require(engine, incident_id)
