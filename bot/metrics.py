"""Prometheus metrics, defined once; every part of the bot increments these."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
SLACK_API_RETRIES = Counter("chatops_slack_api_retries_total", "Slack Web API calls retried", ["reason"])
