"""The audit log as the executor and the guard write it: a row in the store, or, when the store
is down, a line in the local spool that is written later (bot/store/spool.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.store import utcnow
from bot.store.audit import Event, Outcome, record
from bot.store.spool import Entry, Spool
from handlers.redact import redact

log = logging.getLogger(__name__)

AUDIT = "audit"  # the spool entry kind of an audit row


class AuditLog:
    def __init__(self, engine: Engine, spool: Spool) -> None:
        self.engine = engine
        self.spool = spool

    def record(
        self,
        *,
        request_id: str,
        user_id: str,
        command: str,
        event: Event,
        outcome: Outcome,
        channel_id: str = "",
        handler: str | None = None,
        args: Mapping[str, Any] | None = None,
        target: str = "",
        detail: str = "",
        duration_ms: int | None = None,
    ) -> bool:
        """Write one row; False when the store refused it and it waits in the spool instead."""
        row: dict[str, Any] = {
            "request_id": request_id,
            "user_id": user_id,
            "command": command,
            "event": event,
            "outcome": outcome,
            "channel_id": channel_id,
            "handler": handler,
            "args": dict(args or {}),
            "target": target,
            "detail": detail,
            "duration_ms": duration_ms,
        }
        at = utcnow()
        try:
            record(self.engine, at=at, **row)
            return True
        except SQLAlchemyError as exc:
            log.error("audit: the state store refused a row; spooling it: %s", redact(str(exc))[:300])
        try:
            self.spool.append(
                AUDIT, {**row, "event": event.value, "outcome": outcome.value, "at": at.isoformat()}
            )
        except OSError as exc:
            log.critical("audit: could not spool a row to %s: %s (%s)", self.spool.path, exc, redact(command))
        return False

    def apply(self, data: Entry) -> None:
        """Write one spooled row (raises SQLAlchemyError while the store is still down)."""
        row = dict(data)
        record(
            self.engine,
            request_id=str(row["request_id"]),
            user_id=str(row["user_id"]),
            command=str(row["command"]),
            event=Event(row["event"]),
            outcome=Outcome(row["outcome"]),
            channel_id=str(row.get("channel_id") or ""),
            handler=row.get("handler"),
            args=row.get("args") or {},
            target=str(row.get("target") or ""),
            detail=str(row.get("detail") or ""),
            duration_ms=row.get("duration_ms"),
            at=datetime.fromisoformat(str(row["at"])),
        )
