"""Issue 14, intake: `chatops serve` in Socket Mode still listens on --port for the probes,
metrics and status page; Slack's HTTP endpoint exists only in HTTP mode."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fakes.slack import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.support import BOT_TOKEN

APP_TOKEN = "xapp-1-A0TEST001-0000-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_socket_mode_serves_probes_metrics_and_status_on_the_port(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    sock = FakeSocketMode()
    fake_slack.socket_mode_url = sock.url
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_", "DATABASE_URL"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=fake_slack.api_url,
        CHATOPS_CONFIG=str(tmp_path / "chatops.yaml"),
        DATABASE_URL=f"sqlite:///{tmp_path}/s.db",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert sock.connected.wait(30), "the bot did not open the Socket Mode connection"
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(base + "/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "nothing listens on --port in Socket Mode"
                time.sleep(0.1)
        assert ready.json() == {"ready": True, "store": "ok"}
        assert httpx.get(base + "/healthz", timeout=5).text == "ok\n"
        assert "chatops_" in httpx.get(base + "/metrics", timeout=5).text
        assert httpx.get(base + "/status", timeout=5).status_code == 200
        assert httpx.post(base + "/slack/events", content=b"{}", timeout=5).status_code == 404
        assert httpx.post(base + "/healthz", timeout=5).status_code == 405
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        sock.close()
    assert proc.returncode == 0, out
    assert "Socket Mode" in out
