"""Scheduled runbooks and posts: `schedule:` on a runbook, `schedules:` in chatops.yaml.

On every scheduler tick each schedule's newest fire time within the last few minutes is
computed with APScheduler's CronTrigger (crontab weekdays, the schedule's time zone). The
slot is claimed by inserting (name, slot) into `scheduled_runs`; the primary key lets only
one insert win, so with several replicas on one store each slot runs exactly once. The
winner runs the job on its own thread so a long runbook never delays the tick's other work
(incident reminders). A chatops.yaml schedule naming a runbook replaces that runbook's own
`schedule:` (the site's word wins; the runbook does not run twice).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from bot.cron import latest_due
from bot.metrics import SLACK_API_ERRORS
from bot.render.slack import section
from bot.runbooks.catalog import catalog_of
from bot.runbooks.commands import run_runbook
from bot.runbooks.params import ParamError, bind
from bot.store.tables import scheduled_runs

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=10)  # a slot missed by less than this (restart, slow tick) still runs


@dataclass(frozen=True)
class Job:
    name: str  # the claim key in scheduled_runs
    cron: str
    timezone: str
    channel: str
    runbook: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    def describe(self) -> str:
        return f"`{self.cron}` {self.timezone}"


def _channel(name: str) -> str:
    """chat.postMessage takes an id (C…) or a name; a bare name gets its `#`."""
    if name.startswith("#") or (name[:1] in "CGD" and name[1:].isalnum() and name.upper() == name):
        return name
    return "#" + name


def jobs(runtime: Runtime) -> list[Job]:
    """Every schedule: chatops.yaml's, then the runbooks' own ones that config does not replace."""
    config = runtime.config
    out: list[Job] = []
    replaced: set[str] = set()
    for s in config.schedules:
        out.append(
            Job(
                name=f"schedule:{s.name}",
                cron=s.cron,
                timezone=s.timezone,
                channel=s.channel or config.slack.ops_channel,
                runbook=s.runbook,
                params=dict(s.params),
                message=s.message,
            )
        )
        if s.runbook:
            replaced.add(s.runbook)
    for rb in catalog_of(runtime).current().runbooks.values():
        if rb.schedule is None or rb.name in replaced:
            continue
        out.append(
            Job(
                name=f"runbook:{rb.name}",
                cron=rb.schedule.cron,
                timezone=rb.schedule.timezone,
                channel=rb.schedule.channel or config.slack.ops_channel,
                runbook=rb.name,
                params=dict(rb.schedule.params),
            )
        )
    return out


class Schedules:
    """The scheduler participant: claim due slots, run what this replica won."""

    def __init__(self, runtime: Runtime, *, grace: timedelta = GRACE) -> None:
        self.runtime = runtime
        self.grace = grace
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:64]
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._bad: set[str] = set()  # schedules already reported as invalid
        self._checked = False

    def _check_runbooks(self, all_jobs: list[Job]) -> None:
        """Once, on the first tick: say which schedules name a runbook that does not load."""
        known = catalog_of(self.runtime).current().runbooks
        for job in all_jobs:
            if job.runbook is not None and job.runbook not in known:
                # When it fires, the channel is told too.
                log.error("%s: no runbook %r in %s", job.name, job.runbook, self.runtime.config.runbooks_dir)

    def __call__(self, now: datetime) -> None:
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        all_jobs = jobs(self.runtime)
        if not self._checked:
            self._checked = True
            self._check_runbooks(all_jobs)
        for job in all_jobs:
            try:
                slot = latest_due(job.cron, job.timezone, now, self.grace)
            except ValueError as exc:
                if job.name not in self._bad:
                    self._bad.add(job.name)
                    log.error("schedule %s is invalid and never runs: %s", job.name, exc)
                continue
            if slot is None or not self.claim(job.name, slot, now):
                continue
            thread = threading.Thread(
                target=self._run, args=(job, slot), name=f"scheduled-{job.name}"[:40], daemon=True
            )
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def claim(self, name: str, slot: datetime, now: datetime) -> bool:
        """True for the one replica whose insert of (name, slot) succeeded."""
        store = self.runtime.store
        dialect = postgresql if store.dialect == "postgresql" else sqlite
        stmt = (
            dialect.insert(scheduled_runs)
            .values(name=name[:100], slot=slot.astimezone(UTC), claimed_by=self.replica, claimed_at=now)
            .on_conflict_do_nothing(index_elements=["name", "slot"])
            # A row comes back only from the insert that won (rowcount is not reliable here).
            .returning(scheduled_runs.c.name)
        )
        with store.engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def _finish(self, name: str, slot: datetime, outcome: str) -> None:
        with self.runtime.store.engine.begin() as conn:
            conn.execute(
                update(scheduled_runs)
                .where(scheduled_runs.c.name == name[:100], scheduled_runs.c.slot == slot.astimezone(UTC))
                .values(outcome=outcome)
            )

    def _run(self, job: Job, slot: datetime) -> None:
        outcome = "error"
        try:
            outcome = self._post(job) if job.message is not None else self._runbook(job)
        except Exception:
            log.exception("scheduled %s (slot %s) failed", job.name, slot.isoformat())
        finally:
            try:
                self._finish(job.name, slot, outcome)
            except Exception:
                log.exception("could not record the outcome of scheduled %s", job.name)

    def _say(self, channel: str, text: str) -> bool:
        slack: Any = self.runtime.slack
        if slack is None:
            log.warning("scheduled post to %s skipped: no Slack client (%s)", channel, text[:80])
            return False
        try:
            slack.chat_postMessage(channel=_channel(channel), text=text, blocks=[section(text).to_dict()])
        except SlackApiError as exc:
            err = str(exc.response.get("error", "unknown")) if exc.response is not None else "unknown"
            SLACK_API_ERRORS.labels("chat.postMessage", err).inc()
            log.error("scheduled post to %s failed: %s", channel, err)
            return False
        return True

    def _post(self, job: Job) -> str:
        assert job.message is not None
        return "ok" if self._say(job.channel, job.message) else "error"

    def _runbook(self, job: Job) -> str:
        assert job.runbook is not None
        rb = catalog_of(self.runtime).get(job.runbook)
        if rb is None:
            self._say(
                job.channel,
                f":warning: Scheduled runbook `{job.runbook}` is not available (see /runbook validate).",
            )
            return "error"
        try:
            values = bind(rb, job.params, self.runtime.config)
        except ParamError as exc:
            self._say(job.channel, f":warning: Scheduled runbook `{rb.name}` not run: {exc}")
            return "error"
        if self.runtime.slack is None:
            log.warning("scheduled runbook %s skipped: no Slack client", rb.name)
            return "error"
        run_runbook(
            self.runtime,
            rb,
            values,
            user_id="",
            channel=_channel(job.channel),
            note=f"scheduled {job.describe()}",
        )
        return "ok"

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for the jobs this replica started (tests, shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout)


def register(runtime: Runtime) -> Schedules:
    """Add the participant to the runtime's scheduler (called by `bot.app.build_runtime`)."""
    schedules = Schedules(runtime)
    runtime.extras["schedules"] = schedules
    if runtime.scheduler is not None:
        runtime.scheduler.add("runbook-schedules", schedules)
    return schedules
