"""Incident tests: the whole bot against the fake Slack API, with a clock the test moves."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.app import build_app
from bot.config import parse_config
from bot.incidents import records
from bot.incidents.records import Incident
from bot.services import Clients, Services
from bot.store import Store
from bot.web import HttpServer, WebApp
from handlers import load_all
from tests.conftest import RunningBot, make_settings, stop_bot
from tests.fakes.slack import FakeSlack
from tests.support import sign

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

CONFIG = """
slack:
  incidents_channel: incidents
services:
  backend:
    contacts: [backend-team]
    runbooks: [high-db-cpu, "https://wiki.example.com/runbooks/backend-down"]
  frontend: {}
incidents:
  runbook_url: "https://git.example.com/ops/runbooks/{name}.yaml"
contacts:
  oncall: [U0ONCALL]
  senior: [U0SENIOR]
  manager: [S0MANAGERS]
  cto: [U0CTO]
  backend-team: [S0BACKEND, U0BACKLEAD]
"""


class Clock:
    """The bot's clock: tests move it instead of sleeping through 30 minutes."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, **delta: float) -> datetime:
        """Set the clock to START + delta and return it."""
        self.now = START + timedelta(**delta)
        return self.now


@dataclass
class Harness:
    bot: RunningBot
    slack: FakeSlack
    clock: Clock

    @property
    def engine(self) -> Any:
        return self.bot.runtime.store.engine

    def tick(self, **delta: float) -> datetime:
        """Move the clock to START + delta and run one scheduler tick (it waits for its posts)."""
        now = self.clock.at(**delta)
        assert self.bot.runtime.scheduler is not None
        self.bot.runtime.scheduler.tick(now)
        return now

    def command(
        self, text: str, *, user: str = "U0ALICE", channel: str = "C00000001", answers: int = 1
    ) -> list[dict[str, Any]]:
        """Run `/incident TEXT` through the signed endpoint; return its `answers` response_url posts."""
        before = len(self.slack.responses)
        r = self.bot.client.command("/incident", text, user=user, channel=channel)
        assert r.status_code == 200, r.text
        self.slack.wait_for(lambda: len(self.slack.responses) >= before + answers)
        return self.slack.responses[before:]

    def declare(self, text: str, *, user: str = "U0ALICE") -> Incident:
        answers = self.command(f"declare {text}", user=user)
        assert any("declared" in texts(a) for a in answers), answers
        return self.latest()

    def latest(self) -> Incident:
        found = records.list_open(self.engine)
        assert found, "no open incident"
        return max(found, key=lambda i: i.id)

    def incident(self, incident_id: int) -> Incident:
        return records.require(self.engine, incident_id)

    def posts(self, channel: str, contains: str = "") -> list[dict[str, Any]]:
        """Messages Slack accepted in a channel (id or name), whose text contains `contains`."""
        ch = self.slack.channels.get(channel) or self.slack.channel_named(channel.lstrip("#"))
        if ch is None:
            return []
        # Reads without the fake's lock: also used inside `wait_for`, which holds it.
        return [m for m in list(self.slack.messages.get(ch.id, [])) if contains in str(m.get("text", ""))]

    def wait_post(self, channel: str, contains: str) -> list[dict[str, Any]]:
        return self.slack.wait_for(lambda: self.posts(channel, contains))  # type: ignore[no-any-return]

    def reminders(self, inc: Incident) -> list[dict[str, Any]]:
        return self.posts(inc.channel_id or "", "status update for incident")

    def escalations(self, inc: Incident) -> list[dict[str, Any]]:
        return self.posts(inc.channel_id or "", "Escalation:")

    def event(self, event: dict[str, Any]) -> None:
        """Deliver an Events API callback, signed, through the real endpoint."""
        body = json.dumps(
            {
                "token": "deprecated",
                "team_id": "T0TEST001",
                "api_app_id": "A0TEST001",
                "type": "event_callback",
                "event_id": f"Ev{time.time_ns()}",
                "event_time": int(time.time()),
                "event": event,
            }
        )
        headers = {**sign(body), "Content-Type": "application/json"}
        r = self.bot.client.post(body, headers=headers)
        assert r.status_code == 200, r.text


def texts(answer: dict[str, Any]) -> str:
    """Everything a user reads in a message: its text and its blocks' text."""
    return str(answer.get("text", "")) + " " + json.dumps(answer.get("blocks", []))


def view_submission(
    callback_id: str,
    values: dict[str, dict[str, object]],
    metadata: dict[str, object],
    *,
    user: str = "U0BOB",
) -> str:
    """A signed-ready view_submission body, as Slack posts it when a form is submitted."""
    payload = {
        "type": "view_submission",
        "team": {"id": "T0TEST001", "domain": "test"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0TEST001"},
        "api_app_id": "A0TEST001",
        "token": "deprecated",
        "trigger_id": "trig.view",
        "view": {
            "id": "V0001",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": json.dumps(metadata),
            "state": {"values": {block: {"value": element} for block, element in values.items()}},
        },
    }
    return urlencode({"payload": json.dumps(payload)})


def input_text(value: str) -> dict[str, object]:
    return {"type": "plain_text_input", "value": value}


def input_select(value: str | None) -> dict[str, object]:
    return {"type": "static_select", "selected_option": {"value": value} if value else None}


def start_incident_bot(
    slack: FakeSlack, tmp_path: Path, clock: Clock, *, config: str = CONFIG, database_url: str | None = None
) -> RunningBot:
    cfg = parse_config(config)
    settings = make_settings(slack, tmp_path, **({"DATABASE_URL": database_url} if database_url else {}))
    store = Store(settings.database_url)
    store.upgrade()
    services = Services(config=cfg, store=store, clients=Clients(cfg), registry=load_all(), clock=clock)
    app = build_app(settings, services)
    server = HttpServer(WebApp(app), host="127.0.0.1", port=0)
    server.start()
    return RunningBot(app, server, slack)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def harness(fake_slack: FakeSlack, tmp_path: Path, clock: Clock) -> Iterator[Harness]:
    fake_slack.usergroups["S0BACKEND"] = ["U0DEV1", "U0DEV2"]
    fake_slack.usergroups["S0MANAGERS"] = ["U0MGR1"]
    running = start_incident_bot(fake_slack, tmp_path, clock)
    yield Harness(running, fake_slack, clock)
    stop_bot(running)
