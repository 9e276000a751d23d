"""The public status page (`/status`): what people outside the war room may see.

Open incidents (title, severity, status, when it started, the latest PUBLIC update) and the
incidents resolved in the last 7 days. Only timeline rows with kind "update" and public=True
are shown: private updates, runbook output, actions and roles stay in the war room.
Everything is escaped by the template engine (autoescape), so a title like
`<script>` is shown as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Connection, Engine, and_, or_, select

from bot.alerts.status import ServiceStatus
from bot.alerts.status import services as service_states
from bot.config import ChatopsConfig
from bot.store import as_utc
from bot.store.tables import incident_events, incidents

RESOLVED_WINDOW = timedelta(days=7)
REFRESH_SECONDS = 60
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class PublicUpdate:
    at: datetime
    text: str


@dataclass(frozen=True)
class IncidentView:
    id: int
    title: str
    severity: str
    severity_label: str
    status: str
    started: datetime
    resolved: datetime | None
    update: PublicUpdate | None

    @property
    def duration(self) -> timedelta | None:
        return self.resolved - self.started if self.resolved else None


@dataclass(frozen=True)
class StatusData:
    open: Sequence[IncidentView]
    resolved: Sequence[IncidentView]
    generated_at: datetime
    services: Sequence[ServiceStatus] = ()  # from the watches (bot.alerts.status)

    @property
    def worst_severity(self) -> str | None:
        return min((i.severity for i in self.open), default=None)


def _severity_rank(severity: str) -> tuple[int, str]:
    # P0 first; anything unexpected after the P-levels.
    return (int(severity[1:]) if severity[1:].isdigit() else 99, severity)


def _latest_public_updates(conn: Connection, ids: list[int]) -> dict[int, PublicUpdate]:
    """Each incident's newest public status update."""
    updates: dict[int, PublicUpdate] = {}
    if not ids:
        return updates
    events = conn.execute(
        select(incident_events.c.incident_id, incident_events.c.at, incident_events.c.text)
        .where(
            incident_events.c.incident_id.in_(ids),
            incident_events.c.kind == "update",
            incident_events.c.public.is_(True),
        )
        .order_by(incident_events.c.at.desc(), incident_events.c.id.desc())
    ).all()
    for ev in events:  # newest first: keep the first seen per incident
        at = as_utc(ev.at)
        if ev.incident_id not in updates and at is not None:
            updates[ev.incident_id] = PublicUpdate(at, ev.text)
    return updates


def load(engine: Engine, now: datetime, config: ChatopsConfig | None = None) -> StatusData:
    """Read open incidents and those resolved within RESOLVED_WINDOW, with their public updates."""
    since = now - RESOLVED_WINDOW
    is_open = and_(incidents.c.resolved_at.is_(None), incidents.c.status != "resolved")
    recently_resolved = and_(
        or_(incidents.c.resolved_at.is_not(None), incidents.c.status == "resolved"),
        incidents.c.resolved_at >= since,
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                incidents.c.id,
                incidents.c.title,
                incidents.c.severity,
                incidents.c.status,
                incidents.c.declared_at,
                incidents.c.resolved_at,
            ).where(or_(is_open, recently_resolved))
        ).all()
        updates = _latest_public_updates(conn, [r.id for r in rows])
    labels = {k: v.label for k, v in (config.severities if config else {}).items()}
    views = []
    for r in rows:
        started = as_utc(r.declared_at)
        assert started is not None  # declared_at is NOT NULL
        views.append(
            IncidentView(
                id=r.id,
                title=r.title,
                severity=r.severity,
                severity_label=labels.get(r.severity, ""),
                status="resolved" if r.resolved_at is not None else r.status,
                started=started,
                resolved=as_utc(r.resolved_at),
                update=updates.get(r.id),
            )
        )
    open_ = sorted(
        (v for v in views if v.resolved is None and v.status != "resolved"),
        key=lambda v: (_severity_rank(v.severity), -v.started.timestamp()),
    )
    resolved = sorted(
        (v for v in views if v.resolved is not None),
        key=lambda v: -v.resolved.timestamp() if v.resolved else 0,
    )
    return StatusData(
        open=open_, resolved=resolved, generated_at=now, services=service_states(engine, now, config)
    )


# -- rendering ----------------------------------------------------------------------------


def fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def fmt_duration(value: timedelta | None) -> str:
    """`2d 3h`, `1h 05m`, `12m`: short, and never negative."""
    if value is None:
        return ""
    minutes = max(0, int(value.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins:02d}m"
    return f"{mins}m"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = fmt_time
    env.filters["duration"] = fmt_duration
    return env


def status_html(data: StatusData, *, title: str = "Service status") -> str:
    return (
        _environment()
        .get_template("status.html")
        .render(data=data, title=title, refresh=REFRESH_SECONDS, now=data.generated_at)
    )


def page(engine: Engine, now: datetime, config: ChatopsConfig | None = None) -> str:
    return status_html(load(engine, now, config))
