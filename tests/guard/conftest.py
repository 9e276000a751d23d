"""Guard tests: real destructive handlers (they change keys in Redis), a movable clock, the bot.

The handlers below are registered only in a test registry; the whole bot runs with it, so a
click that runs one changes something real and observable: a counter in Redis db 12 under a
per-test key prefix.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib

from bot.app import build_app, build_runtime
from bot.config import ChatopsConfig, Settings, parse_config
from bot.executor import HandlerOutcome, NeedsConfirmation, Request
from bot.guard import PendingAction
from bot.runtime import Runtime
from bot.services import Clients, Services
from bot.store import Store, utcnow
from bot.web import HttpServer, WebApp
from handlers import Client, Context, HandlerSpec, Registry
from handlers.errors import HandlerError
from handlers.params import Params, arg
from handlers.results import KeyValues, Preview, Result, Text
from tests.conftest import REDIS_URL, RunningBot, make_settings
from tests.fakes.slack import FakeSlack

GUARD_REDIS_DB = 12
KEY_PREFIX = "chatops_guard"

# U0ALICE, U0BOB operators; U0BOB, U0LEAD approvers; S0SRE (a user group) operators too.
CONFIG_TEMPLATE = """
redis:
  stage: {{url: "{url}", default: true}}
  prod-cache: {{url: "{url}"}}
access:
  operators: [U0ALICE, U0BOB, S0SRE]
  approvers: [U0LEAD, U0BOB]
  confirm_expiry: 10m
  destructive_per_minute: {per_minute}
  rules:
    - {{handlers: ["gt.*"], instances: ["prod*"], need: approval}}
"""


def guard_redis_url() -> str:
    return REDIS_URL.rsplit("/", 1)[0] + f"/{GUARD_REDIS_DB}"


def guard_config(*, per_minute: int = 50, extra: str = "") -> ChatopsConfig:
    return parse_config(CONFIG_TEMPLATE.format(url=guard_redis_url(), per_minute=per_minute) + extra)


# -- test handlers (they change Redis for real) ----------------------------------------------


class IncrParams(Params):
    key: str = arg(positional=True, help="counter key")
    by: int = arg(1, positional=True, help="how much to add")
    instance: str | None = arg(None, flags=("--instance",), help="redis instance")


def _key(params: IncrParams) -> str:
    return f"{KEY_PREFIX}:{params.key}"


def preview_incr(ctx: Context[Any], p: IncrParams) -> Preview:
    current = int(ctx.client.get(_key(p)) or 0)
    return Preview(
        summary=f"counter {p.key}: {current} → {current + p.by}", details=[f"on redis {ctx.target}"]
    )


def incr(ctx: Context[Any], p: IncrParams) -> Result:
    """Add to a counter in Redis (a destructive test handler)."""
    value = int(ctx.client.incrby(_key(p), p.by))
    return KeyValues(title=f"counter {p.key}", items=[("value", str(value))], values={"value": value})


def jam(ctx: Context[Any], p: IncrParams) -> Result:
    """Always fails the way a handler reports a refusal from its target (a destructive test handler)."""
    ctx.client.incrby(_key(p) + ":attempts", 1)
    raise HandlerError(f"redis {ctx.target}: counter {p.key} is locked by another job")


def peek(ctx: Context[Any], p: IncrParams) -> Result:
    """Read a counter (a read-only test handler)."""
    return Text(title=f"counter {p.key}", text=str(int(ctx.client.get(_key(p)) or 0)))


# Slow test handlers wait on a gate (by key) that the test opens; `STARTED` counts who got a worker.
GATES: dict[str, threading.Event] = {}
STARTED: dict[str, int] = {}
_GATE_LOCK = threading.Lock()


def gate(name: str) -> threading.Event:
    with _GATE_LOCK:
        return GATES.setdefault(f"{KEY_PREFIX}:{name}", threading.Event())


def started(name: str) -> int:
    with _GATE_LOCK:
        return STARTED.get(f"{KEY_PREFIX}:{name}", 0)


def _wait_at_gate(p: IncrParams) -> None:
    with _GATE_LOCK:
        STARTED[_key(p)] = STARTED.get(_key(p), 0) + 1
    gate(p.key).wait(30)


def slow(ctx: Context[Any], p: IncrParams) -> Result:
    """Read a counter once its gate opens (a slow read-only test handler)."""
    _wait_at_gate(p)
    return peek(ctx, p)


def slow_incr(ctx: Context[Any], p: IncrParams) -> Result:
    """Add to a counter once its gate opens (a slow destructive test handler)."""
    _wait_at_gate(p)
    return incr(ctx, p)


# Hooks a test sets by counter key: run right after `gt.incrcut` changed the counter (to
# take the state store down between an action and its audit row, say).
AFTER: dict[str, Callable[[], None]] = {}


def incr_then(ctx: Context[Any], p: IncrParams) -> Result:
    """Add to a counter, then run the test's hook for it (a destructive test handler)."""
    result = incr(ctx, p)
    hook = AFTER.pop(_key(p), None)
    if hook is not None:
        hook()
    return result


class ManyParams(Params):
    keys: list[str] = arg([], flags=("--key",), help="counter keys")
    instance: str | None = arg(None, flags=("--instance",), help="redis instance")


def peek_many(ctx: Context[Any], p: ManyParams) -> Result:
    """Read several counters (a read-only test handler that fans out)."""
    values = [int(ctx.client.get(f"{KEY_PREFIX}:{k}") or 0) for k in p.keys]
    return Text(title="counters", text=" ".join(map(str, values)))


def _spec(name: str, fn: Any, *, destructive: bool) -> HandlerSpec:
    command, _, sub = name.partition(".")
    return HandlerSpec(
        name=name,
        fn=fn,
        params=IncrParams,
        client=Client.REDIS,
        destructive=destructive,
        preview=preview_incr if destructive else None,
        command=command,
        sub=sub,
    )


def guard_registry() -> Registry:
    return Registry().with_handlers(
        _spec("gt.incr", incr, destructive=True),
        _spec("gt.jam", jam, destructive=True),
        _spec("gt.peek", peek, destructive=False),
        _spec("gt.slow", slow, destructive=False),
        _spec("gt.slowincr", slow_incr, destructive=True),
        _spec("gt.incrcut", incr_then, destructive=True),
        HandlerSpec(
            name="gt.many",
            fn=peek_many,
            params=ManyParams,
            client=Client.REDIS,
            destructive=False,
            preview=None,
            command="gt",
            sub="many",
        ),
    )


# -- the clock and the counters ---------------------------------------------------------------


class Clock:
    """A clock tests move instead of sleeping."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Counters:
    """The Redis side of the test handlers: what a user would see changed."""

    client: redis_lib.Redis
    run: str  # a per-test key part, so parallel runs never share counters

    def key(self, name: str) -> str:
        return f"{self.run}-{name}"

    def value(self, name: str) -> int:
        return int(self.client.get(f"{KEY_PREFIX}:{self.key(name)}") or 0)

    def attempts(self, name: str) -> int:
        return int(self.client.get(f"{KEY_PREFIX}:{self.key(name)}:attempts") or 0)


@pytest.fixture
def counters(redis_url: str) -> Iterator[Counters]:
    del redis_url  # checked reachable by the shared fixture
    client = redis_lib.Redis.from_url(guard_redis_url(), socket_timeout=5)
    c = Counters(client, uuid.uuid4().hex[:10])
    yield c
    keys = list(client.scan_iter(f"{KEY_PREFIX}:{c.run}-*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


# -- a runtime without Slack (the console's view) and a running bot ---------------------------


def make_runtime(
    store_url: str, clock: Clock, config: ChatopsConfig | None = None, *, registry: Registry | None = None
) -> Runtime:
    cfg = config or guard_config()
    store = Store(store_url)
    reg = registry if registry is not None else guard_registry()
    services = Services(config=cfg, store=store, clients=Clients(cfg), registry=reg, clock=clock)
    return build_runtime(Settings.model_validate({"DATABASE_URL": store_url}), services)


def stored(runtime: Runtime, action_id: str) -> PendingAction:
    """The pending action as stored now (it must exist)."""
    action = runtime.guard.get(action_id)
    assert action is not None, action_id
    return action


def close_runtime(runtime: Runtime) -> None:
    runtime.pool.shutdown(wait=True)
    runtime.services.close()


def ask(runtime: Runtime, user: str, text: str, *, channel: str = "C00000001") -> HandlerOutcome:
    """What `/gt <text>` does up to the preview: parse, check access, store the pending action."""
    words = text.split()
    found = runtime.command_table.match("gt", words)
    assert found is not None, text
    spec, rest = found
    assert isinstance(spec, HandlerSpec), spec
    return runtime.executor.handle(Request(user, "/gt", text, channel), spec, rest)


def ask_ok(runtime: Runtime, user: str, text: str, **kw: Any) -> NeedsConfirmation:
    outcome = ask(runtime, user, text, **kw)
    assert isinstance(outcome, NeedsConfirmation), outcome
    return outcome


def start_guard_bot(
    slack: FakeSlack,
    tmp_path: Path,
    clock: Clock,
    *,
    database_url: str | None = None,
    config: ChatopsConfig | None = None,
) -> RunningBot:
    """The real bot (HTTP endpoint, Bolt, listeners) with the test registry and clock."""
    env = {"DATABASE_URL": database_url} if database_url else {}
    settings = make_settings(slack, tmp_path, **env)
    store = Store(settings.database_url)
    store.upgrade()
    cfg = config or guard_config()
    services = Services(config=cfg, store=store, clients=Clients(cfg), registry=guard_registry(), clock=clock)
    app = build_app(settings, services)
    server = HttpServer(WebApp(app), host="127.0.0.1", port=0)
    server.start()
    return RunningBot(app, server, slack)


def stop_guard_bot(bot: RunningBot) -> None:
    bot.server.stop()
    bot.app.runtime.pool.shutdown(wait=True)
    bot.app.runtime.services.close()


# -- reading what the fake Slack API received --------------------------------------------------


def blocks_of(args: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = args.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def block_text(blocks: list[dict[str, Any]]) -> str:
    """Every piece of text a reader sees in these blocks."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"].get("text", ""))
        for el in b.get("elements", []) or []:
            if isinstance(el, dict):
                txt = el.get("text")
                out.append(txt.get("text", "") if isinstance(txt, dict) else str(txt or ""))
    return "\n".join(out)


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """action_id → button, for every button in the blocks."""
    found: dict[str, dict[str, Any]] = {}
    for b in blocks:
        if b.get("type") == "actions":
            for el in b.get("elements", []):
                found[el["action_id"]] = el
    return found
