"""When to publish a user's App Home again: on a change, at most once per `min_interval`.

Slack limits `views.publish` per user, and a declaration alone changes the incident row a
dozen times in a second. So a change only *requests* a refresh: the first request schedules
one publish (after `settle` seconds, or when `min_interval` has passed since the last one),
and every request until it runs folds into it. The publish rebuilds the view and skips the
call when nothing the user sees changed. No timer runs while nothing changes.

Users are remembered when they open their home (in this process, up to `max_users`, least
recently opened forgotten first); after a restart a home is published again when opened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

Schedule = Callable[[float, Callable[[], None]], None]


def timer(delay: float, fn: Callable[[], None]) -> None:
    t = threading.Timer(delay, fn)
    t.daemon = True
    t.name = "home-refresh"
    t.start()


class HomeRefresher:
    """`publish(user)` returns True when it called views.publish (False: nothing changed)."""

    def __init__(
        self,
        publish: Callable[[str], bool],
        *,
        min_interval: float = 3.0,
        settle: float = 0.3,
        max_users: int = 5000,
        monotonic: Callable[[], float] = time.monotonic,
        schedule: Schedule = timer,
    ) -> None:
        self.publish = publish
        self.min_interval = min_interval
        self.settle = settle
        self.max_users = max_users
        self.monotonic = monotonic
        self.schedule = schedule
        self._users: OrderedDict[str, None] = OrderedDict()
        self._last: dict[str, float] = {}
        self._scheduled: set[str] = set()
        self._lock = threading.Lock()

    @property
    def users(self) -> list[str]:
        with self._lock:
            return list(self._users)

    def opened(self, user: str) -> None:
        """The user opened their home: publish now (or as soon as the interval allows)."""
        with self._lock:
            self._users[user] = None
            self._users.move_to_end(user)
            while len(self._users) > self.max_users:
                gone, _ = self._users.popitem(last=False)
                self._last.pop(gone, None)
        self._request(user, settle=0.0)

    def changed(self, users: Iterable[str] | None = None) -> None:
        """Something a home shows changed: for these users, or for everyone known."""
        with self._lock:
            known = list(self._users) if users is None else [u for u in users if u in self._users]
        for user in known:
            self._request(user, settle=self.settle)

    def _request(self, user: str, *, settle: float) -> None:
        with self._lock:
            if user in self._scheduled:
                return  # folded into the publish already scheduled
            self._scheduled.add(user)
            last = self._last.get(user)
            now = self.monotonic()
            wait = settle if last is None else max(settle, last + self.min_interval - now)
        self.schedule(max(wait, 0.0), lambda: self._run(user))

    def _run(self, user: str) -> None:
        with self._lock:
            self._scheduled.discard(user)
            before = self._last.get(user)
            # Counted from the start, so a request arriving while this one publishes waits.
            self._last[user] = self.monotonic()
        published = False
        try:
            published = self.publish(user)
        except Exception:  # never lose the refresher's thread to one user's home
            log.exception("could not publish the App Home of %s", user)
        if not published:
            with self._lock:  # nothing went to Slack: the interval still counts from the last publish
                if before is None:
                    self._last.pop(user, None)
                else:
                    self._last[user] = before
