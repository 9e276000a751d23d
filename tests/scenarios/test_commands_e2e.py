"""The on-call engineer's commands through the real endpoint, against real targets.

/k8s talks to the fake Kubernetes API through the official client, /db to the real
PostgreSQL, /redis to the real Redis and /health to a local HTTP server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN, REDIS_URL, RunningBot, start_bot, stop_bot
from tests.fakes.k8s import FakeKube
from tests.fakes.k8s_fixtures import populate
from tests.fakes.slack import FakeSlack
from tests.support import message_text


@pytest.fixture
def health_url() -> Iterator[str]:
    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"status": "ok", "database": {"connections": 7}}'
            self.send_response(200 if self.path == "/health" else 500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_a: object) -> None:
            return

    srv = HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture
def ebot(fake_slack: FakeSlack, tmp_path: Path, health_url: str, redis_url: str) -> Iterator[RunningBot]:
    with FakeKube() as kube:
        populate(kube)
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context="prod")
        config = f"""
clusters:
  prod: {{context: prod, kubeconfig: "{kubeconfig}"}}
databases:
  main: {{dsn: "{PG_ADMIN}"}}
redis:
  cache: {{url: "{REDIS_URL}"}}
services:
  backend:
    cluster: prod
    namespace: prod
    deployment: backend
    database: main
    redis: cache
    health: ["{health_url}/health"]
  legacy:
    health: ["{health_url}/broken"]
health: {{allow_private: true}}  # the test server is on loopback
"""
        running = start_bot(fake_slack, tmp_path, config)
        yield running
        stop_bot(running)


def test_k8s_pods_for_a_service_lists_unhealthy_first(ebot: RunningBot) -> None:
    ebot.client.command("/k8s", "pods backend")
    [answer] = ebot.slack.wait_responses(1)
    text = message_text(answer)
    assert answer["response_type"] == "in_channel"
    assert "CrashLoopBackOff" in text
    assert text.index("CrashLoopBackOff") < text.index("Running")


def test_k8s_bad_namespace_is_refused_before_any_call(ebot: RunningBot) -> None:
    ebot.client.command("/k8s", "pods -n Prod_Bad")
    [answer] = ebot.slack.wait_responses(1)
    assert answer["response_type"] == "ephemeral"
    assert "'Prod_Bad' is not a valid name" in message_text(answer)


def test_db_ping_against_the_real_database(ebot: RunningBot) -> None:
    ebot.client.command("/db", "ping")
    [answer] = ebot.slack.wait_responses(1)
    assert "PostgreSQL" in message_text(answer) or "server" in message_text(answer).lower()


def test_redis_ping_against_the_real_redis(ebot: RunningBot) -> None:
    ebot.client.command("/redis", "ping")
    [answer] = ebot.slack.wait_responses(1)
    assert "ms" in message_text(answer)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("backend", "/health"), ("all", "legacy"), ("", "backend"), ("check backend", "/health")],
)
def test_bare_health_runs_the_check(ebot: RunningBot, text: str, expected: str) -> None:
    ebot.client.command("/health", text)
    [answer] = ebot.slack.wait_responses(1)
    assert expected in message_text(answer)
    assert answer["response_type"] == "in_channel"


def test_health_of_a_url(ebot: RunningBot, health_url: str) -> None:
    ebot.client.command("/health", f"{health_url}/broken")
    [answer] = ebot.slack.wait_responses(1)
    assert "500" in message_text(answer)


def test_unknown_service_lists_the_configured_ones(ebot: RunningBot) -> None:
    ebot.client.command("/k8s", "pods backnd")
    [answer] = ebot.slack.wait_responses(1)
    assert "unknown service 'backnd' (configured: backend, legacy)" in message_text(answer)
