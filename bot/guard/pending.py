"""Pending actions in the state store, and the compare-and-set updates that move them on.

Every state change is one `UPDATE … WHERE id = :id AND status IN (…) [AND expires_at > :now]`:
the row count says whether this caller won. A double click, a replayed request or two
replicas handling the same click all race on that statement, and exactly one wins, on SQLite
(BEGIN IMMEDIATE serialises writers) and on PostgreSQL (the row lock of the UPDATE).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum, StrEnum
from pathlib import PurePath
from uuid import UUID

from sqlalchemy import Connection, Engine, RowMapping, func, insert, select, update

from bot.store import as_utc
from bot.store.tables import pending_actions as t
from handlers.params import Params
from handlers.results import Preview


class Status(StrEnum):
    PENDING = "pending"  # waiting for the requester's confirmation
    AWAITING_APPROVAL = "awaiting_approval"  # confirmed, waiting for an approver
    CONFIRMED = "confirmed"  # claimed for execution (running)
    EXECUTED = "executed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def open(self) -> bool:
        """Still waiting for a person (counted by the pending-actions gauge)."""
        return self in (Status.PENDING, Status.AWAITING_APPROVAL)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


OPEN = (Status.PENDING, Status.AWAITING_APPROVAL)


@dataclass(frozen=True)
class MessageRef:
    """Where a front end showed an action, so the outcome can replace it later."""

    channel_id: str = ""
    ts: str | None = None
    response_url: str | None = None


@dataclass(frozen=True)
class PendingAction:
    id: str
    requester: str
    handler: str
    params: Mapping[str, object]  # as stored; re-validated with the handler's model before running
    target: str  # Target.describe()
    preview: Preview
    channel_id: str
    message_ts: str | None
    response_url: str | None
    created_at: datetime
    expires_at: datetime
    status: Status
    needs_approval: bool
    confirmed_by: str | None
    confirmed_at: datetime | None
    approved_by: str | None
    decided_by: str | None
    decided_at: datetime | None
    result: str | None
    incident_id: int | None
    request_id: str
    command: str
    text: str
    approval_ts: str | None
    finished_at: datetime | None

    @property
    def where(self) -> str:
        return self.target or "its target"

    @property
    def command_line(self) -> str:
        return f"{self.command} {self.text}".strip()


# -- params as JSON ----------------------------------------------------------------------------


def _json_default(value: object) -> object:
    # Durations go back as seconds: the Duration validator reads numbers, not ISO 8601.
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PurePath | UUID):
        return str(value)
    raise TypeError(f"cannot store a {type(value).__name__} parameter")


def encode_params(params: Params) -> str:
    return json.dumps(params.model_dump(mode="python"), default=_json_default, sort_keys=True)


def encode_preview(preview: Preview) -> str:
    # The pin travels with the preview: it is what the confirmed run must still find.
    return json.dumps(
        {"summary": preview.summary, "details": list(preview.details), "pin": dict(preview.pin)}
    )


def _decode_preview(raw: str) -> Preview:
    data = json.loads(raw or "{}")
    pin = data.get("pin")
    return Preview(
        summary=str(data.get("summary", "")),
        details=tuple(str(d) for d in data.get("details", [])),
        pin=pin if isinstance(pin, dict) else {},
    )


def _row(r: RowMapping) -> PendingAction:
    return PendingAction(
        id=r["id"],
        requester=r["requester"],
        handler=r["handler"],
        params=json.loads(r["params"] or "{}"),
        target=r["target"] or "",
        preview=_decode_preview(r["preview"]),
        channel_id=r["channel_id"] or "",
        message_ts=r["message_ts"],
        response_url=r["response_url"],
        created_at=_utc(r["created_at"]),
        expires_at=_utc(r["expires_at"]),
        status=Status(r["status"]),
        needs_approval=bool(r["needs_approval"]),
        confirmed_by=r["confirmed_by"],
        confirmed_at=as_utc(r["confirmed_at"]),
        approved_by=r["approved_by"],
        decided_by=r["decided_by"],
        decided_at=as_utc(r["decided_at"]),
        result=r["result"],
        incident_id=r["incident_id"],
        request_id=r["request_id"] or "",
        command=r["command"] or "",
        text=r["text"] or "",
        approval_ts=r["approval_ts"],
        finished_at=as_utc(r["finished_at"]),
    )


def _utc(value: datetime) -> datetime:
    out = as_utc(value)
    assert out is not None
    return out


def utc(value: datetime) -> datetime:
    """Every time we store is UTC: SQLite compares the stored text, so the zone must not vary."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# -- queries --------------------------------------------------------------------------------


def get(engine: Engine, action_id: str) -> PendingAction | None:
    with engine.connect() as conn:
        r = conn.execute(select(t).where(t.c.id == action_id)).mappings().first()
    return _row(r) if r else None


def list_actions(
    engine: Engine, *, statuses: Iterable[Status] = OPEN, requester: str | None = None, limit: int = 50
) -> list[PendingAction]:
    q = select(t).where(t.c.status.in_([s.value for s in statuses])).order_by(t.c.created_at.desc())
    if requester:
        q = q.where(t.c.requester == requester)
    with engine.connect() as conn:
        rows = conn.execute(q.limit(limit)).mappings().all()
    return [_row(r) for r in rows]


def count_open(engine: Engine, now: datetime) -> int:
    """Actions still waiting for a person at `now` (as `bot.metrics.refresh_gauges` counts them)."""
    q = (
        select(func.count())
        .select_from(t)
        .where(t.c.status.in_([s.value for s in OPEN]), t.c.expires_at > utc(now))
    )
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def lock_requester(conn: Connection, requester: str) -> None:
    """Serialise one person's requests across replicas, so the rate limit counts exactly.

    SQLite already serialises every write transaction (BEGIN IMMEDIATE); PostgreSQL takes a
    transaction-scoped advisory lock keyed by the requester.
    """
    if conn.dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"chatops.guard.rate:{requester}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    conn.execute(select(func.pg_advisory_xact_lock(key)))


def count_recent(conn: Connection, requester: str, since: datetime) -> int:
    q = select(func.count()).select_from(t).where(t.c.requester == requester, t.c.created_at > utc(since))
    return int(conn.execute(q).scalar_one())


def add(conn: Connection, **values: object) -> None:
    for key in ("created_at", "expires_at"):
        at = values[key]
        assert isinstance(at, datetime), key
        values[key] = utc(at)
    conn.execute(insert(t).values(**values))


def transition(
    engine: Engine,
    action_id: str,
    from_: Status | tuple[Status, ...],
    to: Status,
    *,
    live_at: datetime | None = None,
    expired_at: datetime | None = None,
    **values: object,
) -> bool:
    """Move one action from one of `from_` to `to`; True only for the caller whose update won.

    `live_at`: only while not expired at that time. `expired_at`: only once expired by then.
    """
    sources = (from_,) if isinstance(from_, Status) else from_
    stmt = update(t).where(t.c.id == action_id, t.c.status.in_([s.value for s in sources]))
    if live_at is not None:
        stmt = stmt.where(t.c.expires_at > utc(live_at))
    if expired_at is not None:
        stmt = stmt.where(t.c.expires_at <= utc(expired_at))
    clean = {k: utc(v) if isinstance(v, datetime) else v for k, v in values.items()}
    with engine.begin() as conn:
        return conn.execute(stmt.values(status=to.value, **clean)).rowcount == 1


def attach_message(engine: Engine, action_id: str, ref: MessageRef) -> None:
    """Remember where the preview was shown (keeps the first channel/ts, the newest response_url)."""
    values: dict[str, object] = {}
    if ref.response_url:
        values["response_url"] = ref.response_url
    with engine.begin() as conn:
        if values:
            conn.execute(update(t).where(t.c.id == action_id).values(**values))
        if ref.ts:
            conn.execute(
                update(t)
                .where(t.c.id == action_id, t.c.message_ts.is_(None))
                .values(message_ts=ref.ts, channel_id=ref.channel_id or t.c.channel_id)
            )


def attach_approval(engine: Engine, action_id: str, ts: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.id == action_id, t.c.approval_ts.is_(None)).values(approval_ts=ts))


def due_to_expire(engine: Engine, now: datetime, limit: int = 200) -> list[str]:
    q = (
        select(t.c.id)
        .where(t.c.status.in_([s.value for s in OPEN]), t.c.expires_at <= utc(now))
        .order_by(t.c.expires_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(q)]


def stuck_running(engine: Engine, before: datetime, limit: int = 200) -> list[str]:
    """Actions claimed for execution before `before` that never finished (the process died)."""
    q = (
        select(t.c.id)
        # An approved action started running when it was approved, others when confirmed.
        .where(
            t.c.status == Status.CONFIRMED.value,
            func.coalesce(t.c.decided_at, t.c.confirmed_at) <= utc(before),
        )
        .limit(limit)
    )
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(q)]
