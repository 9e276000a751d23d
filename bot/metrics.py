"""Prometheus metrics, defined once; every part of the bot increments these.

Where each one moves:
- REQUESTS: `bot.commands.router.dispatch`, once per slash command (Slack or console).
- HANDLER_SECONDS: the executor's `on_result` hook (`observe_handler`), once per handler run.
- PENDING_ACTIONS, OPEN_INCIDENTS: the guard and the incidents code move them as things
  happen, and `refresh_gauges` sets them from the state store on every scrape, so they are
  right after a restart and agree across replicas (the database is the truth).
- REMINDERS_SENT: the incident reminder and escalation participants.
- SLACK_API_ERRORS, SLACK_API_RETRIES: `slack_retry_handlers()`, the retry handlers every
  WebClient gets (Bolt copies them into the client it makes for each request).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from prometheus_client import Counter, Gauge, Histogram
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from sqlalchemy import Engine, func, select

REQUESTS = Counter(
    "chatops_requests_total", "Commands handled, by command and outcome", ["command", "outcome"]
)
HANDLER_SECONDS = Histogram(
    "chatops_handler_seconds",
    "Handler run time",
    ["handler"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PENDING_ACTIONS = Gauge("chatops_pending_actions", "Destructive actions waiting for confirmation or approval")
OPEN_INCIDENTS = Gauge("chatops_open_incidents", "Incidents not yet resolved")
REMINDERS_SENT = Counter(
    "chatops_reminders_sent_total", "Status-update reminders and escalations posted", ["kind"]
)
SLACK_API_ERRORS = Counter(
    "chatops_slack_api_errors_total", "Slack Web API calls that failed", ["method", "error"]
)
SLACK_API_RETRIES = Counter(
    "chatops_slack_api_retries_total", "Slack Web API calls retried", ["method", "reason"]
)

# Outcomes of a command, the `outcome` label of REQUESTS.
OK, ERROR, REFUSED, PENDING, HELP = "ok", "error", "refused", "pending", "help"


def observe_handler(spec: Any, outcome: str, seconds: float) -> None:
    """The executor's `on_result` hook: one observation per handler run, whatever its outcome."""
    del outcome  # REQUESTS counts outcomes per command; the histogram is about time
    HANDLER_SECONDS.labels(handler=str(getattr(spec, "name", spec))).observe(seconds)


def count_request(command: str, outcome: str) -> None:
    REQUESTS.labels(command=command, outcome=outcome).inc()


# -- gauges from the state store ---------------------------------------------------------

# pending_actions.status values that still wait for someone (the guard's vocabulary).
WAITING_STATUSES = ("pending", "awaiting_approval")


def refresh_gauges(engine: Engine, now: datetime) -> None:
    """Set the gauges from the database: unexpired waiting actions, unresolved incidents."""
    from bot.store.tables import incidents, pending_actions

    with engine.connect() as conn:
        waiting = conn.execute(
            select(func.count())
            .select_from(pending_actions)
            .where(pending_actions.c.status.in_(WAITING_STATUSES), pending_actions.c.expires_at > now)
        ).scalar_one()
        open_ = conn.execute(
            select(func.count())
            .select_from(incidents)
            .where(incidents.c.resolved_at.is_(None), incidents.c.status != "resolved")
        ).scalar_one()
    PENDING_ACTIONS.set(int(waiting))
    OPEN_INCIDENTS.set(int(open_))


# -- Slack Web API ------------------------------------------------------------------------


def _method(request: HttpRequest) -> str:
    """`https://slack.com/api/chat.postMessage` → `chat.postMessage`."""
    return urlparse(request.url).path.rsplit("/", 1)[-1] or "unknown"


class _Counting:
    """Mixin for slack_sdk's retry handlers: count each retry they decide to make."""

    reason = "unknown"

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        SLACK_API_RETRIES.labels(method=_method(request), reason=self.reason).inc()
        super().prepare_for_next_attempt(  # type: ignore[misc]
            state=state, request=request, response=response, error=error
        )


class CountingRateLimitRetry(_Counting, RateLimitErrorRetryHandler):
    reason = "ratelimited"


class CountingServerErrorRetry(_Counting, ServerErrorRetryHandler):
    reason = "server_error"


class CountingConnectionRetry(_Counting, ConnectionErrorRetryHandler):
    reason = "connection"


class SlackErrorCounter(RetryHandler):
    """Never retries; placed last, it sees exactly the responses no other handler retried.

    The WebClient asks its handlers in order and stops at the first that retries, so the
    last one is consulted only for a final answer: a 200 with `ok: false`, an HTTP error
    whose retries ran out, or a connection error. Those are the calls that failed.
    """

    def __init__(self) -> None:
        super().__init__(max_retry_count=0)

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        failure = _failure(response, error)
        if failure is not None:
            SLACK_API_ERRORS.labels(method=_method(request), error=failure).inc()
        return False

    def _can_retry(self, **_: Any) -> bool:
        return False


def _failure(response: HttpResponse | None, error: Exception | None) -> str | None:
    if response is None:
        if error is None:
            return None
        return "timeout" if isinstance(error, TimeoutError) else "connection"
    if response.status_code == 429:
        return "ratelimited"
    if response.status_code >= 400:
        return f"http_{response.status_code}"
    body = response.body if isinstance(response.body, dict) else {}
    if body.get("ok") is False:
        return str(body.get("error") or "unknown")[:64]
    return None


def slack_retry_handlers(max_retry_count: int = 2) -> list[RetryHandler]:
    """Retries for 429 (honouring Retry-After), 500/503 and connection resets, all counted."""
    return [
        CountingRateLimitRetry(max_retry_count=max_retry_count),
        CountingServerErrorRetry(max_retry_count=max_retry_count),
        CountingConnectionRetry(max_retry_count=max_retry_count),
        SlackErrorCounter(),
    ]
