"""The `chatops` command as an operator runs it: serve, db upgrade, check-config."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_ADMIN, REDIS_URL
from tests.fakes.slack import FakeSlack
from tests.support import BOT_TOKEN, SIGNING_SECRET, BotClient


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_", "DATABASE_URL"))}
    env.update(
        {"CHATOPS_CONFIG": str(tmp_path / "chatops.yaml"), "DATABASE_URL": f"sqlite:///{tmp_path}/c.db"}
    )
    env.update(extra)
    return env


def _chatops(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def served(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], BotClient]]:
    port = _free_port()
    env = _env(
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chatops serve exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chatops serve did not answer /healthz within 30 s")
    yield proc, BotClient(base, fake_slack.response_url(), fake_slack)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_serve_http_mode_answers_signed_commands_and_stops_on_sigterm(
    served: tuple[subprocess.Popen[str], BotClient], fake_slack: FakeSlack
) -> None:
    proc, client = served
    assert httpx.get(client.base_url + "/readyz").json() == {"ready": True, "store": "ok"}
    assert client.command("/chatops", "whoami", user="U0DAVE").status_code == 200
    [answer] = fake_slack.wait_responses(1)
    assert "U0DAVE" in answer["text"]
    # The bot verified its token against the fake API (SLACK_API_URL honoured).
    assert fake_slack.calls_to("auth.test")[0].args["_token"] == BOT_TOKEN
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_serve_without_tokens_says_what_is_missing(tmp_path: Path) -> None:
    r = _chatops("serve", "--port", str(_free_port()), env=_env(tmp_path))
    assert r.returncode == 2
    assert "SLACK_BOT_TOKEN" in r.stdout + r.stderr
    assert "SLACK_SIGNING_SECRET" in r.stdout + r.stderr


def test_serve_with_a_broken_config_names_the_key(tmp_path: Path, fake_slack: FakeSlack) -> None:
    (tmp_path / "chatops.yaml").write_text("clusters: {prod: {contxt: prod}}\n")
    env = _env(
        tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET="s", SLACK_API_URL=fake_slack.api_url
    )
    r = _chatops("serve", "--port", str(_free_port()), env=env)
    assert r.returncode == 2
    assert "clusters.prod.contxt: unknown key" in r.stdout + r.stderr


def test_db_upgrade_on_sqlite(tmp_path: Path) -> None:
    r = _chatops("db", "upgrade", env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "at migration" in r.stdout


@pytest.fixture
def health_server() -> Iterator[str]:
    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 503)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_a: object) -> None:
            return

    srv = HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_check_config_prints_one_line_per_target(tmp_path: Path, health_server: str) -> None:
    dsn = PG_ADMIN
    (tmp_path / "chatops.yaml").write_text(
        f"""
databases:
  main: {{dsn: "{dsn}"}}
  gone: {{dsn: "postgresql://app:hunter2@127.0.0.1:1/x"}}
redis:
  cache: {{url: "{REDIS_URL}"}}
  broken: {{url: "redis://127.0.0.1:1/0"}}
clusters:
  prod: {{context: nowhere, kubeconfig: "{tmp_path}/missing-kubeconfig"}}
services:
  api: {{health: ["{health_server}/health", "{health_server}/down"]}}
health: {{allow_private: true}}  # the test server is on loopback
"""
    )
    r = _chatops("check-config", "--timeout", "2", env=_env(tmp_path))
    out = r.stdout
    assert r.returncode == 1, out
    assert "chatops.yaml: valid" in out
    lines = {line.split(":")[0] for line in out.splitlines()}
    assert "OK   database main" in lines
    assert "FAIL database gone" in lines
    assert "OK   redis cache" in lines
    assert "FAIL redis broken" in lines
    assert "FAIL cluster prod" in lines
    assert f"OK   health api {health_server}/health" in {line.rsplit(":", 1)[0] for line in out.splitlines()}
    assert "HTTP 503" in out
    assert "hunter2" not in out


def test_check_config_rejects_an_invalid_file(tmp_path: Path) -> None:
    (tmp_path / "chatops.yaml").write_text("redis: {cache: {url: 1, extra: 2}}\n")
    r = _chatops("check-config", env=_env(tmp_path))
    assert r.returncode == 2
    assert "redis.cache.extra: unknown key" in r.stdout + r.stderr


def test_check_config_without_a_file_runs_with_no_targets(tmp_path: Path) -> None:
    r = _chatops("check-config", env=_env(tmp_path))
    assert r.returncode == 0
    assert "not found; running with no targets configured" in r.stdout
