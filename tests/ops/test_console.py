"""`chatops console` in a pseudo-terminal: the same commands, guard and audit log as Slack.

Redis: db 13, keys under `chatops_ops_console:` (this area's own prefix).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
import redis as redis_lib

from bot.store import Store
from bot.store.audit import latest
from tests.conftest import PG_ADMIN

REDIS_DB = 13
PROMPT = r"chatops \(U0[A-Z]+\)> "
CONFIRM = "Run it\\? Type yes to confirm, anything else cancels: "
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def strip(text: str) -> str:
    return ANSI.sub("", text)


@pytest.fixture
def kv(redis_url: str) -> Iterator[redis_lib.Redis]:
    base = redis_url.rsplit("/", 1)[0]
    client = redis_lib.Redis.from_url(f"{base}/{REDIS_DB}", socket_timeout=5)
    yield client
    for key in client.scan_iter(match="chatops_ops_console:*", count=500):
        client.delete(key)
    client.close()


@pytest.fixture
def home(tmp_path: Path, redis_url: str) -> Path:
    base = redis_url.rsplit("/", 1)[0]
    (tmp_path / "chatops.yaml").write_text(
        f"""
databases:
  main: {{dsn: "{PG_ADMIN}"}}
redis:
  cache: {{url: "{base}/{REDIS_DB}", default: true}}
  guarded: {{url: "{base}/{REDIS_DB}"}}
access:
  operators: [U0OPS]
  approvers: [U0LEAD]
  rules:
    - {{handlers: ["redis.delete"], instances: ["guarded"], need: approval}}
"""
    )
    return tmp_path


def env_for(home: Path, user: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_"))}
    env.update(
        CHATOPS_CONFIG=str(home / "chatops.yaml"),
        DATABASE_URL=f"sqlite:///{home / 'state.db'}",
        HOME=str(home),
        TERM="xterm-256color",
        COLUMNS="160",
    )
    if user:
        env["CHATOPS_USER"] = user
    return env


class Terminal:
    """A console session in a pty: type a line, get back what appeared before the next prompt."""

    def __init__(self, home: Path, user: str) -> None:
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "bot", "console"],
            env=env_for(home, user),
            cwd=str(home),
            encoding="utf-8",
            dimensions=(60, 160),
            timeout=30,
        )
        self.child.expect(PROMPT)
        self.banner = strip(self.child.before)

    def run(self, line: str, *, until: str = PROMPT) -> str:
        self.child.sendline(line)
        self.child.expect(until)
        return strip(self.child.before)

    def close(self) -> int:
        self.child.expect(pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus or 0)


def seed(kv: redis_lib.Redis, n: int) -> str:
    prefix = f"chatops_ops_console:{uuid.uuid4().hex[:8]}"
    for i in range(n):
        kv.set(f"{prefix}:{i}", "cached")
    return prefix


def test_read_only_commands_and_a_confirmed_delete(home: Path, kv: redis_lib.Redis) -> None:
    term = Terminal(home, "U0OPS")
    assert "You are U0OPS (roles: everyone, operator)" in term.banner
    whoami = term.run("/chatops whoami")
    assert "You are @U0OPS (U0OPS). Roles: everyone, operator." in whoami
    assert "redis cache is up" in term.run("/redis ping")
    assert "database main is up" in term.run("db ping main")  # the leading / is optional

    doomed = seed(kv, 3)
    preview = term.run(f"/redis delete {doomed}:*", until=CONFIRM)
    assert f"Would change: Delete 3 keys matching '{doomed}:*' on redis cache db {REDIS_DB}" in preview
    assert kv.exists(f"{doomed}:0"), "the preview deleted something"
    done = term.run("yes")
    assert f"Deleted 3 keys matching '{doomed}:*'" in done
    assert list(kv.scan_iter(match=f"{doomed}:*")) == []

    kept = seed(kv, 1)
    term.run(f"/redis delete {kept}:*", until=CONFIRM)
    assert "Nothing was run." in term.run("no")
    assert kv.exists(f"{kept}:0")

    term.child.sendline("exit")
    assert term.close() == 0

    # The same audit log as Slack: who, what, where, and how it went.
    store = Store(f"sqlite:///{home / 'state.db'}")
    entries = latest(store.engine, user="U0OPS", handler_glob="redis.delete", limit=20)
    store.close()
    events = {(e.event, e.outcome) for e in entries}
    assert ("preview", "pending") in events
    assert ("execute", "ok") in events
    assert ("cancel", "ok") in events
    assert all(e.target == "redis cache" for e in entries)


def test_a_delete_that_needs_approval_waits_for_an_approver(home: Path, kv: redis_lib.Redis) -> None:
    doomed = seed(kv, 2)
    requester = Terminal(home, "U0OPS")
    preview = requester.run(f"/redis delete {doomed}:* guarded", until=CONFIRM)
    assert "Needs a second person" in preview
    waiting = requester.run("yes")
    match = re.search(r"Action id ([A-Za-z0-9_-]{16,64})", waiting)
    assert match, waiting
    assert kv.exists(f"{doomed}:0"), "it ran without an approval"
    listed = requester.run(":pending")
    assert match.group(1) in listed
    requester.child.sendeof()  # Ctrl-D leaves
    assert requester.close() == 0

    approver = Terminal(home, "U0LEAD")
    assert "approver" in approver.banner
    done = approver.run(f":approve {match.group(1)}")
    assert f"Deleted 2 keys matching '{doomed}:*'" in done
    assert list(kv.scan_iter(match=f"{doomed}:*")) == []
    approver.child.sendline("quit")
    assert approver.close() == 0


def test_the_same_access_rules_refuse_a_person_without_the_role(home: Path, kv: redis_lib.Redis) -> None:
    kept = seed(kv, 1)
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--user", "U0GUEST", "-c", f"/redis delete {kept}:*"],
        env=env_for(home, None),
        cwd=str(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "needs the operator role" in proc.stdout
    assert kv.exists(f"{kept}:0")


def test_no_slack_token_is_needed_and_a_bad_user_id_is_named(home: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--user", "not a user", "-c", "/chatops whoami"],
        env=env_for(home, None),
        cwd=str(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "'not a user'" in proc.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "bot", "console", "-c", "/chatops whoami"],
        env={**env_for(home, None), "CHATOPS_USER": "U0OPS"},
        cwd=str(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert "Roles: everyone, operator" in ok.stdout
