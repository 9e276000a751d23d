"""Helpers the tests share: Slack request signing, payloads, a running bot."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test-0000-token"


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers as Slack sends them: v0=HMAC-SHA256(secret, 'v0:{ts}:{body}')."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def command_body(
    command: str, text: str, *, user: str = "U0ALICE", channel: str = "C00000001", response_url: str = ""
) -> str:
    return urlencode(
        {
            "token": "deprecated",
            "team_id": "T0TEST001",
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0TEST001",
            "response_url": response_url,
            "trigger_id": f"trig.{uuid.uuid4().hex[:8]}",
        }
    )


def action_body(
    action_id: str,
    value: str,
    *,
    user: str = "U0ALICE",
    channel: str = "C00000001",
    response_url: str = "",
    message_ts: str = "1700000000.000100",
    block_id: str = "b1",
) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEST001", "domain": "test"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0TEST001"},
        "api_app_id": "A0TEST001",
        "token": "deprecated",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"trig.{uuid.uuid4().hex[:8]}",
        "channel": {"id": channel, "name": "general"},
        "message": {"type": "message", "ts": message_ts, "text": "", "blocks": []},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


@dataclass
class BotClient:
    """Posts signed requests to a running bot's /slack/events."""

    base_url: str
    response_url: str
    # Where to record a message that comes back in the ack itself (Slack shows it just like
    # one posted to response_url): FakeSlack.responses, tagged key="ack".
    slack: Any = None

    def post(self, body: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
        r = httpx.post(
            self.base_url + "/slack/events", content=body, headers=headers or sign(body), timeout=10
        )
        if self.slack is not None and r.status_code == 200 and r.content.strip():
            try:
                payload = r.json()
            except ValueError:
                payload = None
            if isinstance(payload, dict) and ("text" in payload or "blocks" in payload):
                self.slack.record_response({"key": "ack", **payload})
        return r

    def command(
        self, command: str, text: str = "", *, user: str = "U0ALICE", channel: str = "C00000001"
    ) -> httpx.Response:
        return self.post(
            command_body(command, text, user=user, channel=channel, response_url=self.response_url)
        )

    def action(self, action_id: str, value: str, **kw: Any) -> httpx.Response:
        kw.setdefault("response_url", self.response_url)
        return self.post(action_body(action_id, value, **kw))


def message_text(message: dict[str, Any]) -> str:
    """Everything a person reads in a message: its text, its blocks' text and context elements."""
    parts: list[str] = [str(message.get("text", ""))]
    for block in message.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            parts.append(str(block["text"].get("text", "")))
        parts += [str(e.get("text", "")) for e in block.get("elements", []) if isinstance(e, dict)]
    return "\n".join(parts)
