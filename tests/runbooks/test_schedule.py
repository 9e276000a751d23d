"""Scheduled runbooks and posts: each slot runs exactly once, even with two replicas."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.runbooks.schedule import Schedules, jobs
from bot.store import Store
from bot.store.tables import scheduled_runs
from tests.conftest import REDIS_URL, RunningBot, start_bot, stop_bot
from tests.fakes.slack import FakeSlack

FRIDAY_1702 = datetime(2026, 3, 6, 17, 2, tzinfo=UTC)
MONDAY_0901 = datetime(2026, 3, 9, 9, 1, tzinfo=UTC)

NIGHTLY = """
name: morning
title: Morning check
source: [{file: 001_071ba6b587293d03.txt, section: Daily Checklist}]
params:
  service: {type: service, default: api}
diagnostics:
  - {id: ping, title: Database answers, handler: db.ping, args: {service: "{{service}}"}}
  - {id: redis, title: Redis answers, handler: redis.ping, args: {service: "{{service}}"}}
schedule: {cron: "0 9 * * 1-5", timezone: UTC}
"""


def config(pg_url: str, books: Path, extra: str = "") -> str:
    return f"""
runbooks_dir: "{books}"
slack: {{ops_channel: ops}}
databases:
  rb: {{dsn: "{pg_url}"}}
redis:
  cache: {{url: "{REDIS_URL}"}}
services:
  api: {{database: rb, redis: cache}}
schedules:
  - name: handoff
    cron: "0 17 * * 5"
    timezone: UTC
    message: ":pager: On-call hand-off at 17:00"
{extra}"""


@pytest.fixture
def replicas(
    fake_slack: FakeSlack, tmp_path: Path, pg_url: str, store: Store
) -> Iterator[tuple[RunningBot, RunningBot]]:
    """Two bots (replicas) on one state store (SQLite, then PostgreSQL) and one Slack."""
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "morning.yaml").write_text(NIGHTLY)
    text = config(pg_url, books)
    a = start_bot(fake_slack, tmp_path / "a", text, database_url=store.url)
    b = start_bot(fake_slack, tmp_path / "b", text, database_url=store.url)
    yield a, b
    stop_bot(a)
    stop_bot(b)


def tick_together(bots: tuple[RunningBot, ...], now: datetime) -> None:
    """Tick every replica at the same moment, from threads, then wait for what they started."""
    start = threading.Barrier(len(bots))

    def tick(bot: RunningBot) -> None:
        start.wait(timeout=10)
        assert bot.runtime.scheduler is not None
        bot.runtime.scheduler.tick(now)

    threads = [threading.Thread(target=tick, args=(bot,)) for bot in bots]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    for bot in bots:
        schedules(bot).wait()


def schedules(bot: RunningBot) -> Schedules:
    found = bot.runtime.part(Schedules)
    assert isinstance(found, Schedules)
    return found


def posts(slack: FakeSlack, text: str) -> list[Any]:
    return [c for c in slack.calls_to("chat.postMessage") if text in str(c.args.get("text", ""))]


def test_a_scheduled_post_happens_once_with_two_replicas(replicas: tuple[RunningBot, RunningBot]) -> None:
    a, b = replicas
    tick_together((a, b), FRIDAY_1702)
    [post] = posts(a.slack, "On-call hand-off")
    assert post.args["channel"] == "#ops"
    # Later ticks within the same slot, on either replica, post nothing more.
    tick_together((a, b), FRIDAY_1702 + timedelta(minutes=1))
    assert a.runtime.scheduler is not None
    a.runtime.scheduler.tick(FRIDAY_1702 + timedelta(minutes=5))
    assert len(posts(a.slack, "On-call hand-off")) == 1
    with a.runtime.store.engine.connect() as conn:
        rows = conn.execute(select(scheduled_runs)).mappings().all()
    assert [(r["name"], r["outcome"]) for r in rows] == [("schedule:handoff", "ok")]
    # The next Friday is a new slot.
    tick_together((a, b), FRIDAY_1702 + timedelta(days=7))
    assert len(posts(a.slack, "On-call hand-off")) == 2


def test_a_scheduled_runbook_runs_once_and_posts_its_progress_to_the_ops_channel(
    replicas: tuple[RunningBot, RunningBot],
) -> None:
    a, b = replicas
    tick_together((a, b), MONDAY_0901)
    started = posts(a.slack, "Runbook Morning check")
    assert len(started) == 1
    assert started[0].args["channel"] == "#ops"
    updates = a.slack.wait_for(
        lambda: [c for c in a.slack.calls if c.method == "chat.update" and "OK" in str(c.args.get("text"))]
    )
    assert "Runbook Morning check: OK — 2 ok" in updates[-1].args["text"]
    assert "scheduled" in str(updates[-1].args["blocks"])
    # Not on Saturday (the cron says weekdays) and not outside its minute's grace window.
    tick_together((a, b), MONDAY_0901 + timedelta(days=5))
    tick_together((a, b), MONDAY_0901 + timedelta(hours=1))
    assert len(posts(a.slack, "Runbook Morning check")) == 1


def test_nothing_is_due_between_slots(replicas: tuple[RunningBot, RunningBot]) -> None:
    a, b = replicas
    tick_together((a, b), FRIDAY_1702 - timedelta(hours=3))
    assert a.slack.calls_to("chat.postMessage") == []


def test_config_schedules_replace_a_runbooks_own(fake_slack: FakeSlack, tmp_path: Path, pg_url: str) -> None:
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "morning.yaml").write_text(NIGHTLY)
    extra = (
        '  - {name: morning-ops, cron: "30 7 * * *", timezone: Europe/Berlin, runbook: morning,\n'
        "     channel: ops-alerts}\n"
    )
    bot = start_bot(fake_slack, tmp_path, config(pg_url, books, extra))
    try:
        names = {j.name: j for j in jobs(bot.runtime)}
        assert set(names) == {"schedule:handoff", "schedule:morning-ops"}  # not runbook:morning
        assert names["schedule:morning-ops"].channel == "ops-alerts"
        fake_slack.add_channel("ops-alerts")
        # 07:30 in Berlin is 06:30 UTC in March.
        assert bot.runtime.scheduler is not None
        bot.runtime.scheduler.tick(datetime(2026, 3, 9, 6, 31, tzinfo=UTC))
        schedules(bot).wait()
        [post] = posts(fake_slack, "Runbook Morning check")
        assert post.args["channel"] == "#ops-alerts"
    finally:
        stop_bot(bot)
