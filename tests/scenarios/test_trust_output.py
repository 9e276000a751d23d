"""Issue 12, items 11, 12 and 18 through the real endpoint: what leaves the bot.

Secrets in a Redis value and in URL query strings are redacted; the notification text of a
message carries no `<!channel>` or link from user input; odd input gets a clear message.
Redis: db 0, keys under `chatops_trust_out-UUID:`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib

from tests.conftest import RunningBot, start_bot, stop_bot
from tests.fakes.slack import FakeSlack
from tests.incidents.conftest import CONFIG as INCIDENT_CONFIG
from tests.incidents.conftest import Clock, Harness, start_incident_bot
from tests.support import message_text


@pytest.fixture
def echo() -> Iterator[str]:
    """A health endpoint that answers 200 with the query it got (as a careless service might)."""

    class H(BaseHTTPRequestHandler):
        def log_message(self, *_a: Any) -> None:
            return

        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "request": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def kv(redis_url: str) -> Iterator[tuple[redis_lib.Redis, str]]:
    client = redis_lib.Redis.from_url(redis_url, socket_timeout=5)
    prefix = f"chatops_trust_out-{uuid.uuid4().hex}"
    yield client, prefix
    for key in client.scan_iter(match=f"{prefix}:*", count=500):
        client.delete(key)
    client.close()


@pytest.fixture
def obot(fake_slack: FakeSlack, tmp_path: Path, redis_url: str, echo: str) -> Iterator[RunningBot]:
    port = echo.rsplit(":", 1)[1]
    config = f"""
redis:
  cache: {{url: "{redis_url}"}}
access:
  operators: [U0OPS]
health: {{allow: ["http://127.0.0.1:{port}/*"], allow_private: true}}
"""
    running = start_bot(fake_slack, tmp_path, config)
    yield running
    stop_bot(running)


def _ask(bot: RunningBot, command: str, text: str, *, user: str = "U0ALICE") -> str:
    before = len(bot.slack.responses)
    bot.client.command(command, text, user=user)
    bot.slack.wait_for(lambda: len(bot.slack.responses) > before)
    answer = bot.slack.responses[before]
    return message_text(answer) + json.dumps(answer)


def test_a_json_secret_in_a_redis_value_is_redacted(
    obot: RunningBot, kv: tuple[redis_lib.Redis, str]
) -> None:
    client, prefix = kv
    client.set(f"{prefix}:cfg", json.dumps({"user": "app", "password": "hunter2", "api_key": "k-123456"}))
    shown = _ask(obot, "/redis", f"key {prefix}:cfg")
    assert '\\"user\\": \\"app\\"' in shown or '"user": "app"' in shown
    assert "hunter2" not in shown
    assert "k-123456" not in shown


def test_query_secrets_in_a_url_are_redacted(obot: RunningBot, echo: str) -> None:
    url = f"{echo}/health?api_key=AKSECRET1&sig=SIGSECRET2&token=TOKSECRET3&page=2"
    shown = _ask(obot, "/health", url)
    for secret in ("AKSECRET1", "SIGSECRET2", "TOKSECRET3"):
        assert secret not in shown, secret
    assert "page=2" in shown


@pytest.mark.parametrize("name", ["\\x4", "\\x41\\x4"])
def test_a_broken_escape_in_a_key_gets_a_clear_message(obot: RunningBot, name: str) -> None:
    shown = _ask(obot, "/redis", f"key '{name}'")
    assert "ValueError" not in shown
    assert "Traceback" not in shown
    assert "two hex digits" in shown or "no key" in shown


def test_audit_since_far_in_the_past_gets_a_clear_message(obot: RunningBot) -> None:
    shown = _ask(obot, "/chatops", "audit --since 99999999d", user="U0OPS")
    assert "--since reaches back before any record" in shown


@pytest.fixture
def harness(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[Harness]:
    clock = Clock()
    running = start_incident_bot(fake_slack, tmp_path, clock, config=INCIDENT_CONFIG)
    yield Harness(running, fake_slack, clock)
    stop_bot(running)


EVIL = "<!channel> checkout <https://evil.example|click here>"


def test_the_notification_text_carries_no_mention_or_link_from_user_input(harness: Harness) -> None:
    inc = harness.declare(f"P2 {EVIL}")
    harness.command(f"update #{inc.id} {EVIL}", channel=inc.channel_id or "")
    harness.command(f"resolve #{inc.id} {EVIL}")
    harness.wait_post(inc.channel_id or "", "resolved by")
    texts = [str(c.args.get("text", "")) for c in harness.slack.calls if "text" in c.args]
    texts += [str(r.get("text", "")) for r in harness.slack.responses]
    leaking = [t for t in texts if "<!channel>" in t or "<https://evil" in t]
    assert leaking == []
    assert any("&lt;!channel&gt;" in t for t in texts)


def test_a_key_pattern_with_too_many_wildcards_is_refused_before_redis_sees_it(obot: RunningBot) -> None:
    shown = _ask(obot, "/redis", "keys '" + "*a" * 40 + "*b'")
    assert "use at most 16" in shown
