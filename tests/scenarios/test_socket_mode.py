"""`chatops serve` with SLACK_APP_TOKEN: Socket Mode against the fake Slack's WebSocket."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
from pathlib import Path

from tests.fakes.slack import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.support import BOT_TOKEN

APP_TOKEN = "xapp-1-A0TEST001-0000-secret"


def test_serve_uses_socket_mode_when_an_app_token_is_set(fake_slack: FakeSlack, tmp_path: Path) -> None:
    sock = FakeSocketMode()
    fake_slack.socket_mode_url = sock.url
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_", "DATABASE_URL"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=fake_slack.api_url,
        CHATOPS_CONFIG=str(tmp_path / "chatops.yaml"),
        DATABASE_URL=f"sqlite:///{tmp_path}/s.db",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert sock.connected.wait(30), "the bot did not open the Socket Mode connection"
        [opened] = fake_slack.calls_to("apps.connections.open")
        assert opened.args["_token"] == APP_TOKEN  # the app token, through SLACK_API_URL
        envelope = sock.push(
            "slash_commands",
            {
                "command": "/chatops",
                "text": "whoami",
                "user_id": "U0SOCK",
                "channel_id": "C00000001",
                "team_id": "T0TEST001",
                "response_url": fake_slack.response_url("sock"),
                "trigger_id": "trig.1",
            },
        )
        ack = sock.acks.get(timeout=10)
        assert ack["envelope_id"] == envelope
        [answer] = fake_slack.wait_responses(1)
        assert "U0SOCK" in answer["text"]
        # help answers at once, so its answer rides in the envelope's acknowledgement.
        envelope = sock.push(
            "slash_commands",
            {
                "command": "/chatops",
                "text": "help",
                "user_id": "U0SOCK",
                "channel_id": "C00000001",
                "team_id": "T0TEST001",
                "response_url": fake_slack.response_url("sock"),
                "trigger_id": "trig.2",
            },
        )
        ack = sock.acks.get(timeout=10)
        assert ack["envelope_id"] == envelope
        assert "/chatops whoami" in ack["payload"]["text"]
    except queue.Empty:
        raise AssertionError("the bot did not acknowledge the envelope") from None
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        sock.close()
    assert "Socket Mode" in out
