"""Issue 12, items 1, 2 and 10 through the real endpoint: SSRF, ReDoS, a shared cookie jar.

A local "internal" server plays the cloud metadata service and a Prometheus endpoint. It
records every request, so a refusal is proved by the server never seeing the request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from handlers.health.egress import EgressPolicy, EgressRefused, egress_client
from tests.conftest import RunningBot, start_bot, stop_bot
from tests.fakes.slack import FakeSlack
from tests.support import message_text

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# Metric names that make a backtracking engine explode on ^([a-z_]+)+[{] (no `{` ever follows).
EVIL_NAMES = [f"{'a' * 40}_{i}_total" for i in range(3)]
EVIL_METRICS = "".join(f"# TYPE {n} counter\n{n} {i}\n" for i, n in enumerate(EVIL_NAMES))


@dataclass
class Internal:
    url: str
    port: int
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [p for p, _ in self.seen]


@pytest.fixture
def internal() -> Iterator[Internal]:
    box: dict[str, Internal] = {}

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_a: Any) -> None:
            return

        def _send(self, code: int, body: bytes, ctype: str, **headers: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            box["s"].seen.append((self.path, dict(self.headers.items())))
            if self.path.startswith("/latest/meta-data"):
                creds = {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": SECRET}
                self._send(200, json.dumps(creds).encode(), "application/json")
            elif self.path == "/metrics":
                self._send(200, EVIL_METRICS.encode(), "text/plain; version=0.0.4")
            elif self.path == "/login":
                body = b'{"status": "ok"}'
                self._send(200, body, "application/json", **{"Set-Cookie": "session=VICTIM; Path=/"})
            elif self.path == "/echo-cookie":
                body = json.dumps({"status": "ok", "cookie": self.headers.get("Cookie", "none")}).encode()
                self._send(200, body, "application/json")
            elif self.path == "/redirect":
                self._send(302, b"", "text/plain", Location="/latest/meta-data/iam/security-credentials/role")
            else:
                self._send(200, b'{"status": "ok"}', "application/json")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    port = srv.server_address[1]
    box["s"] = Internal(url=f"http://127.0.0.1:{port}", port=port)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield box["s"]
    srv.shutdown()
    srv.server_close()


def _bot(slack: FakeSlack, tmp_path: Path, config: str) -> RunningBot:
    return start_bot(slack, tmp_path, config)


@pytest.fixture
def default_bot(fake_slack: FakeSlack, tmp_path: Path, internal: Internal) -> Iterator[RunningBot]:
    """No health.allow: only the configured service's URL may be fetched (and it is loopback)."""
    running = _bot(fake_slack, tmp_path, f'services:\n  backend: {{health: ["{internal.url}/health"]}}\n')
    yield running
    stop_bot(running)


def _answer(bot: RunningBot) -> tuple[dict[str, Any], str]:
    [answer] = bot.slack.wait_responses(1)
    return answer, message_text(answer)


@pytest.mark.parametrize(
    "text",
    [
        "{url}/latest/meta-data/iam/security-credentials/role",
        "headers {url}/latest/meta-data/",
        "metrics {url}/metrics",
        "check --url {url}/latest/meta-data/iam",
    ],
)
def test_a_url_the_config_does_not_name_is_never_fetched(
    default_bot: RunningBot, internal: Internal, text: str
) -> None:
    default_bot.client.command("/health", text.format(url=internal.url), user="U0GUEST")
    answer, shown = _answer(default_bot)
    assert answer["response_type"] == "ephemeral"
    assert "health.allow" in shown
    assert SECRET not in shown
    assert internal.seen == [], "the bot fetched a URL nobody configured"


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1"])
def test_odd_ip_spellings_are_refused(
    fake_slack: FakeSlack, tmp_path: Path, internal: Internal, host: str
) -> None:
    # Even a pattern that allows any host on the port does not let a numeric spelling through.
    bot = _bot(
        fake_slack, tmp_path, f'health: {{allow: ["http://*:{internal.port}/*"], allow_private: true}}\n'
    )
    try:
        bot.client.command("/health", f"http://{host}:{internal.port}/latest/meta-data/")
        _, shown = _answer(bot)
        # Refused by the egress policy, or by httpx as no valid IPv4 address: never fetched.
        assert "unusual spelling" in shown or "Invalid IPv4 address" in shown
        assert internal.seen == []
    finally:
        stop_bot(bot)


def test_an_allowed_host_on_a_loopback_address_is_refused_without_allow_private(
    fake_slack: FakeSlack, tmp_path: Path, internal: Internal
) -> None:
    # `localhost` passes the URL pattern; the address it resolves to does not.
    config = f'health: {{allow: ["http://localhost:{internal.port}/*", "http://127.0.0.1:*/*"]}}\n'
    bot = _bot(fake_slack, tmp_path, config)
    try:
        bot.client.command("/health", f"http://localhost:{internal.port}/latest/meta-data/")
        bot.client.command("/health", f"headers http://127.0.0.1:{internal.port}/x")
        answers = bot.slack.wait_responses(2)
        for answer in answers:
            shown = message_text(answer)
            assert "a loopback address" in shown
            assert "health.allow_private: true" in shown
        assert internal.seen == []
    finally:
        stop_bot(bot)


def test_with_allow_private_the_allowed_url_is_fetched_and_redirects_are_not_followed(
    fake_slack: FakeSlack, tmp_path: Path, internal: Internal
) -> None:
    config = f'health: {{allow: ["http://127.0.0.1:{internal.port}/redirect"], allow_private: true}}\n'
    bot = _bot(fake_slack, tmp_path, config)
    try:
        bot.client.command("/health", f"headers {internal.url}/redirect")
        _, shown = _answer(bot)
        assert "302" in shown
        assert internal.paths() == ["/redirect"], "the redirect to the metadata path was followed"
    finally:
        stop_bot(bot)


def test_a_configured_service_on_loopback_needs_allow_private(
    default_bot: RunningBot, internal: Internal
) -> None:
    default_bot.client.command("/health", "backend")
    _, shown = _answer(default_bot)
    assert "health.allow_private" in shown
    assert internal.seen == []


def test_the_address_checked_is_the_address_connected_to(internal: Internal) -> None:
    """DNS rebinding: a name that resolves to loopback is refused whatever the name; the
    resolver is asked once per connection and the socket goes to the address it returned."""
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["93.184.216.34"] if len(asked) == 1 else ["127.0.0.1"]

    policy = EgressPolicy(allow=(f"http://rebind.test:{internal.port}/*",), resolver=rebinding)
    with egress_client(policy, timeout=2, connect=1) as client:
        # First answer: a public address (unreachable here), checked and connected to as is.
        with pytest.raises(httpx.HTTPError):
            client.get(f"http://rebind.test:{internal.port}/a")
        # Second answer: loopback, refused before any connection.
        with pytest.raises(EgressRefused, match="loopback"):
            client.get(f"http://rebind.test:{internal.port}/b")
    assert asked == ["rebind.test", "rebind.test"]
    assert internal.seen == []


def test_metadata_addresses_are_refused_even_with_allow_private() -> None:
    policy = EgressPolicy(
        allow=("http://metadata.internal/*",),
        allow_private=True,
        resolver=lambda _h, _p: ["169.254.169.254"],
    )
    with egress_client(policy) as client, pytest.raises(EgressRefused, match="metadata"):
        client.get("http://metadata.internal/latest/meta-data/")


# -- 10: no cookie jar shared between users ----------------------------------------------------


def test_no_cookie_set_for_one_user_is_sent_for_another(
    fake_slack: FakeSlack, tmp_path: Path, internal: Internal
) -> None:
    config = f'health: {{allow: ["http://127.0.0.1:{internal.port}/*"], allow_private: true}}\n'
    bot = _bot(fake_slack, tmp_path, config)
    try:
        bot.client.command("/health", f"{internal.url}/login", user="U0VICTIM")
        bot.slack.wait_responses(1)
        bot.client.command("/health", f"{internal.url}/echo-cookie", user="U0OTHER")
        answers = bot.slack.wait_responses(2)
        assert "cookie=none" in message_text(answers[1])
        assert [h.get("Cookie") for _p, h in internal.seen] == [None, None]
    finally:
        stop_bot(bot)


# -- 2: a user's pattern never freezes the bot --------------------------------------------------


def test_a_catastrophic_pattern_answers_and_nobody_waits(
    fake_slack: FakeSlack, tmp_path: Path, internal: Internal
) -> None:
    config = f'health: {{allow: ["http://127.0.0.1:{internal.port}/*"], allow_private: true}}\n'
    bot = _bot(fake_slack, tmp_path, config)
    try:
        evil = bot.client.command("/health", f"metrics {internal.url}/metrics '^([a-z_]+)+[{{]'")
        assert evil.status_code == 200
        # While it runs (on a backtracking engine: for ever, holding the GIL), the bot answers.
        assert httpx.get(bot.url + "/healthz", timeout=10).status_code == 200
        other = bot.client.command("/chatops", "whoami", user="U0OTHER")
        assert other.status_code == 200
        answers = bot.slack.wait_responses(2)
        texts = [message_text(a) for a in answers]
        assert any("0 samples matching" in t for t in texts), texts
        assert any("U0OTHER" in t for t in texts), texts
    finally:
        stop_bot(bot)


def test_a_pattern_re2_cannot_run_is_refused_with_the_reason(
    fake_slack: FakeSlack, tmp_path: Path, internal: Internal
) -> None:
    config = f'health: {{allow: ["http://127.0.0.1:{internal.port}/*"], allow_private: true}}\n'
    bot = _bot(fake_slack, tmp_path, config)
    try:
        bot.client.command("/health", f"metrics {internal.url}/metrics '(a)\\1'")
        _, shown = _answer(bot)
        assert "no backreferences" in shown
        assert internal.seen == []
    finally:
        stop_bot(bot)


RUNBOOK = """
name: fetch-meta
title: Fetch a URL
description: A runbook step that names a URL the config does not.
source: [{file: test.md, section: SSRF}]
diagnostics:
  - {id: meta, title: Metadata, handler: health.check, args: {urls: ["BASE/latest/meta-data/iam"]}}
"""


def test_a_runbook_step_that_fetches_an_unconfigured_url_is_refused(
    tmp_path: Path, internal: Internal
) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "fetch-meta.yaml").write_text(RUNBOOK.replace("BASE", internal.url))
    (tmp_path / "chatops.yaml").write_text("health: {allow_private: true}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_", "DATABASE_URL"))}
    env.update(CHATOPS_CONFIG=str(tmp_path / "chatops.yaml"), DATABASE_URL=f"sqlite:///{tmp_path}/s.db")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "runbook", "run", "fetch-meta", "--dir", str(books)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 3, out  # the step ended in error: refused
    # (the terminal cuts the long detail in its middle; the message names health.allow)
    assert "fetches only services' health URLs" in out
    assert SECRET not in out
    assert internal.seen == []


def test_infrastructure_the_config_names_is_reachable_under_its_base(internal: Internal) -> None:
    """An Alertmanager or Prometheus `url:` from chatops.yaml: named by an admin, not from chat."""
    policy = EgressPolicy(endpoints=(f"{internal.url}/am",))
    with egress_client(policy, timeout=5, connect=2) as client:
        assert client.get(f"{internal.url}/am/api/v2/status").status_code == 200  # loopback: fine
        with pytest.raises(EgressRefused, match="not a configured URL"):
            client.get(f"{internal.url}/latest/meta-data/")  # same host, outside the base
        with pytest.raises(EgressRefused, match="not a configured URL"):
            client.get(f"{internal.url}/amx")
    assert internal.paths() == ["/am/api/v2/status"]
