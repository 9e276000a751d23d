"""Count and log every command once: `chatops_requests_total{command, outcome}` and one log line.

`dispatch` wraps the front end's responder in an `Observed` one for the length of the
command. It passes every `Responder` call through unchanged and remembers how the command
came out; `show` tells it exactly for handler outcomes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import Block

from bot import metrics
from bot.commands.responder import Responder
from handlers.redact import redact
from handlers.results import Result

if TYPE_CHECKING:
    from bot.executor import HandlerOutcome, NeedsConfirmation, Request

log = logging.getLogger("bot.requests")


class Observed:
    """A transparent responder that notes the outcome: ok, error, refused, pending or help."""

    def __init__(self, inner: Responder) -> None:
        self.inner = inner
        self.outcome = metrics.OK
        self._decided = False  # set by `note`; then responder calls no longer change it

    def say(self, text: str, *, blocks: list[Block] | None = None, ephemeral: bool = False) -> None:
        self.inner.say(text, blocks=blocks, ephemeral=ephemeral)

    def result(self, result: Result, *, heading: str = "") -> None:
        self.inner.result(result, heading=heading)

    def error(self, text: str) -> None:
        if not self._decided:
            self.outcome = metrics.ERROR
        self.inner.error(text)

    def ask_confirmation(self, outcome: NeedsConfirmation) -> None:
        self.inner.ask_confirmation(outcome)

    def mark(self, outcome: str) -> None:
        self.outcome = outcome
        self._decided = True


def note(respond: Responder, outcome: HandlerOutcome) -> None:
    """Record a handler's outcome on the responder, when it is an `Observed` one."""
    from bot.executor import Done, Failed, NeedsConfirmation, Refused

    if not isinstance(respond, Observed):
        return
    if isinstance(outcome, Done):
        respond.mark(metrics.OK)
    elif isinstance(outcome, Refused):
        respond.mark(metrics.REFUSED)
    elif isinstance(outcome, Failed):
        respond.mark(metrics.ERROR)
    elif isinstance(outcome, NeedsConfirmation):
        respond.mark(metrics.PENDING)


def mark_help(respond: Responder) -> None:
    if isinstance(respond, Observed):
        respond.mark(metrics.HELP)


@contextmanager
def observe(request: Request, command: str | None, respond: Responder) -> Iterator[Observed]:
    """Around one command: yield the observing responder, then count it and log one line."""
    observed = Observed(respond)
    started = time.monotonic()
    try:
        yield observed
    except BaseException:
        observed.mark(metrics.ERROR)
        raise
    finally:
        label = command or "unknown"
        metrics.count_request(label, observed.outcome)
        log.info(
            "%s %s",
            request.command,
            observed.outcome,
            extra={
                "request_id": request.request_id,
                "user": request.user_id,
                "channel": request.channel_id,
                "command": label,
                "text": redact(request.text)[:200],
                "outcome": observed.outcome,
                "duration_ms": int((time.monotonic() - started) * 1000),
            },
        )
