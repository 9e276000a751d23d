"""What happens to a stored alert group, after the webhook was answered.

Every step is derived from the group's rows and claimed with a compare-and-set, so any
replica may run it, as often as it likes, and each effect happens once:

- the group's one Slack message: a lease (`post_lease`) while posting; `seq > posted_seq`
  means there is something new to show. The holder re-reads after releasing, so a change that
  arrived while it posted is never left unshown;
- the incident (route `declare:`): a lease (`incident_lease`) until `incident_id` is set;
- the runbook: `runbook_for` = the firing episode it ran for (at most once per episode);
- the all-resolved notice: `resolved_told_for` = the episode's end;
- alerts told to the incident channel: `told` on each occurrence.

A replica that dies half-way leaves a lease that goes stale; the sweep on any replica (every
`alerts.sweep_every`, and on each scheduler tick) finishes the work.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock
from sqlalchemy import or_, select

from bot.alerts import diagnostics, render, routing
from bot.alerts import store as astore
from bot.alerts.config import RouteConfig
from bot.alerts.payload import Batch
from bot.alerts.store import Group, Occurrence
from bot.alerts.tables import alert_groups
from bot.incidents import lifecycle, records
from bot.incidents.deps import IncidentDeps
from bot.incidents.records import Incident, IncidentError
from bot.incidents.slack_setup import post
from bot.incidents.slackapi import SlackStepError, call
from bot.slack.ids import ActionId
from bot.store.timeline import add_event

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

BOT = "chatops"  # the author of what the bot does on its own (timeline, declared_by)
SEVERITY_FOR_LABEL = {"critical": "P1", "page": "P1", "error": "P2", "warning": "P3"}
MAX_ROUNDS = 5  # message re-renders in one go before leaving the rest to the next pass


def channel_ref(name: str) -> str:
    """chat.postMessage takes an id (C…) or a name; a bare name gets its `#`."""
    if name.startswith("#") or (name[:1] in "CGD" and name[1:].isalnum() and name.upper() == name):
        return name
    return "#" + name


STORM_SETTLE = 0.1  # seconds without a webhook (or Slack request) before group work starts


class Pipeline:
    def __init__(self, runtime: Runtime, *, workers: int = 4) -> None:
        self.runtime = runtime
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="alerts")
        self._queued: set[int] = set()
        self._active = 0  # groups being processed right now
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def engine(self) -> Any:
        return self.runtime.store.engine

    @property
    def desk(self) -> IncidentDeps:
        return IncidentDeps.of(self.runtime)

    @property
    def lease(self) -> Any:
        cfg = self.runtime.config.alerts
        return cfg.lease if cfg else None

    def channel(self) -> str:
        cfg = self.runtime.config.alerts
        return channel_ref(
            (cfg.channel if cfg and cfg.channel else None) or self.runtime.config.slack.ops_channel
        )

    def submit(self, group_ids: Iterable[int]) -> None:
        """Work on these groups soon (a group already queued here is not queued twice)."""
        for gid in group_ids:
            with self._lock:
                if gid in self._queued or self._stop.is_set():
                    continue
                self._queued.add(gid)
            try:
                self.pool.submit(self._run, gid)
            except RuntimeError:  # shutting down: the sweep of another replica (or the next start) does it
                return

    def _run(self, gid: int) -> None:
        # Webhooks still being answered go first, and in a storm the group waits for a lull (at
        # most bot.acks.MAX_DEFER): each post is answered sooner, and the group's later alerts
        # land in the same Slack update instead of one update each.
        self.runtime.acks.wait_quiet(settle=STORM_SETTLE)
        with self._lock:
            self._queued.discard(gid)
            self._active += 1
        try:
            self.process(gid)
        except Exception:
            log.exception("alert group %s: processing failed (the next sweep retries)", gid)
        finally:
            with self._lock:
                self._active -= 1

    def start(self) -> None:
        """The sweep thread: picks up work a dead replica (or a Slack outage) left behind."""
        if self._sweeper is not None or self.runtime.config.alerts is None:
            return
        self._sweeper = threading.Thread(target=self._sweep_loop, name="alerts-sweep", daemon=True)
        self._sweeper.start()

    def stop(self) -> None:
        self._stop.set()
        self.pool.shutdown(wait=True, cancel_futures=False)

    def _sweep_loop(self) -> None:
        cfg = self.runtime.config.alerts
        every = cfg.sweep_every.total_seconds() if cfg else 10.0
        while not self._stop.wait(every):
            try:
                self.sweep(self.runtime.clock())
            except Exception:
                log.exception("alerts sweep failed")

    def sweep(self, now: datetime) -> None:
        """Queue groups with unshown changes (claim free or stale) and firing ones without their incident."""
        if self.runtime.config.alerts is None:
            return
        ids = astore.due_groups(self.engine, now - self.lease)
        if any(r.declare for r in self.runtime.config.alerts.routes):
            g = alert_groups.c
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(g.id)
                    .where(
                        g.firing_since.is_not(None),
                        g.incident_id.is_(None),
                        or_(g.incident_lease.is_(None), g.incident_lease < now - self.lease),
                    )
                    .limit(100)
                ).all()
            ids += [int(r[0]) for r in rows]
        self.submit(dict.fromkeys(ids))

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Tests and the benchmark: wait until nothing is queued or running here."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                busy = bool(self._queued) or self._active > 0
            if not busy:
                return True
            time.sleep(0.02)
        return False

    # -- intake ----------------------------------------------------------------------------

    def ingest(self, batch: Batch) -> astore.Stored:
        """Store a batch (the watches' path into the same pipeline) and queue its group."""
        stored = astore.store_batch(self.engine, batch, self.runtime.clock())
        if stored.accepted:
            self.submit([stored.group_id])
        return stored

    # -- one group -------------------------------------------------------------------------

    def process(self, gid: int) -> None:
        g = astore.group(self.engine, gid)
        if g is None:
            return
        alerts = astore.occurrences(self.engine, gid)
        g = self._episode(g, alerts)
        labels = routing.labels_of(g, alerts)
        _, route = routing.choose(self.runtime.config, labels)
        self.sync_message(gid)
        firing = [a for a in alerts if a.firing]
        inc: Incident | None = None
        if firing and route.declare:
            inc = self.ensure_incident(g, route.declare, labels, firing, user=BOT)
        elif g.incident_id is not None:
            inc = records.get(self.engine, g.incident_id)
        if inc is not None:
            self._tell_incident(inc, alerts)
        if firing and (inc is not None or not route.declare):
            g = astore.group(self.engine, gid) or g
            diagnostics.run_once(
                self.runtime, self.desk, g, route, labels, alerts, inc, default_channel=self.channel()
            )
        if not firing and g.resolved_at is not None and inc is not None:
            self._all_resolved(g, route, inc)

    def _episode(self, g: Group, alerts: list[Occurrence]) -> Group:
        """Start or end the firing episode (CAS: replicas agree on one start)."""
        c = alert_groups.c
        firing = [a for a in alerts if a.firing]
        if firing and g.firing_since is None:
            start = min(a.starts_at for a in firing)
            astore.set_values(
                self.engine,
                g.id,
                c.firing_since.is_(None),
                firing_since=start,
                resolved_at=None,
                acked_by=None,
                acked_at=None,
            )
        elif not firing and g.firing_since is not None:
            astore.set_values(
                self.engine,
                g.id,
                c.firing_since == g.firing_since,
                firing_since=None,
                resolved_at=self.runtime.clock(),
            )
        else:
            return g
        return astore.group(self.engine, g.id) or g

    # -- the group's message ----------------------------------------------------------------

    def sync_message(self, gid: int) -> None:
        c = alert_groups.c
        for _ in range(MAX_ROUNDS):
            now = self.runtime.clock()
            won = astore.set_values(
                self.engine,
                gid,
                c.seq > c.posted_seq,
                or_(c.post_lease.is_(None), c.post_lease < now - self.lease),
                post_lease=now,
            )
            if not won:
                return
            try:
                g = astore.group(self.engine, gid)
                assert g is not None
                posted = self._post_message(g, now)
            except Exception:
                astore.set_values(self.engine, gid, c.post_lease == now, post_lease=None)
                raise
            values: dict[str, Any] = {"post_lease": None}
            if posted is not None:
                values.update(posted_seq=g.seq, channel_id=posted[0], message_ts=posted[1])
            astore.set_values(self.engine, gid, c.post_lease == now, **values)
            if posted is None:
                return  # Slack refused: the sweep retries

    def render(self, g: Group, now: datetime) -> tuple[str, list[Any]]:
        alerts = astore.occurrences(self.engine, g.id)
        labels = routing.labels_of(g, alerts)
        _, route = routing.choose(self.runtime.config, labels)
        incident = None
        if g.incident_id is not None:
            inc = records.get(self.engine, g.incident_id)
            if inc is not None:
                incident = (inc.id, inc.channel_id)
        cfg = self.runtime.config.alerts
        return render.group_message(
            g,
            alerts,
            now,
            incident=incident,
            offer_declare=not route.declare,
            runbook=routing.runbook_name(route, labels, alerts),
            can_silence=bool(cfg and cfg.alertmanager and g.source == "alertmanager"),
        )

    def _post_message(self, g: Group, now: datetime) -> tuple[str, str] | None:
        text, blocks = self.render(g, now)
        payload = [b.to_dict() for b in blocks]
        web = self.desk.web
        try:
            if g.message_ts and g.channel_id:
                try:
                    call(web.chat_update, channel=g.channel_id, ts=g.message_ts, text=text, blocks=payload)
                    return g.channel_id, g.message_ts
                except SlackStepError as exc:
                    if exc.error not in ("message_not_found", "channel_not_found", "is_archived"):
                        raise
                    log.warning(
                        "alert group %s: its message is gone (%s); posting a new one", g.id, exc.error
                    )
            post_args: dict[str, Any] = {
                "channel": self.channel(),
                "text": text,
                "blocks": payload,
                "unfurl_links": False,
                "unfurl_media": False,
            }
            try:
                resp = call(web.chat_postMessage, **post_args)
            except SlackStepError as exc:
                # A public channel (given by id) the bot was never invited to: it joins, then posts.
                if exc.error != "not_in_channel" or not re.fullmatch(r"[CG][A-Z0-9]{6,}", self.channel()):
                    raise
                call(web.conversations_join, channel=self.channel())
                resp = call(web.chat_postMessage, **post_args)
        except SlackStepError as exc:
            hint = " (invite the bot: /invite @chatops)" if exc.error == "not_in_channel" else ""
            log.error("alert group %s: cannot post to %s: %s%s", g.id, self.channel(), exc, hint)
            return None
        return str(resp.get("channel") or ""), str(resp.get("ts") or "")

    # -- incident ----------------------------------------------------------------------------

    def ensure_incident(
        self, g: Group, severity: str, labels: dict[str, str], firing: list[Occurrence], *, user: str
    ) -> Incident | None:
        """The group's open incident: the one it has, or one this replica declares (claimed once)."""
        if g.incident_id is not None:
            inc = records.get(self.engine, g.incident_id)
            if inc is not None and inc.is_open:
                return inc
            if inc is not None and _episode_declared(g):
                # Someone resolved it while this episode still fires: no second incident for the
                # same episode (a new one comes when the group fires again after resolving).
                return None
            g = self._detach_incident(g)
        now = self.runtime.clock()
        if not self._claim_incident(g, now):
            return None
        inc = self._declare_for(g, severity, labels, firing, user=user, now=now)
        if inc is None:
            return None
        self._record_declared(g, inc, firing, now)
        return records.get(self.engine, inc.id) or inc

    def _detach_incident(self, g: Group) -> Group:
        """Forget the group's closed incident (unless another replica moved it); the group re-read."""
        astore.set_values(self.engine, g.id, alert_groups.c.incident_id == g.incident_id, incident_id=None)
        return astore.group(self.engine, g.id) or g

    def _claim_incident(self, g: Group, now: datetime) -> bool:
        """Take the group's declare lease (free, or expired): only one replica declares."""
        c = alert_groups.c
        return astore.set_values(
            self.engine,
            g.id,
            c.incident_id.is_(None),
            or_(c.incident_lease.is_(None), c.incident_lease < now - self.lease),
            incident_lease=now,
        )

    def _incident_title(self, g: Group, firing: list[Occurrence]) -> str:
        title = render.title_of(g, firing)
        first = firing[0]
        summary = first.annotations.get("summary") or first.annotations.get("description") or ""
        if summary:
            title = f"{title}: {' '.join(summary.split())}"
        return title[: lifecycle.TITLE_MAX]

    def _declare_for(
        self,
        g: Group,
        severity: str,
        labels: dict[str, str],
        firing: list[Occurrence],
        *,
        user: str,
        now: datetime,
    ) -> Incident | None:
        """Declare the group's incident; on failure the lease is given back and None returned."""
        service = labels.get("service")
        if service not in self.runtime.config.services:
            service = None
        try:
            out = lifecycle.declare(
                self.desk,
                user=user,
                title=self._incident_title(g, firing),
                severity=severity,
                service=service,
                description=f"Declared from alert group {g.id} ({g.source}): {len(firing)} firing.",
            )
        except IncidentError as exc:
            log.error("alert group %s: cannot declare an incident: %s", g.id, exc)
            astore.set_values(self.engine, g.id, alert_groups.c.incident_lease == now, incident_lease=None)
            return None
        return out.incident

    def _record_declared(self, g: Group, inc: Incident, firing: list[Occurrence], now: datetime) -> None:
        """Link the declared incident to the group, put the detection on its timeline, sync the post."""
        c = alert_groups.c
        astore.set_values(
            self.engine,
            g.id,
            c.incident_lease == now,
            incident_id=inc.id,
            incident_lease=None,
            incident_for=g.firing_since,
            seq=c.seq + 1,
        )
        detected = min(a.starts_at for a in firing)
        received = min(a.received_at for a in firing)
        add_event(
            self.engine,
            inc.id,
            kind="detected",
            author=BOT,
            text=f"{render.title_of(g, firing)} started firing ({len(firing)} alert(s), from {g.source})",
            at=detected,
            data={"starts_at": detected.isoformat(), "received_at": received.isoformat(), "group": g.id},
        )
        # The alerts that declared it are in its summary, and earlier episodes' resolutions are
        # not its history: only what happens from now on is told.
        astore.mark_told(self.engine, [a.id for a in firing], "firing")
        past = [a.id for a in astore.occurrences(self.engine, g.id) if not a.firing]
        astore.mark_told(self.engine, past, "resolved")
        self.sync_message(g.id)

    def _tell_incident(self, inc: Incident, alerts: list[Occurrence]) -> None:
        """Alerts that fired or resolved since: a line in the incident channel and on its timeline."""
        if not inc.is_open:
            return
        now = self.runtime.clock()
        for status in ("firing", "resolved"):
            todo = [a for a in alerts if a.status == status and a.told != status]
            won = set(astore.mark_told(self.engine, [a.id for a in todo], status))
            told = [a for a in todo if a.id in won]
            if not told:
                continue
            text = render.incident_note(told, now, resolved=status == "resolved")
            for a in told:
                at = (a.ends_at or a.received_at) if status == "resolved" else a.starts_at
                add_event(
                    self.engine,
                    inc.id,
                    kind="alert",
                    author=BOT,
                    text=f"{a.labels.get('alertname', 'alert')} {status}",
                    at=at,
                    data={"fingerprint": a.fingerprint, "status": status},
                )
            try:
                post(self.desk, inc, text, [SectionBlock(text=render.md(text))])
            except SlackStepError as exc:
                log.warning("incident #%s: could not tell the channel about its alerts: %s", inc.id, exc)

    def _all_resolved(self, g: Group, route: RouteConfig, inc: Incident) -> None:
        c = alert_groups.c
        if not inc.is_open:
            return
        won = astore.set_values(
            self.engine,
            g.id,
            c.resolved_at == g.resolved_at,
            or_(c.resolved_told_for.is_(None), c.resolved_told_for != g.resolved_at),
            resolved_told_for=g.resolved_at,
        )
        if not won:
            return
        if route.auto_resolve:
            try:
                lifecycle.resolve(
                    self.desk, inc.id, user=BOT, summary="Every alert of the group resolved (auto_resolve)."
                )
            except IncidentError as exc:
                log.info("incident #%s: not auto-resolved: %s", inc.id, exc)
            return
        text = (
            f":white_check_mark: Every alert of this incident has resolved ({render.title_of(g, [])}). "
            "If the incident is over, resolve it."
        )
        button = ButtonElement(
            text="Resolve", action_id=ActionId.INCIDENT_RESOLVE.value, value=str(inc.id), style="primary"
        )
        blocks = [SectionBlock(text=render.md(text)), ActionsBlock(elements=[button])]
        try:
            post(self.desk, inc, text, blocks)
        except SlackStepError as exc:
            log.warning("incident #%s: could not say its alerts resolved: %s", inc.id, exc)


def _episode_declared(g: Group) -> bool:
    """The group's incident was declared for the episode that is firing now."""
    return g.firing_since is not None and g.incident_for == g.firing_since
