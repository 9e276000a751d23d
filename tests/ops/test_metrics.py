"""/metrics over HTTP moves when the bot does things: commands, handler runs, Slack API trouble."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.store import utcnow
from bot.store.tables import incidents, pending_actions
from tests.conftest import PG_ADMIN, RunningBot, start_bot, stop_bot
from tests.fakes.slack import FakeSlack
from tests.ops.metrics_scrape import scrape, value

CONFIG = f"""
databases:
  main: {{dsn: "{PG_ADMIN}"}}
access:
  operators: [S0SRE]
  group_cache: 0s
"""


@pytest.fixture
def running(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[RunningBot]:
    fake_slack.usergroups["S0SRE"] = ["U0OPS"]
    bot = start_bot(fake_slack, tmp_path, CONFIG)
    yield bot
    stop_bot(bot)


def _answer(bot: RunningBot, n: int) -> str:
    resp = bot.slack.wait_responses(n)[n - 1]
    return str(resp.get("text", ""))


def test_commands_are_counted_by_command_and_outcome(running: RunningBot) -> None:
    before = scrape(running.url)
    running.client.command("/chatops", "whoami", user="U0OPS")
    _answer(running, 1)
    running.client.command("/chatops", "audit --limit lots", user="U0OPS")  # operators only
    assert "--limit" in _answer(running, 2)
    running.client.command("/chatops", "")
    _answer(running, 3)
    after = scrape(running.url)
    name = "chatops_requests_total"
    assert (
        value(after, name, command="chatops", outcome="ok")
        - value(before, name, command="chatops", outcome="ok")
        == 1
    )
    assert (
        value(after, name, command="chatops", outcome="error")
        - value(before, name, command="chatops", outcome="error")
        == 1
    )
    assert (
        value(after, name, command="chatops", outcome="help")
        - value(before, name, command="chatops", outcome="help")
        == 1
    )


def test_a_handler_run_lands_in_the_latency_histogram(running: RunningBot) -> None:
    before = scrape(running.url)
    running.client.command("/db", "ping main", user="U0OPS")
    assert "main" in str(running.slack.wait_responses(1)[0])
    after = scrape(running.url)
    count = "chatops_handler_seconds_count"
    assert value(after, count, handler="db.ping") - value(before, count, handler="db.ping") == 1
    assert value(after, "chatops_handler_seconds_sum", handler="db.ping") > value(
        before, "chatops_handler_seconds_sum", handler="db.ping"
    )
    ok = ("chatops_requests_total", "db", "ok")
    assert (
        value(after, ok[0], command=ok[1], outcome=ok[2]) - value(before, ok[0], command=ok[1], outcome=ok[2])
        == 1
    )


def test_slack_api_errors_and_retries_are_counted(running: RunningBot) -> None:
    before = scrape(running.url)
    # A 429 with Retry-After is retried (and counted) and then succeeds.
    running.slack.rate_limit("usergroups.users.list", retry_after=1, times=1)
    running.client.command("/chatops", "whoami", user="U0OPS")
    assert "operator" in _answer(running, 1)
    # A Slack error (ok: false) is not retried: it is counted as an error, by method and error.
    running.slack.fail("usergroups.users.list", "missing_scope")
    running.client.command("/chatops", "whoami", user="U0OPS")
    _answer(running, 2)
    after = scrape(running.url)
    method = "usergroups.users.list"
    retries = "chatops_slack_api_retries_total"
    errors = "chatops_slack_api_errors_total"
    assert (
        value(after, retries, method=method, reason="ratelimited")
        - value(before, retries, method=method, reason="ratelimited")
        == 1
    )
    assert (
        value(after, errors, method=method, error="missing_scope")
        - value(before, errors, method=method, error="missing_scope")
        == 1
    )
    # The retried call succeeded in the end: it is no error.
    assert value(after, errors, method=method, error="ratelimited") == value(
        before, errors, method=method, error="ratelimited"
    )


def test_gauges_follow_the_state_store(running: RunningBot) -> None:
    now = utcnow()
    engine = running.runtime.store.engine
    assert value(scrape(running.url), "chatops_open_incidents") == 0
    assert value(scrape(running.url), "chatops_pending_actions") == 0
    with engine.begin() as conn:
        conn.execute(
            insert(incidents),
            [
                {
                    "title": "checkout errors",
                    "severity": "P1",
                    "status": "declared",
                    "declared_by": "U0OPS",
                    "declared_at": now,
                },
                {
                    "title": "search slow",
                    "severity": "P2",
                    "status": "resolved",
                    "declared_by": "U0OPS",
                    "declared_at": now - timedelta(hours=2),
                    "resolved_at": now - timedelta(hours=1),
                },
            ],
        )
        conn.execute(
            insert(pending_actions),
            [
                {
                    "id": "pa-live",
                    "requester": "U0OPS",
                    "handler": "redis.delete",
                    "params": "{}",
                    "preview": "{}",
                    "created_at": now,
                    "expires_at": now + timedelta(minutes=10),
                    "status": "pending",
                },
                {
                    "id": "pa-old",
                    "requester": "U0OPS",
                    "handler": "redis.delete",
                    "params": "{}",
                    "preview": "{}",
                    "created_at": now - timedelta(hours=1),
                    "expires_at": now - timedelta(minutes=50),
                    "status": "pending",
                },
            ],
        )
    after = scrape(running.url)
    assert value(after, "chatops_open_incidents") == 1
    assert value(after, "chatops_pending_actions") == 1
