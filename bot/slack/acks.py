"""Acks first: Slack requests being acknowledged right now, so answers can let them through.

Slack drops a request that is not acknowledged within 3 s and says "operation_timeout"; an
answer through response_url may come any time in the next 30 minutes. In one process the two
share the interpreter lock, so during a burst (a channel full of people typing at once) every
answer's work (the handler, the response_url POST) slows every ack still waiting behind it.
An answer about to start therefore waits while acks are in flight, at most `max_defer`: with
no burst it starts at once, and in a burst it starts as soon as the acks are written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

MAX_DEFER = 2.0  # seconds an answer lets acks go first, at most


class AcksInFlight:
    """A count of Slack requests whose acknowledgement is not yet written (HTTP mode)."""

    def __init__(self, max_defer: float = MAX_DEFER) -> None:
        self.max_defer = max_defer
        self._count = 0
        self._quiet = threading.Condition()

    def enter(self) -> None:
        with self._quiet:
            self._count += 1

    def leave(self) -> None:
        with self._quiet:
            self._count -= 1
            if self._count == 0:
                self._quiet.notify_all()

    def until_written(self, body: Iterable[bytes]) -> Iterable[bytes]:
        """The WSGI body of one ack; the count drops when the server has written it (close())."""
        return _Written(body, self)

    def wait_quiet(self) -> None:
        """Wait, at most `max_defer`, until no ack is in flight."""
        with self._quiet:
            self._quiet.wait_for(lambda: self._count == 0, timeout=self.max_defer)

    @property
    def in_flight(self) -> int:
        return self._count


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
