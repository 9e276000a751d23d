"""The wired-up pieces one App (or the console) works with. Built only by `bot.app`."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import urllib3

from bot.config import ChatopsConfig, Settings
from bot.executor import Executor
from bot.guard import Access
from bot.scheduler import Scheduler
from bot.services import Clients, Services
from bot.slack.response_url import make_pool
from bot.store import Store
from handlers import Registry
from handlers.command_table import CommandTable, Entry


@dataclass
class Runtime:
    settings: Settings
    services: Services
    access: Access
    guard: Any  # bot.guard.Guard
    executor: Executor
    pool: ThreadPoolExecutor
    # Every (command, subcommand): handlers and built-ins (bot.commands.builtin.command_table).
    command_table: CommandTable[Entry]
    slack: Any = None  # slack_sdk.WebClient when running against Slack
    scheduler: Scheduler | None = None  # started by `chatops serve`, ticked by tests
    # Pooled keep-alive connections for answers to response_url (bot/slack/response_url.py).
    response_pool: urllib3.PoolManager = field(default_factory=make_pool)
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
        return self.command_table.commands()

    def command_key(self, slash: str) -> str | None:
        """`/kube` → `k8s` when renamed in config; `/k8s` → `k8s`."""
        for key in self.commands():
            if self.config.command_name(key) == slash:
                return key
        return None
