"""On-call tests: the whole bot (rotations, paging) against fake Slack and fake PagerDuty, a moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.oncall.paging import Pager
from tests.conftest import stop_bot
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.incidents.conftest import Harness, start_incident_bot

# Tuesday 10 Nov 2026, 10:00 in Berlin: U0ANA's first week (Fri 6 Nov 17:00 → Fri 13 Nov 17:00).
START = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
WEBHOOK_SECRET = "whsec-test-0123456789"

CONFIG = """
slack: {{incidents_channel: incidents, ops_channel: ops}}
contacts:
  oncall: ["rotation:primary"]
  senior: [U0SENIOR]
access:
  operators: [U0OPS]
oncall:
  rotations:
    primary:
      {{members: [U0ANA, U0BEN, U0CAT], every: 1w, handoff: "Fri 17:00", timezone: Europe/Berlin,
        start: 2026-11-06}}
    secondary:
      {{members: [U0DAN, U0EVE], every: 1w, handoff: "Fri 17:00", timezone: Europe/Berlin,
        start: 2026-11-06}}
  handoff_channel: ops
paging:
  pagerduty:
    routing_key: "{routing_key}"
    events_url: "{events_url}"
    webhook_secret: "{secret}"
    ca_file: "{ca_file}"
    backoff: 0.01
    retries: 3
    timeout: 5s
severities:
  P0:
    label: Critical
    page: true
    escalate:
      - {{after: 0m, notify: "rotation:primary"}}
      - {{after: 5m, notify: "rotation:secondary", page: true}}
  P1: {{label: High, escalate: [{{after: 15m, notify: oncall}}, {{after: 30m, notify: senior, page: true}}]}}
  P2: {{label: Medium, escalate: [{{after: 60m, notify: oncall}}]}}
  P3: {{label: Low}}
"""


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def at(self, **delta: float) -> datetime:
        self.now = START + timedelta(**delta)
        return self.now


class OncallHarness(Harness):
    pd: FakePagerDuty

    @property
    def pager(self) -> Pager:
        return self.bot.runtime.part(Pager)

    def oncall(self, text: str, *, user: str = "U0ANA", answers: int = 1) -> list[dict[str, Any]]:
        before = len(self.slack.responses)
        r = self.bot.client.command("/oncall", text, user=user)
        assert r.status_code == 200, r.text
        self.slack.wait_for(lambda: len(self.slack.responses) >= before + answers)
        return self.slack.responses[before:]

    def webhook(self, body: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(self.bot.url + "/paging/pagerduty", content=body, headers=headers, timeout=10)


def config_text(pd: FakePagerDuty, *, routing_key: str | None = None, events_url: str | None = None) -> str:
    return CONFIG.format(
        routing_key=routing_key or pd.routing_key,
        events_url=events_url or pd.events_url,
        secret=WEBHOOK_SECRET,
        ca_file=pd.ca_file,
    )


@pytest.fixture
def fake_pd(tmp_path: Path) -> Iterator[FakePagerDuty]:
    with FakePagerDuty(tmp_path) as pd:
        yield pd


def make_harness(
    fake_slack: FakeSlack,
    fake_pd: FakePagerDuty,
    tmp_path: Path,
    *,
    routing_key: str | None = None,
    database_url: str | None = None,
    events_url: str | None = None,
) -> OncallHarness:
    clock = Clock()
    tmp_path.mkdir(parents=True, exist_ok=True)
    running = start_incident_bot(
        fake_slack,
        tmp_path,
        clock,  # type: ignore[arg-type]
        config=config_text(fake_pd, routing_key=routing_key, events_url=events_url),
        database_url=database_url,
    )
    h = OncallHarness(running, fake_slack, clock)  # type: ignore[arg-type]
    h.pd = fake_pd
    return h


@pytest.fixture
def oncall(fake_slack: FakeSlack, fake_pd: FakePagerDuty, tmp_path: Path) -> Iterator[OncallHarness]:
    h = make_harness(fake_slack, fake_pd, tmp_path)
    yield h
    h.pager.close()
    stop_bot(h.bot)
