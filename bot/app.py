"""Composition root: the only place that builds the App and wires listeners to their parts."""

from __future__ import annotations

import importlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot import metrics
from bot.alerts import wiring as alert_wiring
from bot.commands.builtin import command_table
from bot.config import Settings
from bot.executor import Executor
from bot.guard import Access, Guard
from bot.incidents import reminders as incident_reminders
from bot.oncall import wiring as oncall_wiring
from bot.runbooks import schedule as runbook_schedules
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.services import Services
from bot.slack import listeners

log = logging.getLogger(__name__)

# Modules whose import registers built-in subcommands (@builtin) and scheduler participants.
BUILTIN_MODULES = (
    "bot.commands.chatops",
    "bot.incidents.commands",
    "bot.runbooks.commands",
    "bot.oncall.commands",
    "bot.alerts.commands",
)

SLACK_TIMEOUT = 10  # seconds, each Web API call


def make_web_client(settings: Settings) -> WebClient:
    """A WebClient that honours SLACK_API_URL and retries 429 (Retry-After), 5xx and resets."""
    return WebClient(
        token=settings.slack_bot_token or None,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT,
        # The same retries, counted, plus a last handler that counts the calls that failed.
        retry_handlers=metrics.slack_retry_handlers(max_retry_count=2),
    )


class ChatopsApp(App):
    """A Bolt App that keeps its runtime, for the web server, scheduler and shutdown."""

    runtime: Runtime


def build_runtime(settings: Settings, services: Services, slack: Any = None) -> Runtime:
    """Everything but the App: used by `build_app` and by the console."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    pool = ThreadPoolExecutor(max_workers=services.config.limits.workers, thread_name_prefix="handler")

    def resolve_group(group_id: str) -> set[str]:
        if slack is None:
            return set()
        resp = slack.usergroups_users_list(usergroup=group_id)
        return set(resp.get("users", []))

    access = Access(services.config, resolve_group)
    guard = Guard(access, store=services.store, config=services.config, clock=services.clock)
    executor = Executor(
        config=services.config,
        registry=services.registry,
        clients=services.clients,
        store=services.store,
        guard=guard,
        pool=pool,
        on_result=metrics.observe_handler,
    )
    guard.attach(executor)  # confirmed actions run through the executor, which holds the guard
    runtime = Runtime(
        settings=settings,
        services=services,
        access=access,
        guard=guard,
        executor=executor,
        pool=pool,
        command_table=command_table(services.registry),
        slack=slack,
        scheduler=Scheduler(services.clock),
    )
    incident_reminders.register(runtime)  # status reminders + escalation ladder on the tick
    runbook_schedules.register(runtime)  # scheduled runbooks and posts, each slot claimed once
    oncall_wiring.register(runtime)  # on-call hand-off posts; PagerDuty paging when configured
    alert_wiring.register(runtime)  # alert pipeline (webhooks → Slack, incidents, runbooks) and watches
    return runtime


def build_app(
    settings: Settings, services: Services, *, token_verification_enabled: bool = True
) -> ChatopsApp:
    client = make_web_client(settings)
    app = ChatopsApp(
        client=client,
        signing_secret=settings.slack_signing_secret,
        token_verification_enabled=token_verification_enabled,
        process_before_response=False,
        # Listeners run here after their ack; handlers get their own pool in the runtime.
        listener_executor=ThreadPoolExecutor(max_workers=32, thread_name_prefix="listener"),
        raise_error_for_unhandled_request=False,
    )
    runtime = build_runtime(settings, services, slack=client)
    app.runtime = runtime
    listeners.register(app, runtime)
    return app
