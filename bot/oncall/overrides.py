"""Adding and removing overrides: every rule checked before anything is stored.

Overrides of one rotation never overlap (the second is refused, naming the first), so who is
on call is never a matter of which row wins. Removed overrides stay in the table with
`removed_at`, for the audit log and the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, insert, select, update

from bot.oncall.roster import overlapping, overrides
from bot.oncall.schedule import Override
from bot.oncall.tables import oncall_overrides

PAST_SLACK = timedelta(minutes=5)  # `--from` a few minutes ago is "now", typed slowly
MAX_ACTIVE = 100  # per rotation, current and future
REASON_MAX = 300


class OverrideError(Exception):
    """An override that cannot be stored; the message says why."""


@dataclass(frozen=True)
class NewOverride:
    rotation: str
    user: str
    start: datetime
    end: datetime
    created_by: str
    reason: str = ""


def check(engine: Engine, new: NewOverride, *, now: datetime, max_days: int) -> NewOverride:
    """The override as it will be stored (a `--from` just past becomes now), or OverrideError."""
    if new.end <= new.start:
        raise OverrideError(
            f"`--to` ({new.end:%Y-%m-%d %H:%M} UTC) must be after `--from` ({new.start:%Y-%m-%d %H:%M} UTC)."
        )
    if new.end <= now:
        raise OverrideError(
            f"That override would already be over (`--to` {new.end:%Y-%m-%d %H:%M} UTC is past)."
        )
    start = new.start
    if start < now - PAST_SLACK:
        raise OverrideError(
            "`--from` is in the past: overrides change who is on call from now on (`--from now`)."
        )
    start = max(start, now)
    if new.end - start > timedelta(days=max_days):
        raise OverrideError(
            f"An override lasts at most {max_days} days (oncall.max_override_days); "
            "split it, or change the rotation."
        )
    if len(new.reason) > REASON_MAX:
        raise OverrideError(f"The reason is {len(new.reason)} characters; keep it under {REASON_MAX}.")
    clash = overlapping(engine, new.rotation, start, new.end)
    if clash is not None:
        raise OverrideError(
            f"It overlaps override #{clash.id} (<@{clash.user}> {clash.start:%Y-%m-%d %H:%M} → "
            f"{clash.end:%Y-%m-%d %H:%M} UTC) on {new.rotation}; remove that one first "
            f"(`overrides remove {clash.id}`)."
        )
    with engine.connect() as conn:
        active = conn.execute(
            select(func.count())
            .select_from(oncall_overrides)
            .where(
                oncall_overrides.c.rotation == new.rotation,
                oncall_overrides.c.removed_at.is_(None),
                oncall_overrides.c.ends_at > now,
            )
        ).scalar_one()
    if int(active) >= MAX_ACTIVE:
        raise OverrideError(f"{new.rotation} already has {MAX_ACTIVE} current and future overrides.")
    return NewOverride(new.rotation, new.user, start, new.end, new.created_by, new.reason)


def add(engine: Engine, new: NewOverride, *, now: datetime) -> Override:
    """Store it, re-checking for an overlap in the same transaction (two people adding at once)."""
    t = oncall_overrides
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Serialise adds per rotation; SQLite's BEGIN IMMEDIATE already serialises writers.
            conn.execute(select(func.pg_advisory_xact_lock(func.hashtext("oncall:" + new.rotation))))
        clash = conn.execute(
            select(t.c.id).where(
                t.c.rotation == new.rotation,
                t.c.removed_at.is_(None),
                t.c.starts_at < new.end,
                t.c.ends_at > new.start,
            )
        ).first()
        if clash is not None:
            raise OverrideError(f"It overlaps override #{clash[0]}, added just now; see `overrides`.")
        new_id = conn.execute(
            insert(t)
            .returning(t.c.id)
            .values(
                rotation=new.rotation,
                user_id=new.user,
                starts_at=new.start,
                ends_at=new.end,
                created_by=new.created_by,
                created_at=now,
                reason=new.reason,
            )
        ).scalar_one()
    return Override(int(new_id), new.rotation, new.user, new.start, new.end, new.created_by, new.reason)


def get(engine: Engine, override_id: int) -> Override | None:
    return next((o for o in overrides(engine) if o.id == override_id), None)


def upcoming(engine: Engine, now: datetime, rotation: str | None = None) -> list[Override]:
    """Current and future overrides, soonest first."""
    return overrides(engine, rotation=rotation, start=now)


def remove(engine: Engine, override_id: int, *, by: str, now: datetime) -> bool:
    """Mark an override removed; False when it was already removed (by someone else, meanwhile)."""
    with engine.begin() as conn:
        done = conn.execute(
            update(oncall_overrides)
            .where(oncall_overrides.c.id == override_id, oncall_overrides.c.removed_at.is_(None))
            .values(removed_at=now, removed_by=by)
        ).rowcount
    return bool(done)
