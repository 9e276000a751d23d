"""The incident's Slack messages as Block Kit: summary, announcement, reminder, escalation, update."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    MarkdownTextObject,
    SectionBlock,
)

from bot.config import ChatopsConfig
from bot.incidents.records import Incident
from bot.incidents.roles import ROLES
from bot.incidents.slackapi import mention
from bot.render.slack import context, escape, header, section
from bot.slack.ids import ActionId

SNOOZES = (
    (15, ActionId.INCIDENT_SNOOZE_15),
    (30, ActionId.INCIDENT_SNOOZE_30),
    (60, ActionId.INCIDENT_SNOOZE_60),
)


def duration(delta: timedelta) -> str:
    """`1h 23m`, `45m`, `2d 3h`, `30s`."""
    secs = max(int(delta.total_seconds()), 0)
    days, rest = divmod(secs, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes and not days:
        parts.append(f"{minutes}m")
    if not parts:
        parts.append(f"{seconds}s" if seconds else "0m")
    return " ".join(parts)


def hhmm(at: datetime | None) -> str:
    return at.strftime("%H:%M UTC") if at else "—"


def label(config: ChatopsConfig, severity: str) -> str:
    sev = config.severities.get(severity)
    return sev.label if sev else severity


def headline(config: ChatopsConfig, inc: Incident) -> str:
    return f"{inc.severity} ({label(config, inc.severity)}) {escape(inc.title)}"


def _button(text: str, action: ActionId, value: str, *, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=text, action_id=action.value, value=value, style=style)


def incident_buttons(inc: Incident) -> ActionsBlock:
    value = str(inc.id)
    return ActionsBlock(
        block_id=f"incident-{inc.id}-actions",
        elements=[
            _button("Acknowledge", ActionId.INCIDENT_ACK, value, style="primary"),
            _button("Post update", ActionId.INCIDENT_UPDATE, value),
            _button("Run runbook", ActionId.INCIDENT_RUNBOOK, value),
            _button("Resolve", ActionId.INCIDENT_RESOLVE, value, style="danger"),
        ],
    )


def summary(
    config: ChatopsConfig, inc: Incident, *, next_due: datetime | None = None
) -> tuple[str, list[Block]]:
    """The pinned summary; refreshed (chat.update) when roles, severity or status change."""
    roles = dict(inc.roles)
    roles.setdefault("commander", inc.commander)
    fields = [
        MarkdownTextObject(text=f"*Severity*\n{inc.severity} ({label(config, inc.severity)})"),
        MarkdownTextObject(text=f"*Status*\n{inc.status.capitalize()}"),
        MarkdownTextObject(text=f"*Service*\n{escape(inc.service or '—')}"),
        MarkdownTextObject(text=f"*Declared*\n{hhmm(inc.declared_at)} by {mention(inc.declared_by)}"),
    ]
    for role, (role_label, _short) in ROLES.items():
        if roles.get(role):
            fields.append(MarkdownTextObject(text=f"*{role_label}*\n{mention(roles[role])}"))
    ack = (
        f"Acknowledged by {mention(inc.acknowledged_by)} at {hhmm(inc.acknowledged_at)}"
        if inc.acknowledged_by
        else "Not acknowledged yet: the escalation ladder is running"
    )
    blocks: list[Block] = [
        header(f"Incident #{inc.id}: {inc.title}"),
        SectionBlock(fields=fields[:10]),
    ]
    if inc.description:
        blocks.append(section(escape(inc.description)))
    if inc.is_open:
        due = next_due or inc.next_update_due
        blocks.append(context(f"{ack} · next status update due {hhmm(due)}"))
        blocks.append(incident_buttons(inc))
    else:
        took = duration((inc.resolved_at or inc.declared_at) - inc.declared_at)
        note = f" — {escape(inc.resolution)}" if inc.resolution else ""
        blocks.append(
            context(f":white_check_mark: Resolved by {mention(inc.resolved_by or '')} after {took}{note}")
        )
    return f"Incident #{inc.id}: {headline(config, inc)}", blocks


def announcement(config: ChatopsConfig, inc: Incident) -> tuple[str, list[Block]]:
    where = f"<#{inc.channel_id}>" if inc.channel_id else "_(channel not created yet)_"
    text = f":rotating_light: Incident #{inc.id} declared: {headline(config, inc)}"
    lines = [
        f":rotating_light: *Incident #{inc.id} declared:* {headline(config, inc)}",
        f"Service: {escape(inc.service or '—')} · Commander: {mention(inc.commander)} · War room: {where}",
    ]
    if inc.description:
        lines.append(f">{escape(inc.description[:500])}")
    return text, [section("\n".join(lines)), context("Status updates are posted in this thread.")]


def update_post(
    config: ChatopsConfig, inc: Incident, *, author: str, text: str, public: bool
) -> tuple[str, list[Block]]:
    tag = " · :globe_with_meridians: public" if public else ""
    title = f":memo: *Update on incident #{inc.id}* — {inc.status.capitalize()} · {inc.severity}{tag}"
    body = f"{title}\n{escape(text)}"
    return (
        f"Update on incident #{inc.id}: {escape(text[:150])}",  # the notification: escaped too
        [section(body), context(f"Posted by {mention(author)}")],
    )


def reminder(config: ChatopsConfig, inc: Incident, now: datetime) -> tuple[str, list[Block]]:
    since = inc.last_update_at or inc.declared_at
    what = "the last one" if inc.last_update_at else "the declaration"
    text = (
        f":alarm_clock: {mention(inc.commander)} a status update for incident #{inc.id} "
        f"({headline(config, inc)}) is due: {what} was {duration(now - since)} ago."
    )
    value = str(inc.id)
    buttons = [_button("Post update", ActionId.INCIDENT_UPDATE, value, style="primary")]
    buttons += [_button(f"Snooze {m}m", action, f"{inc.id}:{m}") for m, action in SNOOZES]
    return text, [section(text), ActionsBlock(block_id=f"incident-{inc.id}-reminder", elements=buttons)]


def escalation(
    config: ChatopsConfig,
    inc: Incident,
    now: datetime,
    *,
    steps: Sequence[tuple[int, str, list[str]]],
    total: int,
    notes: Sequence[str] = (),
) -> tuple[str, list[Block]]:
    """`steps`: (step number, contacts key or id, the ids it names) for each step now due."""
    lines = []
    for number, who, entities in steps:
        named = " ".join(mention(e) for e in entities) or f"_no contacts configured under `contacts.{who}`_"
        lines.append(f"• Step {number}/{total} ({escape(who)}): {named}")
    text = (
        f":rotating_light: Escalation: incident #{inc.id} ({headline(config, inc)}) has not been "
        f"acknowledged for {duration(now - inc.declared_at)}."
    )
    blocks: list[Block] = [section(text + "\n" + "\n".join(lines))]
    if notes:
        blocks.append(context("\n".join(escape(n) for n in notes)))
    blocks.append(
        ActionsBlock(
            block_id=f"incident-{inc.id}-escalation",
            elements=[_button("Acknowledge", ActionId.INCIDENT_ACK, str(inc.id), style="primary")],
        )
    )
    return text, blocks


def checklist_blocks(text: str) -> list[Block]:
    # Checklists are ~1,500 characters; split on sections if a custom one grows past a block.
    parts: list[Block] = []
    chunk = ""
    for para in text.split("\n\n"):
        if len(chunk) + len(para) + 2 > 2900 and chunk:
            parts.append(section(chunk))
            chunk = ""
        chunk = f"{chunk}\n\n{para}" if chunk else para
    if chunk:
        parts.append(section(chunk))
    return parts
