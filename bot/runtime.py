"""The wired-up pieces one App (or the console) works with. Built only by `bot.app`."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import urllib3
from slack_sdk import WebClient

from bot.acks import AcksInFlight
from bot.config import ChatopsConfig, Settings
from bot.executor import Executor
from bot.guard import Access, ActionStore, Guard
from bot.scheduler import Scheduler
from bot.services import Clients, Services
from bot.store import Store
from handlers import Registry
from handlers.command_table import CommandTable, Entry

T = TypeVar("T")

ANSWER_WORKERS = 32  # answers mostly wait on Slack or a target, not on the CPU


@dataclass
class Runtime:
    settings: Settings
    services: Services
    access: Access  # policy: who may run what
    actions: ActionStore  # the pending-action store (and the audit spool)
    guard: Guard  # the confirm flow
    executor: Executor
    pool: ThreadPoolExecutor  # read-only handlers and runbook diagnostics
    action_pool: ThreadPoolExecutor  # confirmed destructive actions only
    # Every (command, subcommand): handlers and built-ins (bot.commands.builtin.command_table).
    command_table: CommandTable[Entry]
    # Pooled keep-alive connections for answers to response_url (built by bot.app).
    response_pool: urllib3.PoolManager
    slack: WebClient | None = None  # None in the console
    scheduler: Scheduler | None = None  # started by `chatops serve`, ticked by tests
    # Built once per runtime: help depends only on the registries and config.
    help_texts: dict[str, str] = field(default_factory=dict)
    # Answers to slash commands that are not given in the ack (bot.slack.listeners.commands):
    # Bolt's listener threads stay free for the next ack; bot.web.drain waits for it.
    answer_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=ANSWER_WORKERS, thread_name_prefix="answer")
    )
    # Slack requests and alert webhooks not yet answered (counted by bot.web and bot.alerts.web):
    # the work that follows them lets them go first.
    acks: AcksInFlight = field(default_factory=AcksInFlight)
    # The features' own parts (incident deps, the runbook catalog, the scheduler participants),
    # built by bot.app.build_runtime and found by their type: this layer sits below them.
    _parts: dict[type, object] = field(default_factory=dict)

    def provide(self, part: object) -> None:
        """Add one part, found later by its type (one part per type)."""
        self._parts[type(part)] = part

    def part(self, kind: type[T]) -> T:
        """The part of this type that `bot.app.build_runtime` provided."""
        found = self._parts.get(kind)
        if not isinstance(found, kind):
            raise LookupError(f"this runtime has no {kind.__name__}: bot.app.build_runtime provides it")
        return found

    def find(self, kind: type[T]) -> T | None:
        """The part of this type, or None where this runtime has none (the console, a test)."""
        found = self._parts.get(kind)
        return found if isinstance(found, kind) else None

    @property
    def config(self) -> ChatopsConfig:
        return self.services.config

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def registry(self) -> Registry:
        return self.services.registry

    @property
    def clients(self) -> Clients:
        return self.services.clients

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.services.clock

    def commands(self) -> list[str]:
        """Every command key (k8s, db, incident...) the bot answers."""
        return self.command_table.commands()

    def command_key(self, slash: str) -> str | None:
        """`/kube` → `k8s` when renamed in config; `/k8s` → `k8s`."""
        for key in self.commands():
            if self.config.command_name(key) == slash:
                return key
        return None
