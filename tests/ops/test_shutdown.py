"""Graceful shutdown of the real `chatops serve` process on SIGTERM, with work in flight.

Two kinds of work are held open deterministically: an HTTP request blocked inside the server
(GET /readyz waits on a table lock the test holds in the state store), and a Bolt listener
still running after its ack (its Slack call is held by the fake Slack API). SIGTERM must close
the port at once, then let both finish, then exit cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import drop_pg_database, make_pg_database
from tests.fakes.slack import FakeSlack
from tests.support import BOT_TOKEN, SIGNING_SECRET, command_body, sign

CONFIG = """
access:
  operators: [S0SRE]
  group_cache: 0s
"""


class Lines:
    """Collects a pipe's lines in a thread, so the test can wait for one without blocking."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no line with {needle!r} in {timeout}s; got:\n" + "\n".join(self.lines)
                    )
                self._cond.wait(left)


def _wait(pred: object, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


@pytest.fixture
def state_db() -> Iterator[str]:
    url = make_pg_database("chatops_ops")
    yield url
    drop_pg_database(url)


def test_sigterm_finishes_requests_and_listeners_in_flight_then_exits(tmp_path: Path, state_db: str) -> None:
    (tmp_path / "chatops.yaml").write_text(CONFIG)
    with FakeSlack() as slack:
        slack.usergroups["S0SRE"] = ["U0OPS"]
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "CHATOPS_CONFIG": str(tmp_path / "chatops.yaml"),
            "DATABASE_URL": state_db,
        }
        env.pop("SLACK_APP_TOKEN", None)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--log-format",
                "json",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = Lines(proc.stdout), Lines(proc.stderr)
            line = out.wait_for("HTTP mode on")
            port = int(line.split("127.0.0.1:")[1].split("/")[0])
            base = f"http://127.0.0.1:{port}"
            assert httpx.get(base + "/readyz", timeout=5).status_code == 200

            # 1. A slash command acked at once; its listener then waits on usergroups.users.list.
            gate = slack.hold("usergroups.users.list")
            body = command_body("/chatops", "whoami", user="U0OPS", response_url=slack.response_url("late"))
            ack = httpx.post(base + "/slack/events", content=body, headers=sign(body), timeout=5)
            assert ack.status_code == 200
            slack.wait_calls("usergroups.users.list", 1)

            # 2. An HTTP request held inside the server: /readyz reads alembic_version, locked here.
            admin_url = state_db.replace("postgresql+psycopg://", "postgresql://", 1)
            with psycopg.connect(admin_url, connect_timeout=5) as locker:
                locker.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
                result: dict[str, httpx.Response] = {}
                slow = threading.Thread(
                    target=lambda: result.update(r=httpx.get(base + "/readyz", timeout=60)), daemon=True
                )
                slow.start()
                with psycopg.connect(admin_url, autocommit=True) as watch:

                    def readyz_is_waiting() -> bool:
                        row = watch.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND query LIKE %s",
                            ("%alembic_version%",),
                        ).fetchone()
                        return bool(row and row[0])

                    _wait(readyz_is_waiting, "the bot's /readyz to wait on the lock")

                # 3. SIGTERM: the port closes while both are still in flight.
                proc.send_signal(signal.SIGTERM)
                _wait(lambda: _refused(port), "new connections to be refused after SIGTERM")
                assert proc.poll() is None, "the bot exited with a request still in flight"
                assert slow.is_alive(), "the in-flight request ended before its lock was released"
                locker.rollback()  # releases the lock

            slow.join(30)
            assert result["r"].status_code == 200, result["r"].text  # finished, not cut off
            assert proc.poll() is None, "the bot exited while a Slack listener was still running"
            assert slack.responses == []

            # 4. The listener finishes its answer, then the process exits cleanly.
            gate.set()
            [answer] = slack.wait_responses(1, timeout=20)
            assert "U0OPS" in answer["text"]
            assert "operator" in answer["text"]
            assert proc.wait(timeout=30) == 0
            assert _refused(port)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        err._thread.join(5)
        records = [json.loads(x) for x in err.lines if x.startswith("{")]
        assert records, "no JSON log lines on stderr:\n" + "\n".join(err.lines)
        assert all(x.startswith("{") for x in err.lines if x.strip()), "a log line is not JSON"
        requests = [r for r in records if r.get("logger") == "bot.http"]
        slack_line = next(r for r in requests if r.get("path") == "/slack/events")
        assert slack_line["status"] == 200
        assert len(slack_line["request_id"]) >= 8
        command_line = next(r for r in records if r.get("logger") == "bot.requests")
        assert command_line["command"] == "chatops"
        assert command_line["user"] == "U0OPS"
        assert command_line["outcome"] == "ok"
        messages = [r["msg"] for r in records]
        assert any("SIGTERM" in m for m in messages), messages
        assert messages[-1] == "stopped", messages
        assert BOT_TOKEN not in "\n".join(err.lines)
