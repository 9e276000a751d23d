"""Claiming due incident rows so each reminder or escalation is posted exactly once.

One transaction decides: it picks the due rows (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so two
replicas take disjoint rows; SQLite: `BEGIN IMMEDIATE` plus a compare-and-set UPDATE that
re-checks the row is still due), moves each row's due time forward, and stamps a claim
lease. The post happens after the commit:

- Slack accepted it → the lease is cleared (compare-and-set on the lease, one statement).
- Slack refused it → the due time goes back (unless an update moved it meanwhile) so the
  next tick retries; nothing was posted, so nothing is duplicated.
- The process died between claim and post → the lease goes stale and another tick (this
  replica after a restart, or another one) takes the row again.

Because the claim sets the next due time from *now*, a bot that was down for two hours posts
one overdue reminder, not four.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, ColumnElement, Engine, and_, case, or_, select, update

from bot.incidents.records import RESOLVED, Incident, from_row
from bot.store.tables import incidents

# A failed post comes back due just after this tick, so the next tick (not this one) retries.
RETRY_AFTER = timedelta(seconds=1)


@dataclass(frozen=True)
class Claim:
    incident: Incident  # the row as it was when claimed
    claimed_at: datetime
    new_due: datetime | None
    plan: Any  # what the participant decided to post


# (new due time, plan) for a due row; plan None = nothing to post, only move the due time.
Planner = Callable[[Incident], tuple[datetime | None, Any]]


@dataclass(frozen=True)
class Slot:
    """Which pair of columns a participant works on, and which rows it may ever consider."""

    due: Column[Any]
    lease: Column[Any]
    only: tuple[ColumnElement[bool], ...] = ()

    def due_rows(self, now: datetime, stale: datetime) -> ColumnElement[bool]:
        return and_(
            incidents.c.status != RESOLVED,
            *self.only,
            or_(and_(self.lease.is_(None), self.due <= now), self.lease <= stale),
        )


def claim(
    engine: Engine, slot: Slot, *, now: datetime, lease: timedelta, batch: int, planner: Planner
) -> list[Claim]:
    """Claim up to `batch` due rows in one transaction; return the ones this caller must post."""
    due = slot.due_rows(now, now - lease)
    query = select(incidents).where(due).order_by(incidents.c.id).limit(batch)
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        query = query.with_for_update(skip_locked=True)
    out: list[Claim] = []
    with engine.begin() as conn:
        for row in conn.execute(query).all():
            inc = from_row(row)
            new_due, plan = planner(inc)
            values: dict[str, Any] = {slot.due.name: new_due}
            if plan is not None:
                values[slot.lease.name] = now
            # Compare-and-set: only if the row is still due. On PostgreSQL the row lock already
            # guarantees it; on SQLite this is what makes two claimers exclusive.
            stmt = update(incidents).where(incidents.c.id == inc.id, due).values(**values)
            if conn.execute(stmt).rowcount == 1 and plan is not None:
                out.append(Claim(inc, now, new_due, plan))
    return out


def settle_posted(
    engine: Engine,
    slot: Slot,
    claims: Sequence[Claim],
    values: Callable[[Claim], dict[str, Any]] | None = None,
) -> None:
    """Slack took these posts: clear their leases (and write `values(claim)` per row)."""
    if not claims:
        return
    with engine.begin() as conn:
        if values is None:
            by_time: dict[datetime, list[int]] = {}
            for c in claims:
                by_time.setdefault(c.claimed_at, []).append(c.incident.id)
            for at, ids in by_time.items():
                conn.execute(
                    update(incidents)
                    .where(incidents.c.id.in_(ids), slot.lease == at)
                    .values({slot.lease.name: None})
                )
            return
        for c in claims:
            conn.execute(
                update(incidents)
                .where(incidents.c.id == c.incident.id, slot.lease == c.claimed_at)
                .values({slot.lease.name: None, **values(c)})
            )


def settle_failed(engine: Engine, slot: Slot, claims: Iterable[Claim], *, retry_at: datetime) -> None:
    """Slack refused these posts: put them back to due (unless moved meanwhile) and drop the lease."""
    with engine.begin() as conn:
        for c in claims:
            unchanged = slot.due.is_(None) if c.new_due is None else slot.due == c.new_due
            conn.execute(
                update(incidents)
                .where(incidents.c.id == c.incident.id, slot.lease == c.claimed_at)
                .values({slot.lease.name: None, slot.due.name: case((unchanged, retry_at), else_=slot.due)})
            )
