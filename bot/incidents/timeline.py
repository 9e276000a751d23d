"""The incident timeline: every declaration, update, role change, runbook run and action."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

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
