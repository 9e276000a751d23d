"""Slack rate limits inside one request: wait a little, never a listener's whole life.

slack_sdk's RateLimitErrorRetryHandler sleeps whatever Retry-After says, on every retry: a
`Retry-After: 20` held a listener for 41 s while the person who clicked saw nothing. Here the
waits of one call add up to at most `max_wait` seconds; past that the call fails at once with
`ratelimited`, and the caller falls back (a response_url answer, an ephemeral note) and says so.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState

from bot import metrics

log = logging.getLogger(__name__)

MAX_WAIT = 5.0  # seconds one Web API call may spend waiting out 429s in total


def retry_after(response: HttpResponse) -> float:
    for key, values in response.headers.items():
        if key.lower() == "retry-after":
            try:
                return float(values[0] if isinstance(values, list) else values)
            except (TypeError, ValueError, IndexError):
                return 1.0
    return 1.0


class CappedRateLimitRetry(metrics.CountingRateLimitRetry):
    """Retries a 429 only while the waits of this call stay within `max_wait` seconds."""

    def __init__(self, max_retry_count: int = 2, max_wait: float = MAX_WAIT) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        # slack_sdk sleeps Retry-After plus up to one second of jitter.
        wait = retry_after(response) + 1.0
        waited: float = getattr(state, "chatops_waited", 0.0)
        if waited + wait > self.max_wait:
            log.warning(
                "Slack rate-limits %s (Retry-After %.0f s): not waiting past %.0f s in one request",
                request.url.rsplit("/", 1)[-1],
                wait - 1.0,
                self.max_wait,
            )
            return False
        state.chatops_waited = waited + wait  # type: ignore[attr-defined]
        return True


def retry_handlers(max_retry_count: int = 2, max_wait: float = MAX_WAIT) -> list[RetryHandler]:
    """The bot's retry handlers (all counted in metrics), with the 429 waits capped."""
    handlers: list[Any] = metrics.slack_retry_handlers(max_retry_count=max_retry_count)
    return [
        CappedRateLimitRetry(max_retry_count, max_wait)
        if isinstance(h, metrics.CountingRateLimitRetry)
        else h
        for h in handlers
    ]
