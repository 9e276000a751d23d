"""Events API callbacks handled once, also when Slack delivers them again.

Slack redelivers an event it thinks was not received (no 200 within 3 s, a dropped socket):
HTTP mode says so in `X-Slack-Retry-Num`, Socket Mode in the envelope's `retry_attempt` (Bolt
passes it on as the same header). Each delivery carries the same `event_id`, so the first to
insert it into `slack_events_seen` handles the event and every later copy is acknowledged and
dropped. The row is the claim: two replicas, or a retry racing the first delivery, cannot both
win the primary key. Rows older than a day are pruned (Slack retries for minutes, not days).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from slack_bolt.response import BoltResponse
from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, delete, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

log = logging.getLogger(__name__)

# Defined here (not in the shared bot/store/tables.py); created by migration 0011.
metadata = MetaData()
events_seen = Table(
    "slack_events_seen",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False, index=True),
)

KEEP = timedelta(days=1)
PRUNE_EVERY = 500  # claims between two prunes

EVENTS = Counter(
    "chatops_slack_events_total",
    "Events API callbacks by outcome: handled, or dropped as a copy of one already handled",
    ["outcome"],
)


class EventClaims:
    """Claims event ids in the store; `claim` is True for the first delivery only."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock
        self._count = itertools.count(1)

    def claim(self, event_id: str) -> bool:
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(events_seen).values(event_id=event_id[:64], seen_at=now))
        except IntegrityError:
            return False
        if next(self._count) % PRUNE_EVERY == 0:
            with self.engine.begin() as conn:
                conn.execute(delete(events_seen).where(events_seen.c.seen_at < now - KEEP))
        return True


def middleware(claims: EventClaims) -> Callable[..., Any]:
    """A global Bolt middleware: a copy of an event already claimed is acknowledged, not handled."""

    # `next` is the name Bolt passes the continuation by.
    def handle_once(body: dict[str, Any], request: Any, next: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not event_id:
            next()
            return None
        retry = (request.headers.get("x-slack-retry-num") or [""])[0]
        try:
            first = claims.claim(str(event_id))
        except SQLAlchemyError as exc:
            # The store is down: handling twice beats dropping the event; say so.
            log.warning("cannot claim event %s (%s); handling it without the once-only check", event_id, exc)
            first = True
        if not first:
            EVENTS.labels("duplicate").inc()
            log.info("event %s delivered again (retry %s): already handled", event_id, retry or "?")
            return BoltResponse(status=200, body="")
        EVENTS.labels("handled").inc()
        if retry:
            log.info(
                "event %s is Slack's retry %s, handled now (the first delivery never arrived)",
                event_id,
                retry,
            )
        next()
        return None

    return handle_once
