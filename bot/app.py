"""Composition root: the only place that builds the App and wires listeners to their parts."""

from __future__ import annotations

import importlib
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from slack_bolt import App
from slack_sdk import WebClient

from bot import metrics
from bot.alerts import wiring as alert_wiring
from bot.commands.builtin import command_table
from bot.config import Settings
from bot.executor import Executor
from bot.guard import Access, ActionStore, Guard
from bot.incidents import reminders as incident_reminders
from bot.incidents.deps import IncidentDeps
from bot.oncall import wiring as oncall_wiring
from bot.runbooks import schedule as runbook_schedules
from bot.runbooks.commands import catalog_of
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.services import Services
from bot.slack import listeners
from bot.slack import retry as slack_retry
from bot.slack.response_url import make_pool
from bot.store.auditlog import AuditLog
from bot.store.spool import Spool, default_path

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
        # The same retries, counted, plus a last handler that counts the calls that failed;
        # 429 waits capped per call, so a long Retry-After never holds a listener.
        retry_handlers=slack_retry.retry_handlers(max_retry_count=2),
    )


class ChatopsApp(App):
    """A Bolt App that keeps its runtime, for the web server, scheduler and shutdown."""

    runtime: Runtime


def build_runtime(settings: Settings, services: Services, slack: WebClient | None = None) -> Runtime:
    """Everything but the App: used by `build_app` and by the console."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    limits = services.config.limits
    pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="handler")
    # Confirmed fixes never queue behind read-only traffic.
    action_pool = ThreadPoolExecutor(max_workers=limits.action_workers, thread_name_prefix="action")

    def resolve_group(group_id: str) -> set[str]:
        if slack is None:
            return set()
        resp = slack.usergroups_users_list(usergroup=group_id)
        return set(resp.get("users", []))

    spool = Spool(Path(settings.audit_spool) if settings.audit_spool else default_path(settings.database_url))
    audit = AuditLog(services.store.engine, spool)
    access = Access(services.config, resolve_group)
    actions = ActionStore(services.store, services.config, audit, clock=services.clock)
    executor = Executor(
        config=services.config,
        registry=services.registry,
        clients=services.clients,
        access=access,
        audit=audit,
        hold=actions.hold,
        pool=pool,
        action_pool=action_pool,
        on_result=metrics.observe_handler,
    )
    guard = Guard(access, actions, services.registry, executor.run_confirmed)
    scheduler = Scheduler(services.clock)
    scheduler.add("audit-spool", actions.drain_spool)  # before anything that may read its rows
    runtime = Runtime(
        settings=settings,
        services=services,
        access=access,
        actions=actions,
        guard=guard,
        executor=executor,
        pool=pool,
        action_pool=action_pool,
        command_table=command_table(services.registry),
        response_pool=make_pool(),
        slack=slack,
        scheduler=scheduler,
    )
    # The features' parts, found by their type (runtime.part / runtime.find).
    runtime.provide(IncidentDeps(services.store.engine, services.config, slack, services.clock))
    runtime.provide(catalog_of(runtime))
    actions.drain_spool()  # outcomes kept while the store was down, written now it answers
    incident_reminders.register(runtime)  # status reminders + escalation ladder on the tick
    # Scheduled runbooks and posts, each slot claimed once.
    runtime.provide(runbook_schedules.register(runtime))
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
        # bot.web checks the signature, its age and replays before Bolt sees a request (Socket
        # Mode needs no signature); Bolt's own check would be a second HMAC on every ack.
        request_verification_enabled=False,
        process_before_response=False,
        # Listeners run here after their ack; handlers get their own pool in the runtime.
        listener_executor=ThreadPoolExecutor(max_workers=32, thread_name_prefix="listener"),
        raise_error_for_unhandled_request=False,
    )
    runtime = build_runtime(settings, services, slack=client)
    app.runtime = runtime
    listeners.register(app, runtime)
    return app
