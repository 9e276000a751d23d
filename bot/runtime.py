"""The wired-up pieces one App (or the console) works with. Built only by `bot.app`."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import urllib3
from slack_sdk import WebClient

from bot.commands.builtin import Builtin
from bot.config import ChatopsConfig, Settings
from bot.executor import Executor
from bot.guard import Access, ActionStore, Guard
from bot.scheduler import Scheduler
from bot.services import Clients, Services
from bot.store import Store
from handlers import Registry


@dataclass
class Runtime:
    settings: Settings
    services: Services
    access: Access  # policy: who may run what
    actions: ActionStore  # the pending-action store (and the audit spool)
    guard: Guard  # the confirm flow
    executor: Executor
    pool: ThreadPoolExecutor  # read-only handlers and runbook diagnostics
    action_pool: ThreadPoolExecutor  # previews and confirmed destructive actions only
    builtins: dict[tuple[str, str], Builtin]
    # Pooled keep-alive connections for answers to response_url (built by bot.app).
    response_pool: urllib3.PoolManager
    slack: WebClient | None = None  # None in the console
    scheduler: Scheduler | None = None  # started by `chatops serve`, ticked by tests
    extras: dict[str, Any] = field(default_factory=dict)  # scheduler, metrics, ...

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
        return sorted(set(self.registry.commands()) | {c for c, _ in self.builtins})

    def command_key(self, slash: str) -> str | None:
        """`/kube` → `k8s` when renamed in config; `/k8s` → `k8s`."""
        for key in self.commands():
            if self.config.command_name(key) == slash:
                return key
        return None
