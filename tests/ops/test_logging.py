"""Logs: one line per request with its id, text or JSON, and never a secret."""

from __future__ import annotations

import io
import json
import logging
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from bot.logging_setup import LogFormat, setup_logging
from tests.conftest import RunningBot
from tests.support import BOT_TOKEN


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_json_lines_carry_the_extras_and_hide_secrets(restore_logging: None) -> None:
    out = io.StringIO()
    setup_logging(LogFormat.JSON, stream=out)
    log = logging.getLogger("bot.test")
    log.info(
        "connecting to %s",
        "postgresql://app:hunter2@db:5432/main",
        extra={"request_id": "abc123", "status": 200},
    )
    try:
        raise RuntimeError(f"Slack said no to {BOT_TOKEN}")
    except RuntimeError:
        log.exception("call failed", extra={"request_id": "abc124"})
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["msg"] == "connecting to postgresql://app:***@db:5432/main"
    assert first["level"] == "info"
    assert first["logger"] == "bot.test"
    assert first["request_id"] == "abc123"
    assert first["status"] == 200
    assert first["ts"].endswith("+00:00")
    assert second["request_id"] == "abc124"
    assert "RuntimeError" in second["exc"]
    assert BOT_TOKEN not in out.getvalue()
    assert "hunter2" not in out.getvalue()


def test_text_lines_end_with_the_extras_as_key_value(restore_logging: None) -> None:
    out = io.StringIO()
    setup_logging("text", stream=out)
    logging.getLogger("bot.http").info("GET /status 200", extra={"request_id": "r-1", "duration_ms": 4})
    line = out.getvalue().strip()
    assert " INFO bot.http: GET /status 200 duration_ms=4 request_id=r-1" in line


def test_every_request_gets_an_id_echoed_and_logged_once(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.http")
    mine = httpx.get(bot.url + "/status", headers={"X-Request-Id": "trace-42"}, timeout=10)
    assert mine.headers["x-request-id"] == "trace-42"
    given = httpx.get(bot.url + "/nowhere", headers={"X-Request-Id": "bad id with spaces"}, timeout=10)
    assert given.status_code == 404
    new_id = given.headers["x-request-id"]
    assert new_id != "bad id with spaces"
    assert len(new_id) == 16
    lines = [r for r in caplog.records if r.name == "bot.http"]
    assert [(r.request_id, r.path, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("trace-42", "/status", 200),
        (new_id, "/nowhere", 404),
    ]


def test_a_slash_command_is_logged_with_its_request_id_user_and_outcome(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.requests")
    bot.client.command("/chatops", "whoami", user="U0BOB")
    bot.slack.wait_responses(1)
    bot.slack.wait_for(lambda: [r for r in caplog.records if r.name == "bot.requests"])
    [record] = [r for r in caplog.records if r.name == "bot.requests"]
    assert record.user == "U0BOB"  # type: ignore[attr-defined]
    assert record.command == "chatops"  # type: ignore[attr-defined]
    assert record.outcome == "ok"  # type: ignore[attr-defined]
    assert len(record.request_id) == 16  # type: ignore[attr-defined]


def test_serve_rejects_an_unknown_log_format() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--log-format", "yaml"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    shown = " ".join(proc.stderr.replace("│", " ").split())
    assert "Invalid value for '--log-format'" in shown
    assert "'yaml' is not one of 'text', 'json'" in shown


def test_text_fields_named_like_secrets_and_tracebacks_are_redacted(restore_logging: None) -> None:
    out = io.StringIO()
    setup_logging("text", stream=out)
    log = logging.getLogger("bot.test")
    log.info("saw %s", "x", extra={"api_key": "plain-value", "target": "postgresql://u:hunter2@db/main"})
    try:
        raise RuntimeError(f"Slack said no to {BOT_TOKEN}")
    except RuntimeError:
        log.exception("call failed")
    text = out.getvalue()
    assert "api_key=***" in text
    assert "plain-value" not in text
    assert "postgresql://u:***@db/main" in text
    assert "RuntimeError: Slack said no to xox" in text
    assert BOT_TOKEN not in text
    assert "hunter2" not in text


def test_the_servers_queued_log_writes_every_line_by_exit(tmp_path: pathlib.Path) -> None:
    # `chatops serve` hands records to a writer thread; what is still queued at exit is written.
    script = (
        "import logging\n"
        "from bot.logging_setup import setup_logging\n"
        "setup_logging('json', queued=True)\n"
        "log = logging.getLogger('bot.test')\n"
        "for i in range(2000):\n"
        "    log.info('line %d', i, extra={'n': i})\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [entry["n"] for entry in lines] == list(range(2000))
    assert lines[-1]["msg"] == "line 1999"
