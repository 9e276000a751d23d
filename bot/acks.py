"""Acks first: requests whose sender is waiting on our answer, so later work lets them through.

Two senders wait: Slack drops a request not acknowledged within 3 s ("operation_timeout"),
and Alertmanager holds a webhook until it is answered (and retries it on a timeout). What
follows those answers can wait: a slash command's answer through response_url may come any
time in the next 30 minutes, an alert group's Slack message and incident a moment later. In
one process they all share the interpreter lock (and, for alerts, the database's WAL flushes),
so during a burst (a channel full of people typing at once, an alert storm) that later work
slows every ack still queued behind it. It therefore waits while acks are in flight, at most
`max_defer`: with no burst it starts at once, and in a burst as soon as the acks are written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator

MAX_DEFER = 2.0  # seconds an answer lets acks go first, at most


class AcksInFlight:
    """A count of requests (Slack events, alert webhooks) whose answer is not yet written."""

    def __init__(self, max_defer: float = MAX_DEFER) -> None:
        self.max_defer = max_defer
        self._count = 0
        self._last_leave = 0.0
        self._quiet = threading.Condition()

    def enter(self) -> None:
        with self._quiet:
            self._count += 1

    def leave(self) -> None:
        with self._quiet:
            self._count -= 1
            self._last_leave = time.monotonic()
            if self._count == 0:
                self._quiet.notify_all()

    def owing(self, answer: Callable[[], Iterable[bytes]]) -> Iterable[bytes]:
        """Produce one answer's WSGI body, counted from now until the server has written it
        (its close())."""
        self.enter()
        try:
            body = answer()
        except BaseException:
            self.leave()
            raise
        return _Written(body, self)

    def wait_quiet(self, settle: float = 0.0) -> None:
        """Wait, at most `max_defer`, until no answer is owed and, with `settle`, none has been
        written for that long either (a storm's next request usually follows within it)."""
        deadline = time.monotonic() + self.max_defer
        with self._quiet:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return
                if self._count == 0:
                    calm = now - self._last_leave
                    if calm >= settle:
                        return
                    self._quiet.wait(min(settle - calm, deadline - now))
                else:
                    self._quiet.wait(deadline - now)


class _Written:
    """A WSGI response body whose close() (called by the server once it is sent) ends the ack."""

    def __init__(self, body: Iterable[bytes], acks: AcksInFlight) -> None:
        self._body = body
        self._acks = acks
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def __del__(self) -> None:
        # cheroot skips close() when sending the headers of an empty body fails (the client
        # went away): the ack is over all the same, and must not hold answers back.
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._body, "close", None)
            if callable(close):
                close()
        finally:
            self._acks.leave()
