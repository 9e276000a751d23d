"""The audit log: every request, preview, confirmation, refusal and result."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, insert, select

from bot.store import as_utc, utcnow
from bot.store.tables import audit
from handlers.redact import SECRET_KEYS, redact


class Event(StrEnum):
    REQUEST = "request"
    PREVIEW = "preview"
    CONFIRM = "confirm"
    CANCEL = "cancel"
    APPROVE = "approve"
    REJECT = "reject"
    EXECUTE = "execute"
    REFUSE = "refuse"
    EXPIRE = "expire"


class Outcome(StrEnum):
    OK = "ok"
    ERROR = "error"
    REFUSED = "refused"
    PENDING = "pending"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    request_id: str
    user_id: str
    channel_id: str
    command: str
    handler: str | None
    args: str
    target: str
    event: str
    outcome: str
    detail: str
    duration_ms: int | None


def redact_args(args: Mapping[str, Any]) -> str:
    """JSON of the arguments with secret-looking keys blanked and secrets in values redacted."""
    clean: dict[str, Any] = {}
    for key, value in args.items():
        if any(s in key.lower() for s in SECRET_KEYS if s not in ("url",)):
            clean[key] = "***"
        else:
            clean[key] = redact(value) if isinstance(value, str) else value
    return redact(json.dumps(clean, default=str, sort_keys=True))


def record(
    engine: Engine,
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
    at: datetime | None = None,
) -> None:
    """One audit row; `at` is when it happened (a row written late from the spool keeps its time)."""
    with engine.begin() as conn:
        conn.execute(
            insert(audit).values(
                at=at or utcnow(),
                request_id=request_id,
                user_id=user_id,
                channel_id=channel_id,
                command=redact(command)[:200],
                handler=handler,
                args=redact_args(args or {}),
                target=target[:200],
                event=event.value,
                outcome=outcome.value,
                detail=redact(detail)[:4000],
                duration_ms=duration_ms,
            )
        )


def latest(
    engine: Engine,
    *,
    user: str | None = None,
    since: datetime | None = None,
    handler_glob: str | None = None,
    limit: int = 20,
) -> Sequence[AuditEntry]:
    """The newest entries first, filtered by user, time and handler glob (`k8s.*`)."""
    q = select(audit).order_by(audit.c.id.desc()).limit(limit)
    if user:
        q = q.where(audit.c.user_id == user)
    if since:
        q = q.where(audit.c.at >= since)
    if handler_glob:
        like = handler_glob.replace("%", r"\%").replace("_", r"\_").replace("*", "%").replace("?", "_")
        q = q.where(audit.c.handler.like(like, escape="\\"))
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [AuditEntry(**{**dict(r), "at": as_utc(r["at"])}) for r in rows]
