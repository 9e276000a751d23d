"""The loop both scheduler participants share: claim a batch, post it concurrently, settle it.

Posting runs on a bounded thread pool per participant (Slack answers in tens of
milliseconds, so a thousand overdue reminders must not go one by one). The tick waits for
its batch: when `tick()` returns, every claimed post has been sent or put back.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from bot.incidents import claims
from bot.incidents.claims import Claim, Slot
from bot.incidents.deps import IncidentDeps
from bot.incidents.records import Incident, refresh_open_gauge
from bot.incidents.slackapi import SlackStepError
from bot.metrics import REMINDERS_SENT

log = logging.getLogger(__name__)


class ExactlyOncePoster:
    """Posts each due reminder or escalation once: claims due rows, posts them, settles them.

    Subclasses say which columns (`slot`), what to post (`plan`, `send`) and what success writes."""

    kind = "reminder"  # the REMINDERS_SENT label
    slot: Slot

    def __init__(
        self,
        desk: IncidentDeps,
        *,
        workers: int = 16,
        batch: int = 100,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.desk = desk
        self.batch = batch
        self.lease = lease
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"incident-{self.kind}")

    # -- for subclasses ----------------------------------------------------------------------

    def plan(self, inc: Incident, now: datetime) -> tuple[datetime | None, Any]:
        raise NotImplementedError

    def send(self, claim: Claim, now: datetime) -> None:
        """Post it; raise SlackStepError when Slack will not take it."""
        raise NotImplementedError

    def posted_values(self, claim: Claim) -> dict[str, Any] | None:
        """Columns to write when the post went out (None: only clear the lease)."""
        return None

    def after_posted(self, claim: Claim, now: datetime) -> None:
        """Bookkeeping once the post is settled (timeline)."""

    # -- the tick ------------------------------------------------------------------------------

    def __call__(self, now: datetime) -> None:
        """The scheduler participant: post everything due at `now`."""
        self.run(now)

    def run(self, now: datetime) -> int:
        """Post everything due at `now`; returns how many went out."""
        sent = 0
        while True:
            batch = claims.claim(
                self.desk.engine,
                self.slot,
                now=now,
                lease=self.lease,
                batch=self.batch,
                planner=lambda inc: self.plan(inc, now),
            )
            if not batch:
                break
            outcomes = list(self.pool.map(lambda c: self._send(c, now), batch))
            ok = [c for c, good in zip(batch, outcomes, strict=True) if good]
            failed = [c for c, good in zip(batch, outcomes, strict=True) if not good]
            has_values = self.posted_values(batch[0]) is not None
            claims.settle_posted(
                self.desk.engine,
                self.slot,
                ok,
                (lambda c: self.posted_values(c) or {}) if has_values else None,
            )
            claims.settle_failed(self.desk.engine, self.slot, failed, retry_at=now + claims.RETRY_AFTER)
            for c in ok:
                try:
                    self.after_posted(c, now)
                except Exception:
                    log.exception("incident #%s: %s bookkeeping failed", c.incident.id, self.kind)
            REMINDERS_SENT.labels(self.kind).inc(len(ok))
            sent += len(ok)
            # A short batch means nothing more is due; failures mean Slack is struggling: next tick.
            if len(batch) < self.batch or failed:
                break
        refresh_open_gauge(self.desk.engine)
        return sent

    def _send(self, claim: Claim, now: datetime) -> bool:
        try:
            self.send(claim, now)
            return True
        except SlackStepError as exc:
            log.warning(
                "incident #%s: %s not posted, retrying next tick: %s", claim.incident.id, self.kind, exc
            )
        except Exception:
            log.exception("incident #%s: %s not posted, retrying next tick", claim.incident.id, self.kind)
        return False

    def close(self) -> None:
        self.pool.shutdown(wait=True)
