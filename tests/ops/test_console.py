"""`chatops console` in a pseudo-terminal: the same commands, guard and audit log as Slack.

Redis: db 13, keys under `chatops_ops_console-UUID:` (each test deletes only its own).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest
import redis as redis_lib

from bot.store import Store
from bot.store.audit import latest
from tests.conftest import PG_ADMIN

REDIS_DB = 13
ME = pwd.getpwuid(os.geteuid()).pw_name  # the OS account running the tests
OTHER = "nobody"  # a second person at the console
# The venv's interpreter lives under root's home, which other accounts cannot enter; Debian's
# python3.11 runs the same code with the venv's packages on its path.
SYSTEM_PYTHON = "/usr/bin/python3.11"


def as_account(account: str, env: dict[str, str]) -> tuple[str, dict[str, str], Callable[[], None]]:
    """Interpreter, environment and pre-exec hook that run the console as another OS account."""
    if os.geteuid() != 0:
        pytest.fail(f"running the console as {account!r} needs the tests to run as root")
    if not Path(SYSTEM_PYTHON).exists():
        pytest.fail(f"{SYSTEM_PYTHON} is missing (Debian's python3.11 runs the second OS account's console)")
    entry = pwd.getpwnam(account)
    site = next(p for p in sys.path if p.endswith("site-packages") and ".venv" in p)
    env = {**env, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), site]), "HOME": env["HOME"]}

    def become() -> None:
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)

    return SYSTEM_PYTHON, env, become


PROMPT = r"chatops \(U0[A-Z]+\)> "
CONFIRM = "Run it\\? Type yes to confirm, anything else cancels: "
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def strip(text: str) -> str:
    return ANSI.sub("", text)


@pytest.fixture
def kv(redis_url: str) -> Iterator[redis_lib.Redis]:
    base = redis_url.rsplit("/", 1)[0]
    client = redis_lib.Redis.from_url(f"{base}/{REDIS_DB}", socket_timeout=5)
    SEEDED.clear()
    yield client
    # Only this test's keys: other worktrees run these tests against the same Redis at once.
    for prefix in SEEDED:
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            client.delete(key)
    client.close()


@pytest.fixture
def home(redis_url: str) -> Iterator[Path]:
    # Outside pytest's private tmp dirs: a console of a second OS account shares the state store.
    tmp_path = Path(tempfile.mkdtemp(prefix="chatops-console-"))
    tmp_path.chmod(0o777)
    base = redis_url.rsplit("/", 1)[0]
    (tmp_path / "chatops.yaml").write_text(
        f"""
console:
  users:
    {ME}: {{id: U0OPS, act_as: [U0GUEST, U0LEAD]}}
    {OTHER}: U0LEAD
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
    (tmp_path / "chatops.yaml").chmod(0o644)
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    store.upgrade()
    store.close()
    (tmp_path / "state.db").chmod(0o666)
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


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

    def __init__(self, home: Path, user: str | None, *, account: str | None = None) -> None:
        python, env, become = sys.executable, env_for(home, user), None
        if account is not None:
            python, env, become = as_account(account, env)
        self.child = pexpect.spawn(
            python,
            ["-m", "bot", "console"],
            env=env,
            preexec_fn=become,
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


SEEDED: list[str] = []


def seed(kv: redis_lib.Redis, n: int) -> str:
    prefix = f"chatops_ops_console-{uuid.uuid4().hex}"
    SEEDED.append(prefix)
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

    # The same OS account cannot approve, even as an id it may act as.
    same = Terminal(home, "U0LEAD")
    refused = same.run(f":approve {match.group(1)}")
    assert "a console approval needs a different OS account" in " ".join(refused.split())
    assert kv.exists(f"{doomed}:0"), "one person requested and approved"
    same.child.sendline("exit")
    assert same.close() == 0

    approver = Terminal(home, None, account=OTHER)  # its own id from console.users: U0LEAD
    assert "You are U0LEAD" in approver.banner
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


def _console(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "console", *args],
        env=env or env_for(home, None),
        cwd=str(home),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_user_is_only_an_id_the_os_account_may_act_as(home: Path, kv: redis_lib.Redis) -> None:
    """Issue 12, item 9: `--user` no longer says who you are."""
    kept = seed(kv, 1)
    # U0ROOTLESS is nobody's id in console.users: refused, naming the key, before anything runs.
    proc = _console(home, "--user", "U0ROOTLESS", "-c", f"/redis delete {kept}:*")
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())
    assert f"the OS account '{ME}' may act as U0GUEST, U0LEAD, U0OPS (console.users.{ME}" in message
    assert kv.exists(f"{kept}:0")
    # $USER and $LOGNAME are not the OS account.
    spoofed = {**env_for(home, None), "USER": OTHER, "LOGNAME": OTHER}
    proc = _console(home, "-c", "/chatops whoami", env=spoofed)
    assert "Roles: everyone, operator" in proc.stdout  # U0OPS, this account's own id, not U0LEAD


def test_an_os_account_missing_from_the_map_has_no_roles_and_cannot_pick_one(home: Path) -> None:
    config = home / "chatops.yaml"
    config.write_text(config.read_text().replace(f"    {ME}:", "    someone-else:"))
    proc = _console(home, "--user", "U0OPS", "-c", "/chatops whoami")
    assert proc.returncode == 2
    assert f"add `console.users.{ME}: U0OPS`" in " ".join(proc.stderr.split())
    proc = _console(home, "-c", "/chatops whoami")
    assert proc.returncode == 0, proc.stderr
    assert f"local:{ME}" in proc.stdout
    assert "Roles: everyone." in proc.stdout
