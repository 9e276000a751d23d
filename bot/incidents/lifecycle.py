"""What happens to an incident: declare, update, roles, severity, status, acknowledge, snooze, resolve.

Every change is written to the store (and the timeline) first; Slack is told afterwards.
A Slack call that fails after the change is reported back as a warning, never undoes it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import Block
from sqlalchemy import insert

from bot.incidents import escalation, messages, records, slack_setup
from bot.incidents.deps import IncidentDeps
from bot.incidents.records import RESOLVED, SETUP_STEPS, STATUSES, Incident, IncidentError
from bot.incidents.roles import ROLES, topic
from bot.incidents.slack_setup import post, update
from bot.incidents.slackapi import SlackStepError, call, mention
from bot.render.slack import escape
from bot.store.tables import incidents
from bot.store.timeline import add_event, events, incident_for_channel

log = logging.getLogger(__name__)

TITLE_MAX = 200
UPDATE_MAX = 3000


@dataclass
class IncidentChange:
    """The incident after a change, and what Slack would not do (warnings for the user)."""

    incident: Incident
    warnings: list[str] = field(default_factory=list)
    failures: list[slack_setup.StepFailure] = field(default_factory=list)


def normalise_severity(desk: IncidentDeps, word: str) -> str:
    sev = word.strip().upper()
    if sev not in desk.config.severities:
        known = ", ".join(sorted(desk.config.severities))
        raise IncidentError(f"Unknown severity `{word}`. Severities: {known}.")
    return sev


def _open(desk: IncidentDeps, incident_id: int) -> Incident:
    inc = records.require(desk.engine, incident_id)
    if not inc.is_open:
        raise IncidentError(f"Incident #{inc.id} is already resolved.")
    return inc


@contextmanager
def _warned(warnings: list[str], failed: str) -> Iterator[None]:
    """A Slack step after the change is stored: its refusal becomes a warning, never an error."""
    try:
        yield
    except SlackStepError as exc:
        warnings.append(f"{failed}: {exc}")


def _in_thread(
    desk: IncidentDeps,
    inc: Incident,
    text: str,
    warnings: list[str],
    failed: str,
    blocks: list[Block] | None = None,
) -> None:
    """Post in the announcement's thread, when the incident was announced."""
    if not (inc.announcement_ts and inc.announcement_channel):
        return
    with _warned(warnings, failed):
        call(
            desk.web.chat_postMessage,
            channel=inc.announcement_channel,
            thread_ts=inc.announcement_ts,
            text=text,
            blocks=[b.to_dict() for b in blocks] if blocks else None,
        )


def _tell(desk: IncidentDeps, inc: Incident, text: str, warnings: list[str], *, thread: bool = False) -> None:
    """Post a line in the channel (and the announcement's thread); failures become warnings."""
    with _warned(warnings, "could not post in the incident channel"):
        post(desk, inc, text)
    if thread:
        _in_thread(desk, inc, text, warnings, "could not post in the announcement's thread")


def refresh(desk: IncidentDeps, inc: Incident) -> list[str]:
    """Bring the topic and the pinned summary in line with the row."""
    warnings: list[str] = []
    if not inc.channel_id:
        return warnings
    if "topic" not in inc.pending_steps:
        with _warned(warnings, "could not update the channel topic"):
            call(
                desk.web.conversations_setTopic,
                channel=inc.channel_id,
                topic=topic(inc, desk.names),
            )
    if inc.summary_ts:
        text, blocks = messages.summary(desk.config, inc)
        with _warned(warnings, "could not update the pinned summary"):
            update(desk, inc.channel_id, inc.summary_ts, text, blocks)
    return warnings


# -- declare -------------------------------------------------------------------------------


def _valid_title(title: str) -> str:
    """The title on one line, or IncidentError when it is empty or too long."""
    title = " ".join(title.split())
    if not title:
        raise IncidentError("An incident needs a title: what is broken, for whom?")
    if len(title) > TITLE_MAX:
        raise IncidentError(f"The title is {len(title)} characters; keep it under {TITLE_MAX}.")
    return title


def _check_service(desk: IncidentDeps, service: str | None) -> None:
    if service is not None and service not in desk.config.services:
        known = ", ".join(sorted(desk.config.services)) or "none configured"
        raise IncidentError(f"Unknown service `{service}` (services: {known}).")


def _insert_incident(
    desk: IncidentDeps,
    *,
    sev: str,
    title: str,
    service: str | None,
    description: str,
    user: str,
    commander: str | None,
    now: datetime,
) -> int:
    """The incident row (its number), with every setup step pending and its first deadlines."""
    ladder = escalation.ladder(desk.config, sev)
    with desk.engine.begin() as conn:
        return int(
            conn.execute(
                insert(incidents)
                .returning(incidents.c.id)
                .values(
                    title=title,
                    severity=sev,
                    status=STATUSES[0],
                    service=service,
                    description=description.strip(),
                    declared_by=user,
                    declared_at=now,
                    roles=json.dumps({"commander": commander or user}),
                    setup_pending=json.dumps([{"step": s, "error": "not run yet"} for s in SETUP_STEPS]),
                    last_update_at=None,
                    next_update_due=now + desk.config.update_every(sev),
                    escalation_step=0,
                    next_escalation_due=now + ladder[0].after if ladder else None,
                )
            ).scalar_one()
        )


def declare(
    desk: IncidentDeps,
    *,
    user: str,
    title: str,
    severity: str,
    service: str | None = None,
    description: str = "",
    commander: str | None = None,
    responders: list[str] | None = None,
    source: MessageSource | None = None,
) -> IncidentChange:
    """Store the incident (its number) first, then set Slack up on its critical path.

    `commander` defaults to the declarer; `responders` (user ids) are invited with the on-call
    and service contacts; `source`, the message it was declared from, goes on the timeline."""
    sev = normalise_severity(desk, severity)
    title = _valid_title(title)
    _check_service(desk, service)
    now = desk.clock()
    new_id = _insert_incident(
        desk,
        sev=sev,
        title=title,
        service=service,
        description=description,
        user=user,
        commander=commander,
        now=now,
    )
    inc = records.require(desk.engine, int(new_id))
    svc = f" ({service})" if service else ""
    add_event(
        desk.engine,
        inc.id,
        kind="declared",
        author=user,
        text=f"{sev} {title}{svc}",
        at=now,
        data={"severity": sev, "service": service, "responders": list(dict.fromkeys(responders or []))},
    )
    if source is not None:
        add_message(desk, inc.id, source, added_by=user, at=now)
    records.refresh_open_gauge(desk.engine)
    inc, failures = slack_setup.run(desk, inc, SETUP_STEPS)
    desk.emit("declared", inc, user)
    return IncidentChange(inc, failures=failures)


@dataclass(frozen=True)
class MessageSource:
    """A Slack message put on an incident's timeline (declared from it, or added to it)."""

    channel: str
    ts: str
    author: str
    text: str
    permalink: str = ""


MESSAGE_TEXT_MAX = 3000


def add_message(
    desk: IncidentDeps, incident_id: int, msg: MessageSource, *, added_by: str, at: datetime
) -> None:
    """The message, its author and its permalink on the timeline (once per incident and message)."""
    if any(
        e.data.get("ts") == msg.ts and e.data.get("channel") == msg.channel
        for e in events(desk.engine, incident_id, kinds=("message",))
    ):
        raise IncidentError(f"That message is already on incident #{incident_id}'s timeline.")
    text = " ".join(msg.text.split())[:MESSAGE_TEXT_MAX] or f"(message {msg.ts})"
    add_event(
        desk.engine,
        incident_id,
        kind="message",
        author=msg.author,
        text=text,
        at=at,
        data={"channel": msg.channel, "ts": msg.ts, "permalink": msg.permalink, "added_by": added_by},
    )


def retry_setup(desk: IncidentDeps, incident_id: int) -> IncidentChange:
    inc = records.require(desk.engine, incident_id)
    if not inc.setup_pending:
        return IncidentChange(inc)
    inc, failures = slack_setup.run(desk, inc)
    return IncidentChange(inc, failures=failures)


# -- while open ----------------------------------------------------------------------------


def post_update(
    desk: IncidentDeps,
    incident_id: int,
    *,
    user: str,
    text: str,
    public: bool = False,
    status: str | None = None,
) -> IncidentChange:
    """Record an update, post it in the channel and the announcement's thread, move the next due."""
    inc = _open(desk, incident_id)
    text = text.strip()
    if not text:
        raise IncidentError("An update needs some text: what changed, what is next?")
    if len(text) > UPDATE_MAX:
        raise IncidentError(f"The update is {len(text)} characters; keep it under {UPDATE_MAX}.")
    now = desk.clock()
    warnings: list[str] = []
    if status is not None and status != inc.status:
        out = set_status(desk, inc.id, user=user, status=status, announce=False)
        inc, warnings = out.incident, out.warnings
        if not inc.is_open:
            return out
    inc = records.save(
        desk.engine,
        inc.id,
        last_update_at=now,
        next_update_due=now + desk.config.update_every(inc.severity),
        reminder_claimed_at=None,
    )
    add_event(desk.engine, inc.id, kind="update", author=user, text=text, at=now, public=public)
    fallback, blocks = messages.update_post(desk.config, inc, author=user, text=text, public=public)
    with _warned(warnings, "the update is recorded, but could not be posted in the channel"):
        post(desk, inc, fallback, blocks)
    _in_thread(
        desk, inc, fallback, warnings, "could not post the update in the announcement's thread", blocks
    )
    warnings += refresh(desk, inc) if status else []
    return IncidentChange(inc, warnings)


def assign(desk: IncidentDeps, incident_id: int, *, user: str, role: str, assignee: str) -> IncidentChange:
    inc = _open(desk, incident_id)
    now = desk.clock()
    roles = dict(inc.roles)
    before = roles.get(role)
    roles[role] = assignee
    inc = records.save(desk.engine, inc.id, roles=roles)
    role_label = ROLES[role][0]
    add_event(
        desk.engine,
        inc.id,
        kind="role",
        author=user,
        text=f"{role_label}: {mention(assignee)}" + (f" (was {mention(before)})" if before else ""),
        at=now,
        data={"role": role, "user": assignee, "before": before},
    )
    warnings: list[str] = []
    if inc.channel_id:
        with _warned(warnings, f"could not invite {mention(assignee)}"):
            slack_setup.invite(desk, inc.channel_id, [assignee])
    _tell(desk, inc, f":busts_in_silhouette: {mention(assignee)} is now the {role_label.lower()}.", warnings)
    warnings += refresh(desk, inc)
    return IncidentChange(inc, warnings)


def set_severity(desk: IncidentDeps, incident_id: int, *, user: str, severity: str) -> IncidentChange:
    inc = _open(desk, incident_id)
    sev = normalise_severity(desk, severity)
    if sev == inc.severity:
        raise IncidentError(f"Incident #{inc.id} is already {sev}.")
    now = desk.clock()
    before = inc.severity
    base = inc.last_update_at or inc.declared_at
    values: dict[str, Any] = {
        "severity": sev,
        # The new severity's update interval, counted from the last update.
        "next_update_due": base + desk.config.update_every(sev),
    }
    if inc.acknowledged_at is None:
        values["next_escalation_due"] = escalation.due_at(
            desk.config, sev, inc.declared_at, inc.escalation_step
        )
    inc = records.save(desk.engine, inc.id, **values)
    add_event(
        desk.engine,
        inc.id,
        kind="severity",
        author=user,
        text=f"Severity {before} → {sev}",
        at=now,
        data={"from": before, "to": sev},
    )
    desk.emit("severity", inc, user, before=before)
    arrow = ":arrow_up:" if sev < before else ":arrow_down:"
    warnings: list[str] = []
    _tell(desk, inc, f"{arrow} {mention(user)} changed the severity {before} → {sev}.", warnings, thread=True)
    warnings += refresh(desk, inc)
    return IncidentChange(inc, warnings)


def set_status(
    desk: IncidentDeps, incident_id: int, *, user: str, status: str, announce: bool = True
) -> IncidentChange:
    status = status.lower()
    if status == RESOLVED:
        return resolve(desk, incident_id, user=user, summary="")
    if status not in STATUSES:
        raise IncidentError(f"Unknown status `{status}`. Statuses: {', '.join(STATUSES)}.")
    inc = _open(desk, incident_id)
    if status == inc.status:
        raise IncidentError(f"Incident #{inc.id} is already {status}.")
    before = inc.status
    inc = records.save(desk.engine, inc.id, status=status)
    add_event(
        desk.engine,
        inc.id,
        kind="status",
        author=user,
        text=f"Status {before} → {status}",
        at=desk.clock(),
        data={"from": before, "to": status},
    )
    warnings: list[str] = []
    if announce:
        _tell(
            desk, inc, f":traffic_light: {mention(user)} set the status to *{status}*.", warnings, thread=True
        )
        warnings += refresh(desk, inc)
    return IncidentChange(inc, warnings)


def acknowledge(desk: IncidentDeps, incident_id: int, *, user: str) -> IncidentChange:
    inc = _open(desk, incident_id)
    if inc.acknowledged_by:
        raise IncidentError(
            f"Incident #{inc.id} was already acknowledged by {mention(inc.acknowledged_by)} "
            f"at {messages.hhmm(inc.acknowledged_at)}."
        )
    now = desk.clock()
    inc = records.save(
        desk.engine,
        inc.id,
        acknowledged_by=user,
        acknowledged_at=now,
        next_escalation_due=None,
        escalation_claimed_at=None,
    )
    add_event(desk.engine, inc.id, kind="ack", author=user, text="Acknowledged; escalation stopped", at=now)
    desk.emit("acknowledged", inc, user)
    warnings: list[str] = []
    _tell(
        desk,
        inc,
        f":white_check_mark: {mention(user)} acknowledged incident #{inc.id}; escalation stopped.",
        warnings,
    )
    warnings += refresh(desk, inc)
    return IncidentChange(inc, warnings)


def snooze(desk: IncidentDeps, incident_id: int, *, user: str, minutes: int) -> IncidentChange:
    if not 1 <= minutes <= 24 * 60:
        raise IncidentError("Snooze for 1 to 1,440 minutes (15, 30 or 60 are the usual ones).")
    inc = _open(desk, incident_id)
    now = desk.clock()
    due = now + timedelta(minutes=minutes)
    inc = records.save(desk.engine, inc.id, next_update_due=due, reminder_claimed_at=None)
    add_event(
        desk.engine, inc.id, kind="snooze", author=user, text=f"Status reminder snoozed {minutes}m", at=now
    )
    warnings: list[str] = []
    _tell(
        desk,
        inc,
        f":zzz: {mention(user)} snoozed the status reminder for {minutes}m (next due {messages.hhmm(due)}).",
        warnings,
    )
    return IncidentChange(inc, warnings)


def resolve(desk: IncidentDeps, incident_id: int, *, user: str, summary: str) -> IncidentChange:
    """Stop reminders and escalation, post the duration, ask for the post-mortem."""
    inc = _open(desk, incident_id)
    now = desk.clock()
    summary = summary.strip()
    inc = records.save(
        desk.engine,
        inc.id,
        status=RESOLVED,
        resolved_by=user,
        resolved_at=now,
        resolution=summary or None,
        next_update_due=None,
        next_escalation_due=None,
        reminder_claimed_at=None,
        escalation_claimed_at=None,
    )
    add_event(desk.engine, inc.id, kind="resolved", author=user, text=summary or "Resolved", at=now)
    desk.emit("resolved", inc, user)
    records.refresh_open_gauge(desk.engine)
    took = messages.duration(now - inc.declared_at)
    note = f": {escape(summary)}" if summary else "."
    text = (
        f":white_check_mark: Incident #{inc.id} resolved by {mention(user)} after {took}{note}\n"
        f"Next: the post-mortem within 24–48 hours — `{desk.command('incident')} postmortem {inc.id}` "
        "drafts it from the timeline."
    )
    warnings: list[str] = []
    _tell(desk, inc, text, warnings, thread=True)
    warnings += refresh(desk, inc)
    return IncidentChange(inc, warnings)


def age(inc: Incident, now: datetime) -> str:
    return messages.duration(now - inc.declared_at)


# -- pins ------------------------------------------------------------------------------------


def record_pin(desk: IncidentDeps, *, channel: str, user: str, ts: str, text: str | None, how: str) -> bool:
    """A message pinned or marked :pushpin: in an incident channel goes on the timeline, once."""
    incident_id = incident_for_channel(desk.engine, channel)
    if incident_id is None:
        return False
    inc = records.require(desk.engine, incident_id)
    if ts and ts == inc.summary_ts:
        return False  # the bot's own pinned summary
    if ts and any(e.data.get("ts") == ts for e in events(desk.engine, inc.id, kinds=("pin",))):
        return False  # pinned and marked, or Slack redelivered the event
    if text is None:
        text = _message_text(desk, channel, ts)
    add_event(
        desk.engine,
        inc.id,
        kind="pin",
        author=user,
        text=" ".join(text.split())[:1000] or f"(message {ts})",
        at=desk.clock(),
        data={"ts": ts, "how": how},
    )
    return True


def _message_text(desk: IncidentDeps, channel: str, ts: str) -> str:
    """The text of one message (reaction events carry only its timestamp)."""
    try:
        found = call(
            desk.web.conversations_history,
            channel=channel,
            latest=ts,
            oldest=ts,
            inclusive=True,
            limit=1,
        )
    except SlackStepError as exc:
        log.info("cannot read pinned message %s in %s: %s", ts, channel, exc)
        return f"(message {ts}; the bot could not read it: {exc.error})"
    for message in found.get("messages") or []:
        if message.get("ts") == ts:
            return str(message.get("text") or "")
    return f"(message {ts})"
