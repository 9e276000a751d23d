"""One short APScheduler tick; the state store decides what is due.

APScheduler 3 must not share a job store between processes (jobs would run twice), so it
only ticks. Each tick asks every registered participant to claim and do what is due at
`clock()`: incident reminders and escalations (FOR UPDATE SKIP LOCKED), scheduled runbooks
and posts (one row per slot). Tests call `tick()` with a moved clock instead of waiting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # APScheduler loads when the scheduler starts (the console never starts it)
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

Participant = Callable[[datetime], None]


class Scheduler:
    def __init__(self, clock: Callable[[], datetime], *, interval: float = 15.0) -> None:
        self.clock = clock
        self.interval = interval
        self.participants: list[tuple[str, Participant]] = []
        self._aps: BackgroundScheduler | None = None
        self._lock = threading.Lock()  # one tick at a time in this process

    def add(self, name: str, fn: Participant) -> None:
        self.participants.append((name, fn))

    def tick(self, now: datetime | None = None) -> None:
        """Run every participant once; one failing does not stop the others."""
        with self._lock:
            at = now or self.clock()
            for name, fn in self.participants:
                try:
                    fn(at)
                except Exception:
                    log.exception("scheduler participant %s failed", name)

    def start(self) -> None:
        if self._aps is not None:
            return
        from apscheduler.schedulers.background import BackgroundScheduler

        self._aps = BackgroundScheduler(timezone="UTC")
        self._aps.add_job(
            self.tick, "interval", seconds=self.interval, id="tick", max_instances=1, coalesce=True
        )
        self._aps.start()

    def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=True)
            self._aps = None
