"""App Home, shortcuts and modals: payloads as Slack posts them, signed, through the real endpoint."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.slack.home_refresh import HomeRefresher
from bot.slack.listeners.home import EXTRA
from tests.conftest import REDIS_URL, stop_bot
from tests.fakes.slack import FakeSlack
from tests.incidents.conftest import CONFIG, Clock, Harness, start_incident_bot
from tests.support import sign

TEAM = {"id": "T0TEST001", "domain": "test"}

RUNBOOK = """
name: cache-ping
title: Cache answers
description: Pings the cache.
params: {}
diagnostics:
  - {id: ping, title: Redis answers, handler: redis.ping, args: {instance: cache}}
"""

SURFACES_CONFIG = (
    CONFIG
    + f"""
redis:
  cache: {{url: "{REDIS_URL}"}}
access:
  operators: [U0ALICE]
  approvers: [U0BOB]
  rules:
    - {{handlers: ["redis.delete"], need: approval}}
"""
)


def _user(user: str) -> dict[str, str]:
    return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM["id"]}


def interactive(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def shortcut(callback_id: str, *, user: str = "U0ALICE") -> str:
    """A global shortcut, as Slack posts it."""
    return interactive(
        {
            "type": "shortcut",
            "token": "deprecated",
            "action_ts": f"{time.time():.6f}",
            "team": TEAM,
            "user": _user(user),
            "callback_id": callback_id,
            "trigger_id": f"trig.{uuid.uuid4().hex[:8]}",
        }
    )


def message_action(callback_id: str, message: dict[str, Any], *, channel: str, user: str = "U0ALICE") -> str:
    """A message shortcut on `message` in `channel`."""
    return interactive(
        {
            "type": "message_action",
            "token": "deprecated",
            "action_ts": f"{time.time():.6f}",
            "team": TEAM,
            "user": _user(user),
            "channel": {"id": channel, "name": "general"},
            "callback_id": callback_id,
            "trigger_id": f"trig.{uuid.uuid4().hex[:8]}",
            "message_ts": message["ts"],
            "message": {"type": "message", **message},
            "response_url": "",
        }
    )


def home_action(action_id: str, value: str, *, user: str) -> str:
    """A button clicked in App Home (container: the home view; no channel, no response_url)."""
    return interactive(
        {
            "type": "block_actions",
            "team": TEAM,
            "user": _user(user),
            "api_app_id": "A0TEST001",
            "token": "deprecated",
            "container": {"type": "view", "view_id": "V0HOME"},
            "trigger_id": f"trig.{uuid.uuid4().hex[:8]}",
            "view": {"id": "V0HOME", "type": "home"},
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "b1",
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
    )


def submission(
    callback_id: str, state: dict[str, dict[str, Any]], *, metadata: str = "{}", user: str = "U0ALICE"
) -> str:
    """A view_submission: `state` is {block_id: element state} (every element's action_id is "value")."""
    return interactive(
        {
            "type": "view_submission",
            "team": TEAM,
            "user": _user(user),
            "api_app_id": "A0TEST001",
            "token": "deprecated",
            "trigger_id": f"trig.{uuid.uuid4().hex[:8]}",
            "view": {
                "id": "V0FORM",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": metadata,
                "state": {"values": {block: {"value": el} for block, el in state.items()}},
            },
        }
    )


def text_in(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def select(value: str | None) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value} if value else None}


def user_select(user: str | None) -> dict[str, Any]:
    return {"type": "users_select", "selected_user": user}


def users_select(users: list[str]) -> dict[str, Any]:
    return {"type": "multi_users_select", "selected_users": users}


def conversation(channel: str | None) -> dict[str, Any]:
    return {"type": "conversations_select", "selected_conversation": channel}


def event_body(event: dict[str, Any], event_id: str) -> str:
    return json.dumps(
        {
            "token": "deprecated",
            "team_id": TEAM["id"],
            "api_app_id": "A0TEST001",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
    )


def deliver(h: Harness, event: dict[str, Any], event_id: str, *, retry: int = 0) -> None:
    """An Events API callback, signed; `retry` > 0 sends it as Slack's retry number `retry`."""
    body = event_body(event, event_id)
    headers = {**sign(body), "Content-Type": "application/json"}
    if retry:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    r = h.bot.client.post(body, headers=headers)
    assert r.status_code == 200, r.text


def opened_view(call_args: dict[str, Any]) -> dict[str, Any]:
    view = call_args["view"]
    return view if isinstance(view, dict) else json.loads(view)


def blocks_text(view: dict[str, Any]) -> str:
    return json.dumps(view.get("blocks", []), ensure_ascii=False)


@pytest.fixture
def surfaces(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[Harness]:
    """The incident bot with a cache, access rules needing approval, and one runbook."""
    fake_slack.usergroups["S0BACKEND"] = ["U0DEV1", "U0DEV2"]
    fake_slack.usergroups["S0MANAGERS"] = ["U0MGR1"]
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "cache-ping.yaml").write_text(RUNBOOK)
    config = SURFACES_CONFIG + f'runbooks_dir: "{runbooks}"\n'
    clock = Clock()
    running = start_incident_bot(fake_slack, tmp_path, clock, config=config)
    refresher = running.runtime.extras[EXTRA]
    assert isinstance(refresher, HomeRefresher)
    # The production interval is 3 s; the tests keep the behaviour and wait less.
    refresher.min_interval, refresher.settle = 0.4, 0.05
    yield Harness(running, fake_slack, clock)
    stop_bot(running)
