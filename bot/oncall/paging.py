"""Paging through PagerDuty's Events API v2: trigger, acknowledge, resolve; one alert per incident.

The client is PagerDuty's official one (`pagerduty.EventsApiV2Client`): it takes the base URL
(`paging.pagerduty.events_url` without `/v2/enqueue`; HTTPS only, so a test fake serves TLS and
`ca_file` names its CA) and retries 429 and 5xx itself with a doubling wait. We cap its
retries (unbounded on 429 by default) and its timeout from the config.

Nothing here blocks Slack: the incident code tells `Pager.hook` what happened and returns;
the work runs on one paging thread, in order (so an acknowledge never overtakes its trigger).
Every decision is a compare-and-set on `paging_alerts` (one row per incident, its `dedup_key`
stable), so the same incident never opens a second alert, whichever replica pages.
"""

from __future__ import annotations

import logging
import ssl
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pagerduty
from prometheus_client import Counter
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.incidents import records
from bot.incidents.deps import IncidentDeps
from bot.incidents.records import Incident
from bot.incidents.slack_setup import post
from bot.incidents.slackapi import SlackStepError, mention
from bot.oncall.config import PagerDutyConfig
from bot.oncall.tables import paging_alerts
from bot.store.audit import Event, Outcome, record
from bot.store.timeline import add_event
from handlers.redact import redact

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

SUMMARY_MAX = 1024  # Events API v2 payload.summary
SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
RETRIED = (500, 502, 503, 504)
PAGES = Counter(
    "chatops_pagerduty_events_total", "Events API v2 calls, by action and outcome", ["action", "outcome"]
)
STALE = timedelta(minutes=5)  # a page "triggering" this long: its replica died mid-call; page again


def severity_of(sev: str) -> str:
    return SEVERITY.get(sev, "info")


def dedup_key(cfg: PagerDutyConfig, incident_id: int) -> str:
    """Stable per incident (and per bot: the source names it)."""
    return f"{cfg.source}-incident-{incident_id}"[:64]


def make_client(cfg: PagerDutyConfig) -> pagerduty.EventsApiV2Client:
    kwargs: dict[str, Any] = {}
    if cfg.ca_file:
        kwargs["verify"] = ssl.create_default_context(cafile=cfg.ca_file)
    client = pagerduty.EventsApiV2Client(cfg.routing_key, base_url=cfg.base_url, **kwargs)
    # The client retries 429 without limit by default: bound it, and 5xx, by paging.pagerduty.retries.
    client.retry[429] = cfg.retries
    for status in RETRIED:
        client.retry[status] = cfg.retries
    client.max_http_attempts = max(cfg.retries, 1)
    client.max_network_attempts = cfg.retries
    # Its first wait is sleep_timer * 2, doubling after that.
    client.sleep_timer = cfg.backoff / 2
    client.timeout = cfg.timeout.total_seconds()  # type: ignore[assignment]  # typed int, used as float
    return client


def describe_error(exc: Exception) -> str:
    """What PagerDuty said, for a person: status, message and the errors it listed."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    detail = ""
    if response is not None:
        try:
            body = response.json()
            if isinstance(body, dict):
                errors = body.get("errors") or []
                detail = str(body.get("message") or "") + (
                    f": {'; '.join(map(str, errors))}" if errors else ""
                )
        except ValueError:
            detail = str(getattr(response, "text", ""))[:200]
    head = f"HTTP {status}" if status else type(exc).__name__
    text = f"{head}: {detail}" if detail else f"{head}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return redact(text)[:500]


class Pager:
    """Turns incident changes into Events API v2 calls, on one worker thread."""

    def __init__(self, desk: IncidentDeps, cfg: PagerDutyConfig, *, client: Any = None) -> None:
        self.desk = desk
        self.cfg = cfg
        self.client = client or make_client(cfg)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paging")
        self.pending: list[Future[None]] = []
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        return self.desk.engine

    # -- the hook (runs in the Slack flow: only queues) ---------------------------------------

    def hook(self, event: str, inc: Incident, user: str, data: dict[str, Any]) -> None:
        sev = self.desk.config.severities.get(inc.severity)
        if event == "declared" and sev is not None and sev.page:
            self.submit(self.trigger, inc.id, user, f"{inc.severity} pages on declaration")
        elif event == "severity" and sev is not None and sev.page:
            self.submit(self.trigger, inc.id, user, f"raised to {inc.severity}, which pages")
        elif event == "escalated":
            self.submit(self.trigger, inc.id, user, f"escalation step {data.get('step')} pages")
        elif event == "acknowledged":
            self.submit(self.acknowledge, inc.id, user)
        elif event == "resolved":
            self.submit(self.resolve, inc.id, user)

    def submit(self, fn: Any, *args: Any) -> None:
        future: Future[None] = self.pool.submit(self._guarded, fn, *args)
        with self._lock:
            self.pending = [f for f in self.pending if not f.done()] + [future]

    def _guarded(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("paging: %s failed", getattr(fn, "__name__", fn))

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for the queued paging work, and the work it queued in turn (tests, shutdown)."""
        while True:
            with self._lock:
                waiting = [f for f in self.pending if not f.done()]
            if not waiting:
                return
            for f in waiting:
                f.result(timeout=timeout)

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    # -- state -----------------------------------------------------------------------------------

    def state(self, incident_id: int) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(paging_alerts.c.state).where(paging_alerts.c.incident_id == incident_id)
            ).first()
        return str(row[0]) if row else None

    def _move(self, incident_id: int, frm: tuple[str, ...], to: str, detail: str = "") -> bool:
        """Compare-and-set the alert's state; True for the caller that moved it."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(paging_alerts)
                .where(paging_alerts.c.incident_id == incident_id, paging_alerts.c.state.in_(frm))
                .values(state=to, updated_at=self.desk.clock(), detail=detail)
            ).rowcount
        return bool(done)

    def _claim_trigger(self, incident_id: int) -> bool:
        """The first page of an incident inserts its row; a failed one may be tried again."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(paging_alerts).values(
                        incident_id=incident_id,
                        dedup_key=dedup_key(self.cfg, incident_id),
                        state="triggering",
                        updated_at=self.desk.clock(),
                    )
                )
            return True
        except IntegrityError:
            pass
        stale = self.desk.clock() - STALE
        with self.engine.begin() as conn:
            done = conn.execute(
                update(paging_alerts)
                .where(
                    paging_alerts.c.incident_id == incident_id,
                    (paging_alerts.c.state == "failed")
                    | ((paging_alerts.c.state == "triggering") & (paging_alerts.c.updated_at < stale)),
                )
                .values(state="triggering", updated_at=self.desk.clock())
            ).rowcount
        return bool(done)

    def recover(self, now: datetime) -> None:
        """Scheduler participant: pages left "triggering" by a replica that died are sent again."""
        with self.engine.connect() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    select(paging_alerts.c.incident_id).where(
                        paging_alerts.c.state == "triggering", paging_alerts.c.updated_at < now - STALE
                    )
                ).all()
            ]
        for incident_id in ids:
            self.submit(self.trigger, incident_id, "chatops", "paged again: the first attempt was cut off")

    # -- the three actions -------------------------------------------------------------------------

    def trigger(self, incident_id: int, user: str, why: str) -> None:
        inc = records.require(self.engine, incident_id)
        if not inc.is_open:
            return
        if not self._claim_trigger(inc.id):
            log.info("incident #%s: already paged (%s); not paging again", inc.id, self.state(inc.id))
            return
        key = dedup_key(self.cfg, inc.id)
        try:
            self.client.trigger(
                summary=self.summary(inc),
                source=self.cfg.source,
                dedup_key=key,
                severity=severity_of(inc.severity),
                custom_details=self.details(inc),
                links=[{"href": self.channel_link(inc), "text": f"Slack: #{inc.channel_name}"}]
                if inc.channel_id
                else None,
            )
        except Exception as exc:  # pagerduty.Error and its HTTP errors; anything else too
            why_not = describe_error(exc)
            self._move(inc.id, ("triggering",), "failed", why_not)
            self._done(inc, user, "trigger", ok=False, detail=why_not)
            self._tell(
                inc,
                f":warning: {mention(inc.commander)} Could not page PagerDuty for incident #{inc.id} "
                f"({why_not}). *Nobody was paged*: call the on-call engineer yourself "
                f"(`{self.desk.command('oncall')}` says who).",
            )
            return
        self._move(inc.id, ("triggering",), "triggered")
        self._done(inc, user, "trigger", ok=True, detail=f"{why}; dedup key {key}")
        self._tell(inc, f":pager: Paged PagerDuty for incident #{inc.id} ({why}).")

    def acknowledge(self, incident_id: int, user: str) -> None:
        self._follow(incident_id, user, "acknowledge", ("triggered",), "acknowledged")

    def resolve(self, incident_id: int, user: str) -> None:
        self._follow(incident_id, user, "resolve", ("triggered", "acknowledged"), "resolved")

    def _follow(self, incident_id: int, user: str, action: str, frm: tuple[str, ...], to: str) -> None:
        """Acknowledge or resolve the incident's alert, if it has one in a state that allows it."""
        if not self._move(incident_id, frm, to):
            return  # never paged, paged and failed, or PagerDuty already said so (webhook)
        inc = records.require(self.engine, incident_id)
        key = dedup_key(self.cfg, incident_id)
        try:
            self.client.send_event(action, dedup_key=key)
        except Exception as exc:
            why_not = describe_error(exc)
            self._move(incident_id, (to,), frm[0], why_not)
            self._done(inc, user, action, ok=False, detail=why_not)
            self._tell(
                inc,
                f":warning: {mention(inc.commander)} PagerDuty did not take the {action} for incident "
                f"#{inc.id} ({why_not}); do it in PagerDuty.",
            )
            return
        self._done(inc, user, action, ok=True, detail=f"dedup key {key}")

    # -- the event -----------------------------------------------------------------------------------

    def summary(self, inc: Incident) -> str:
        svc = f" [{inc.service}]" if inc.service else ""
        text = f"{inc.severity} incident #{inc.id}{svc}: {inc.title}"
        return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"

    def channel_link(self, inc: Incident) -> str:
        return f"https://slack.com/app_redirect?channel={inc.channel_id}"

    def details(self, inc: Incident) -> dict[str, Any]:
        return {
            "incident": inc.id,
            "severity": inc.severity,
            "status": inc.status,
            "service": inc.service or "",
            "channel": self.channel_link(inc) if inc.channel_id else "(no Slack channel yet)",
            "channel_name": f"#{inc.channel_name}" if inc.channel_name else "",
            "commander": f"@{self.desk.names(inc.commander)} ({inc.commander})",
            "declared_at": inc.declared_at.isoformat(),
        }

    # -- telling people ------------------------------------------------------------------------------

    def _done(self, inc: Incident, user: str, action: str, *, ok: bool, detail: str) -> None:
        PAGES.labels(action, "ok" if ok else "error").inc()
        now = self.desk.clock()
        verb = {"trigger": "Paged", "acknowledge": "Acknowledged", "resolve": "Resolved"}[action]
        text = (
            f"PagerDuty: {verb} (dedup key {dedup_key(self.cfg, inc.id)})"
            if ok
            else f"PagerDuty {action} failed: {detail}"
        )
        add_event(
            self.engine,
            inc.id,
            kind="paging",
            author=user,
            text=text,
            at=now,
            data={"action": action, "ok": ok},
        )
        record(
            self.engine,
            request_id=uuid.uuid4().hex[:16],
            user_id=user[:32],
            command=f"paging {action} #{inc.id}",
            event=Event.EXECUTE,
            outcome=Outcome.OK if ok else Outcome.ERROR,
            channel_id=inc.channel_id or "",
            handler=f"paging.{action}",
            target="pagerduty",
            detail=detail,
        )

    def _tell(self, inc: Incident, text: str) -> None:
        try:
            post(self.desk, inc, text)
        except SlackStepError as exc:
            log.warning("incident #%s: could not post the paging note: %s", inc.id, exc)


def register(runtime: Runtime) -> Pager | None:
    """Listen to incident changes when `paging.pagerduty` is configured (called by bot.app)."""
    cfg = runtime.config.paging.pagerduty
    if cfg is None:
        return None
    desk = IncidentDeps.of(runtime)
    pager = Pager(desk, cfg)
    desk.hooks.append(pager.hook)
    runtime.provide(pager)
    return pager
