"""The incident timeline: every declaration, update, role change, runbook run and action."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from bot.store import as_utc
from bot.store.tables import incident_events, incidents


def incident_for_channel(engine: Engine, channel_id: str) -> int | None:
    """The open or resolved incident whose war-room channel this is, if any."""
    if not channel_id:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(incidents.c.id).where(incidents.c.channel_id == channel_id).order_by(incidents.c.id.desc())
        ).first()
    return int(row[0]) if row else None


def add_event(
    engine: Engine,
    incident_id: int,
    *,
    kind: str,
    author: str,
    text: str,
    at: datetime,
    public: bool = False,
    data: Mapping[str, Any] | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(incident_events).values(
                incident_id=incident_id,
                at=at,
                kind=kind,
                author=author,
                text=text,
                public=public,
                data=json.dumps(dict(data or {}), default=str),
            )
        )


def record_for_channel(
    engine: Engine,
    channel_id: str,
    *,
    kind: str,
    author: str,
    text: str,
    at: datetime,
    data: Mapping[str, Any] | None = None,
) -> bool:
    """Add to the timeline of the incident this channel belongs to; False when it is no incident's."""
    incident_id = incident_for_channel(engine, channel_id)
    if incident_id is None:
        return False
    add_event(engine, incident_id, kind=kind, author=author, text=text, at=at, data=data)
    return True


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    kind: str
    author: str
    text: str
    public: bool
    data: Mapping[str, Any]


def events(engine: Engine, incident_id: int, *, kinds: tuple[str, ...] = ()) -> list[Event]:
    """The incident's timeline, oldest first (optionally only some kinds)."""
    query = (
        select(incident_events)
        .where(incident_events.c.incident_id == incident_id)
        .order_by(incident_events.c.at, incident_events.c.id)
    )
    if kinds:
        query = query.where(incident_events.c.kind.in_(kinds))
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    out = []
    for r in rows:
        try:
            data = json.loads(r["data"] or "{}")
        except ValueError:
            data = {}
        out.append(
            Event(
                id=int(r["id"]),
                at=as_utc(r["at"]),
                kind=r["kind"],
                author=r["author"] or "",
                text=r["text"] or "",
                public=bool(r["public"]),
                data=data if isinstance(data, dict) else {},
            )
        )
    return out
