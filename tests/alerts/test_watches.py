"""Watches: the bot's own probes, once per slot across replicas, feeding the alerts and the status page."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from bot.alerts import store as astore
from bot.alerts.tables import watch_days
from bot.alerts.watches import Watches
from tests.alerts.conftest import pipeline_of
from tests.alerts.payloads import config
from tests.conftest import RunningBot
from tests.fakes.slack import FakeSlack
from tests.ops.test_status_page import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)
from tests.runbooks.fakehttp import SlowHealth

T = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
WATCH = """watches:
  - name: backend-health
    service: backend
    every: 30s
    fail_after: 2
    recover_after: 2
    labels: {severity: warning, team: core}
"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def health() -> Iterator[SlowHealth]:
    with SlowHealth() as srv:
        yield srv


def _tick(bots: list[RunningBot], clock: Clock, at: datetime) -> None:
    clock.now = at
    for bot in bots:
        watches = bot.runtime.extras["alerts.watches"]
        assert isinstance(watches, Watches)
        watches(at)
    for bot in bots:
        bot.runtime.extras["alerts.watches"].wait()
        assert pipeline_of(bot).wait_idle()


def _state(bot: RunningBot) -> str:
    html = httpx.get(bot.url + "/status", timeout=5).text
    marker = 'data-service="backend" data-state="'
    assert marker in html, html[:2000]
    return html.split(marker, 1)[1].split('"', 1)[0]


def test_watch_fails_raises_recovers_resolves_once_per_slot(
    make_bot: Callable[..., RunningBot], pg_url: str, fake_slack: FakeSlack, health: SlowHealth
) -> None:
    clock = Clock(T)
    cfg = config(health=health.url + "/health", extra=WATCH)
    a = make_bot(cfg, database_url=pg_url, clock=clock)
    b = make_bot(cfg, database_url=pg_url, clock=clock)
    bots = [a, b]
    _tick(bots, clock, T)
    assert len(health.hits) == 1  # two replicas, one slot: one probe
    _tick(bots, clock, T + timedelta(seconds=10))  # same slot again
    assert len(health.hits) == 1
    assert _state(a) == "operational"
    health.status = 503
    _tick(bots, clock, T + timedelta(seconds=30))
    assert len(health.hits) == 2
    assert _state(a) == "degraded"
    assert not fake_slack.calls_to("chat.postMessage")  # one failure is not fail_after
    _tick(bots, clock, T + timedelta(seconds=60))
    assert _state(b) == "down"
    posted = fake_slack.wait_calls("chat.postMessage")
    assert len(posted) == 1
    assert posted[0].args["text"].startswith("FIRING (1) backend-health — backend")
    firing = astore.firing_groups(a.runtime.store.engine)
    assert len(firing) == 1
    occurrence = firing[0][1][0]
    assert occurrence.starts_at == T + timedelta(seconds=30)  # detection: the first failing slot
    assert occurrence.labels == {
        "alertname": "backend-health",
        "service": "backend",
        "source": "chatops",
        "severity": "warning",
        "team": "core",
    }
    _tick(bots, clock, T + timedelta(seconds=90))  # still failing: no second alert
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    health.status = 200
    _tick(bots, clock, T + timedelta(seconds=120))
    assert _state(a) == "down"  # one success is not recover_after
    _tick(bots, clock, T + timedelta(seconds=150))
    assert _state(a) == "operational"
    assert not astore.firing_groups(a.runtime.store.engine)
    updates = [c for c in fake_slack.calls_to("chat.update")]
    assert updates
    assert updates[-1].args["text"].startswith("RESOLVED backend-health")
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert len(health.hits) == 6


def test_status_page_shows_service_state_and_90_day_bar(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    health: SlowHealth,
    browser: Any,  # noqa: F811
) -> None:
    now = datetime.now(UTC)
    clock = Clock(now)
    bot = make_bot(config(health=health.url + "/health", extra=WATCH), clock=clock)
    engine = bot.runtime.store.engine
    with engine.begin() as conn:  # history: 80 good days, one bad day, one outage
        for i in range(1, 81):
            day = (now - timedelta(days=i)).date()
            failed = 30 if i == 5 else (2880 if i == 12 else 0)
            conn.execute(
                insert(watch_days).values(
                    name="backend-health", day=day, ok=2880 - failed, failed=failed, down=i == 12
                )
            )
    health.status = 503
    start = now.replace(second=0, microsecond=0)
    _tick([bot], clock, start)
    _tick([bot], clock, start + timedelta(seconds=30))
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    resp = page.goto(bot.url + "/status")
    assert resp is not None
    assert resp.status == 200
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page-services.png"), full_page=True)
    assert page.inner_text("#banner").strip() == "Service outage: backend"
    card = page.locator('#services [data-service="backend"]')
    assert card.get_attribute("data-state") == "down"
    assert "down" in card.inner_text().lower()
    cells = card.locator(".bar span")
    assert cells.count() == 90
    classes = [cells.nth(i).get_attribute("class") for i in range(90)]
    assert classes[-1] == "down"  # today
    assert classes[-13] == "down"
    assert classes[-6] == "degraded"
    assert classes[-2] == "ok"
    assert classes[0] == "none"  # before the watch existed
    # Colours are real: a down cell is red, a good one green, in the rendered page.
    colours = {
        c: cells.nth(i).evaluate("e => getComputedStyle(e).backgroundColor")
        for i, c in ((89, "down"), (87, "ok"))
    }
    assert colours["down"] != colours["ok"]
    assert json.dumps(classes).count('"ok"') >= 78


def test_a_watch_that_cannot_run_is_no_outage(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    health: SlowHealth,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock(T)
    extra = """watches:
  - {name: typo, service: backend, handler: health.chek, fail_after: 1}
  - {name: wrong-params, service: backend, handler: health.check, params: {colour: red}, fail_after: 1}
"""
    bot = make_bot(config(health=health.url + "/health", extra=extra), clock=clock)
    for i in range(3):
        _tick([bot], clock, T + timedelta(seconds=30 * i))
    assert not fake_slack.calls_to("chat.postMessage")
    assert _state(bot) == "unknown"
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert sum("watch typo never runs: no handler 'health.chek'" in e for e in errors) == 1
    assert sum("watch wrong-params never runs" in e and "colour" in e for e in errors) == 1
