"""The post-mortem: the seeds' incident report template, filled in from the timeline, as Markdown.

Sections follow seed 001's "Incident Report" (summary, timeline, impact, root cause,
resolution, action items, lessons learned) with seed 002's summary fields and follow-up.
What the timeline cannot know (users affected, root cause when nobody wrote it down) is
left as an italic prompt to fill in.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from bot.config import ChatopsConfig
from bot.incidents import records
from bot.incidents.messages import duration, label
from bot.incidents.records import Incident
from bot.incidents.roles import ROLES
from bot.store.timeline import Event, events

Name = Callable[[str], str]

_MENTION = re.compile(
    r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>|<#([CG][A-Z0-9]+)\|?([^>]*)>"
)
# Kinds that are bookkeeping, not history.
_SKIP = {"snooze"}


def filename(incident_id: int) -> str:
    return f"incident-{incident_id}-postmortem.md"


def _plain(text: str, name: Name) -> str:
    """Slack markup → readable Markdown: <@U1> → @alice, <#C1|war-room> → #war-room."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            return "@" + name(m.group(1))
        if m.group(2):
            return "@" + m.group(2)
        return "#" + (m.group(4) or m.group(3))

    return _MENTION.sub(sub, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _who(user: str, name: Name) -> str:
    return "the bot" if user in ("", "chatops") else "@" + name(user)


def describe_event(ev: Event, name: Name) -> str:
    """One timeline line in words (Markdown, names instead of Slack ids)."""
    text = _plain(ev.text, name)
    who = _who(ev.author, name)
    if ev.kind == "declared":
        return f"Incident declared by {who}: {text}"
    if ev.kind == "update":
        return f"Status update by {who}{' (public)' if ev.public else ''}: {text}"
    if ev.kind == "ack":
        return f"Acknowledged by {who}"
    if ev.kind == "resolved":
        return f"Resolved by {who}: {text}"
    if ev.kind == "pin":
        return f"Pinned by {who}: {text}"
    if ev.kind == "message":
        link = str(ev.data.get("permalink") or "")
        return f"Message from {who}: {text}" + (f" ({link})" if link else "")
    if ev.kind == "escalation":
        return text
    if ev.kind == "detected":
        return f"Alert detected: {text}"
    if ev.kind == "role":
        return f"{text} (assigned by {who})"
    if ev.kind in ("status", "severity"):
        return f"{text} ({who})"
    return f"{ev.kind.capitalize()}: {text} ({who})"


def draft_postmortem(engine: Engine, config: ChatopsConfig, incident_id: int, *, name: Name = str) -> str:
    """The report as Markdown. `name` turns a Slack user id into a display name."""
    inc = records.require(engine, incident_id)
    timeline = [e for e in events(engine, inc.id) if e.kind not in _SKIP]
    end = inc.resolved_at
    days = {inc.declared_at.date(), *(e.at.date() for e in timeline)}
    fmt = "%H:%M" if len(days) == 1 else "%Y-%m-%d %H:%M"
    out: list[str] = [f"# Incident Report: #{inc.id} — {inc.title}", ""]
    out += _summary(config, inc, name, end)
    out += ["", "## Timeline", "_All times UTC._", ""]
    out += [f"- **{e.at.strftime(fmt)}** — {describe_event(e, name)}" for e in timeline] or [
        "- _(no events)_"
    ]
    out += ["", *_impact(inc, timeline, end)]
    out += ["", *_root_cause(timeline, name, fmt)]
    out += ["", *_resolution(inc, timeline, name, fmt)]
    out += [
        "",
        "## Action Items",
        "1. [ ] _Action item_ — Owner: _name_ — Due: _date_",
        "2. [ ] Update the runbooks with what this incident taught — Owner: _name_ — Due: _date_",
        "3. [ ] Add the monitoring, alerts or tests that would have caught it sooner — Owner: _name_ — "
        "Due: _date_",
        "",
        "## Lessons Learned",
        "- What went well: _…_",
        "- What could be improved: _…_",
        "- Where we got lucky: _…_",
        "",
        "## Follow-up",
        "- **Review date**: _within a week of resolution_",
        f"- **Owner**: @{name(inc.commander)}",
        "",
        f"_Drafted by chatops from the timeline of incident #{inc.id}; fill in the parts in italics._",
        "",
    ]
    return "\n".join(out)


def _summary(config: ChatopsConfig, inc: Incident, name: Name, end: datetime | None) -> list[str]:
    span = f"{inc.declared_at:%H:%M} – {end:%H:%M} UTC" if end else f"{inc.declared_at:%H:%M} UTC – ongoing"
    if end and end.date() != inc.declared_at.date():
        span = f"{inc.declared_at:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"
    lines = [
        "## Summary",
        inc.description or f"{inc.title}. _Add a brief description of the incident._",
        "",
        f"- **Date**: {inc.declared_at:%Y-%m-%d}",
        f"- **Time**: {span}",
        f"- **Severity**: {inc.severity} ({label(config, inc.severity)})",
        f"- **Affected services**: {inc.service or '_list the services_'}",
        f"- **Status**: {inc.status.capitalize()}",
    ]
    roles = dict(inc.roles)
    roles.setdefault("commander", inc.commander)
    for role, (role_label, _short) in ROLES.items():
        if roles.get(role):
            lines.append(f"- **{role_label}**: @{name(roles[role])}")
    if inc.channel_name:
        lines.append(f"- **Channel**: #{inc.channel_name}")
    return lines


def _impact(inc: Incident, timeline: list[Event], end: datetime | None) -> list[str]:
    took = duration(end - inc.declared_at) if end else "ongoing"
    ack = (
        duration(inc.acknowledged_at - inc.declared_at)
        if inc.acknowledged_at
        else "not acknowledged through the bot"
    )
    escalations = sum(1 for e in timeline if e.kind == "escalation")
    return [
        "## Impact",
        f"- **Duration**: {took}",
        *_alert_times(inc, timeline, end),
        f"- **Time to acknowledge**: {ack}",
        f"- **Escalation steps notified**: {escalations}",
        "- **Users affected**: _number or percentage_",
        f"- **Services affected**: {inc.service or '_list the services_'}",
        "- **Data loss**: _yes/no_",
        "- **Revenue impact**: _if applicable_",
    ]


def _root_cause(timeline: list[Event], name: Name, fmt: str) -> list[str]:
    """Updates written while the cause was identified (status `identified`) are the best draft."""
    lines = ["## Root Cause"]
    status = "investigating"
    found: list[str] = []
    for e in timeline:
        if e.kind == "status":
            status = str(e.data.get("to", status))
            if status == "identified":
                found.append(f"- Identified at {e.at.strftime(fmt)} by {_who(e.author, name)}.")
        elif e.kind == "update" and status == "identified":
            found.append(f"- {_plain(e.text, name)}")
    return lines + (found or ["_Detailed explanation of what caused the incident._"])


def _resolution(inc: Incident, timeline: list[Event], name: Name, fmt: str) -> list[str]:
    lines = ["## Resolution", _plain(inc.resolution, name) if inc.resolution else "_How it was resolved._"]
    actions = [e for e in timeline if e.kind in ("runbook", "action")]
    if actions:
        lines += ["", "Runbooks and actions during the incident:"]
        lines += [
            f"- {e.at.strftime(fmt)} — {_plain(e.text, name)} ({_who(e.author, name)})" for e in actions
        ]
    return lines


def _alert_times(inc: Incident, timeline: list[Event], end: datetime | None) -> list[str]:
    """For an incident declared from an alert: its start is the detection time (seed 001's
    time to detect / declare / resolve), measured from the alert's startsAt."""
    detected = next((e for e in timeline if e.kind == "detected"), None)
    if detected is None:
        return []
    start = detected.at
    received = detected.data.get("received_at")
    lines = [f"- **Detected (alert started)**: {start:%Y-%m-%d %H:%M} UTC"]
    if isinstance(received, str):
        with contextlib.suppress(ValueError):
            lines.append(f"- **Time to detect**: {duration(datetime.fromisoformat(received) - start)}")
    lines.append(f"- **Time to declare**: {duration(inc.declared_at - start)}")
    lines.append(f"- **Time to resolve**: {duration(end - start) if end else 'ongoing'}")
    return lines
