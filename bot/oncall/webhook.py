"""`POST /paging/pagerduty`: PagerDuty v3 webhooks, verified, deduplicated, answered at once.

`X-PagerDuty-Signature` carries one or more `v1=<hex>` signatures (several while a secret is
being rotated); any one equal to HMAC-SHA256(webhook_secret, body) passes, else 401. The
event id is stored before the answer (PagerDuty delivers at least once: a replay is answered
200 and ignored); the work then runs on the paging thread, after the 202:

- `incident.acknowledged` → our incident is acknowledged (its escalation stops);
- `incident.resolved` → posted in the incident channel and on the timeline (resolving ours
  stays a person's call: `/incident resolve`).

The PagerDuty incident is matched to ours by its `incident_key` (our dedup key), or by the
dedup key in its title (our summary names the incident).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.incidents import lifecycle, records
from bot.incidents.deps import IncidentDeps
from bot.incidents.records import IncidentError
from bot.incidents.slack_setup import post
from bot.incidents.slackapi import SlackStepError
from bot.oncall.paging import STALE, Pager
from bot.oncall.tables import paging_alerts, paging_webhooks
from bot.store.audit import Event, Outcome, record
from bot.store.timeline import add_event

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

BODY_MAX = 1_000_000
StartResponse = Callable[..., Any]
HANDLED = ("incident.acknowledged", "incident.resolved")


def _reply(start: StartResponse, status: str, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode() + b"\n"
    start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def verify(secret: str, body: bytes, header: str) -> bool:
    """Any `v1=` signature in the header equal to HMAC-SHA256(secret, body)."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    for part in header.split(","):
        version, _, sig = part.strip().partition("=")
        if version == "v1" and hmac.compare_digest(sig.strip().lower(), expected):
            return True
    return False


def match_incident(pager: Pager, data: dict[str, Any]) -> int | None:
    """Our incident number for a PagerDuty incident: its incident_key, else the key in its title."""
    pattern = re.compile(rf"\b{re.escape(pager.cfg.source)}-incident-(\d+)\b")
    for text in (data.get("incident_key"), data.get("title"), data.get("summary")):
        if isinstance(text, str) and (m := pattern.search(text)):
            return int(m.group(1))
    return None


class Webhook:
    """The WSGI route (web.py holds only the path → route line)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def pager(self) -> Pager | None:
        return self.runtime.find(Pager)

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        cfg = self.runtime.config.paging.pagerduty
        pager = self.pager
        if cfg is None or not cfg.webhook_secret or pager is None:
            return _reply(
                start, "404 Not Found", {"error": "paging.pagerduty.webhook_secret is not configured"}
            )
        if environ.get("REQUEST_METHOD") != "POST":
            start("405 Method Not Allowed", [("Allow", "POST"), ("Content-Length", "0")])
            return [b""]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > BODY_MAX:
            return _reply(start, "413 Request Entity Too Large", {"error": f"at most {BODY_MAX} bytes"})
        body = environ["wsgi.input"].read(length) if length else b""
        if not verify(cfg.webhook_secret, body, str(environ.get("HTTP_X_PAGERDUTY_SIGNATURE", ""))):
            return _reply(start, "401 Unauthorized", {"error": "bad or missing X-PagerDuty-Signature"})
        try:
            event = json.loads(body)["event"]
            event_id = str(event["id"])[:64]
            event_type = str(event["event_type"])[:64]
            data = event.get("data") or {}
            if not isinstance(data, dict):
                raise TypeError("data")
        except (ValueError, KeyError, TypeError):
            return _reply(
                start, "400 Bad Request", {"error": "not a PagerDuty v3 webhook (event.id, event.event_type)"}
            )
        incident_id = match_incident(pager, data) if event_type in HANDLED else None
        agent = event.get("agent") or {}
        who = (str(agent.get("summary") or "someone") if isinstance(agent, dict) else "someone")[:80]
        link = data.get("html_url") if isinstance(data.get("html_url"), str) else None
        try:
            with self.runtime.store.engine.begin() as conn:
                conn.execute(
                    insert(paging_webhooks).values(
                        event_id=event_id,
                        event_type=event_type,
                        received_at=self.runtime.clock(),
                        incident_id=incident_id,
                        outcome="queued" if incident_id is not None else "ignored",
                        detail=json.dumps({"who": who, "link": link}),
                    )
                )
        except IntegrityError:
            return _reply(start, "200 OK", {"duplicate": True})
        if incident_id is not None:
            pager.submit(self._take_and_work, pager, event_id, event_type, incident_id, who, link)
        return _reply(start, "202 Accepted", {"accepted": True})

    def _take(self, event_id: str) -> bool:
        """Compare-and-set queued → working: one worker per delivery (this thread or a recovery)."""
        t = paging_webhooks
        with self.runtime.store.engine.begin() as conn:
            won = conn.execute(
                update(t).where(t.c.event_id == event_id, t.c.outcome == "queued").values(outcome="working")
            ).rowcount
        return bool(won)

    def _take_and_work(
        self, pager: Pager, event_id: str, event_type: str, incident_id: int, who: str, link: str | None
    ) -> None:
        if self._take(event_id):
            self._work(pager, event_id, event_type, incident_id, who, link)

    def recover(self, now: datetime) -> None:
        """Scheduler participant: deliveries stored but never worked on (the replica died after
        its 202) are worked on now; the compare-and-set lets one replica take each."""
        pager = self.pager
        if pager is None:
            return
        engine = self.runtime.store.engine
        t = paging_webhooks
        with engine.connect() as conn:
            rows = (
                conn.execute(
                    select(t).where(t.c.outcome == "queued", t.c.received_at < now - STALE).limit(100)
                )
                .mappings()
                .all()
            )
        for r in rows:
            if r["incident_id"] is None or not self._take(r["event_id"]):
                continue
            detail = json.loads(r["detail"] or "{}")
            pager.submit(
                self._work,
                pager,
                r["event_id"],
                r["event_type"],
                int(r["incident_id"]),
                str(detail.get("who") or "someone"),
                detail.get("link"),
            )

    # -- after the answer (on the paging thread) -------------------------------------------------

    def _work(
        self, pager: Pager, event_id: str, event_type: str, incident_id: int, who: str, link: str | None
    ) -> None:
        outcome = "done"
        try:
            if event_type == "incident.acknowledged":
                outcome = self._acknowledged(pager, incident_id, who)
            else:
                outcome = self._resolved(pager, incident_id, who, link)
        except Exception:
            log.exception("PagerDuty webhook %s for incident #%s failed", event_type, incident_id)
            outcome = "error"
        with self.runtime.store.engine.begin() as conn:
            conn.execute(
                update(paging_webhooks).where(paging_webhooks.c.event_id == event_id).values(outcome=outcome)
            )

    def _acknowledged(self, pager: Pager, incident_id: int, who: str) -> str:
        desk: IncidentDeps = pager.desk
        inc = records.get(desk.engine, incident_id)
        if inc is None:
            return "unknown incident"
        # PagerDuty knows: mark the alert first, so our own acknowledge does not send it back.
        self._state(incident_id, "acknowledged")
        add_event(
            desk.engine,
            inc.id,
            kind="paging",
            author="PagerDuty",
            text=f"PagerDuty: acknowledged by {who}",
            at=desk.clock(),
        )
        self._audit(inc.id, "acknowledged", f"acknowledged in PagerDuty by {who}", inc.channel_id)
        if not inc.is_open or inc.acknowledged_at is not None:
            return "already acknowledged"
        try:
            lifecycle.acknowledge(desk, inc.id, user="PagerDuty")
        except IncidentError as exc:
            return str(exc)[:32]
        self._tell(desk, inc, f":pager: {who} acknowledged the page in PagerDuty; escalation stopped.")
        return "acknowledged"

    def _resolved(self, pager: Pager, incident_id: int, who: str, link: str | None) -> str:
        desk: IncidentDeps = pager.desk
        inc = records.get(desk.engine, incident_id)
        if inc is None:
            return "unknown incident"
        self._state(incident_id, "resolved")
        text = f"PagerDuty: resolved by {who}" + (f" ({link})" if link else "")
        add_event(desk.engine, inc.id, kind="paging", author="PagerDuty", text=text, at=desk.clock())
        self._audit(inc.id, "resolved", f"resolved in PagerDuty by {who}", inc.channel_id)
        if inc.is_open:
            self._tell(
                desk,
                inc,
                f":pager: {who} resolved the page in PagerDuty. Incident #{inc.id} stays open here until "
                f"someone runs `{desk.command('incident')} resolve`.",
            )
        return "posted"

    def _state(self, incident_id: int, state: str) -> None:
        with self.runtime.store.engine.begin() as conn:
            conn.execute(
                update(paging_alerts)
                .where(paging_alerts.c.incident_id == incident_id)
                .values(state=state, updated_at=self.runtime.clock())
            )

    def _audit(self, incident_id: int, what: str, detail: str, channel: str | None) -> None:
        record(
            self.runtime.store.engine,
            request_id=uuid.uuid4().hex[:16],
            user_id="PagerDuty",
            command=f"pagerduty webhook {what} #{incident_id}",
            event=Event.EXECUTE,
            outcome=Outcome.OK,
            channel_id=channel or "",
            handler=f"paging.webhook.{what}",
            target="pagerduty",
            detail=detail,
        )

    def _tell(self, desk: IncidentDeps, inc: records.Incident, text: str) -> None:
        try:
            post(desk, inc, text)
        except SlackStepError as exc:
            log.warning("incident #%s: could not post the PagerDuty note: %s", inc.id, exc)
