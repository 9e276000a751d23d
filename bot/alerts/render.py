"""Alert groups → Block Kit. Everything that came from a sender is escaped and `verbatim`.

`<!channel>`, `<@U…>` and `<https://…|x>` in a label or annotation are shown as text: `&`,
`<` and `>` are escaped, and verbatim text objects make Slack skip its own parsing (no
auto-links, no channel names, no mentions). The only link is the alert's generatorURL, and
only when it is a plain http(s) URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.alerts.store import Group, Occurrence

TEXT_LIMIT = 3000
SHOWN = 10  # alerts listed in the message; the rest are counted
_SAFE_URL = re.compile(r"^https?://[^\s<>|`]{1,1500}$")


class AlertAction(StrEnum):
    DECLARE = "alerts.declare"
    RUNBOOK = "alerts.runbook"
    SILENCE_1H = "alerts.silence.1h"
    SILENCE_4H = "alerts.silence.4h"
    ACK = "alerts.ack"


SILENCE_FOR = {AlertAction.SILENCE_1H: "1h", AlertAction.SILENCE_4H: "4h"}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """A label value in a code span (its backticks replaced, so it cannot end the span)."""
    return "`" + escape(text.replace("`", "'"))[:200] + "`"


def md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text[:TEXT_LIMIT], verbatim=True)


def hhmm(at: datetime) -> str:
    return (
        at.strftime("%H:%M UTC")
        if at.date() == datetime.now(at.tzinfo).date()
        else at.strftime("%Y-%m-%d %H:%M UTC")
    )


def ago(now: datetime, at: datetime) -> str:
    minutes = max(0, int((now - at).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes}m"
    hours, mins = divmod(minutes, 60)
    return f"{hours}h {mins:02d}m" if hours < 48 else f"{hours // 24}d"


def title_of(group: Group, alerts: Sequence[Occurrence]) -> str:
    labels = group.common_labels or (alerts[0].labels if alerts else group.labels)
    name = labels.get("alertname") or group.labels.get("alertname") or "alerts"
    service = labels.get("service")
    return f"{name} — {service}" if service else name


def _alert_lines(a: Occurrence, now: datetime) -> str:
    icon = ":red_circle:" if a.firing else ":large_green_circle:"
    head = f"{icon} *{escape(a.labels.get('alertname', 'alert'))[:200]}*"
    facts = [f"{k} {code(a.labels[k])}" for k in ("severity", "service", "instance") if a.labels.get(k)]
    lines = [" · ".join([head, *facts])]
    text = a.annotations.get("summary") or a.annotations.get("description") or a.annotations.get("message")
    if text:
        lines.append(escape(" ".join(text.split()))[:600])
    if a.firing:
        when = f"since {hhmm(a.starts_at)} ({ago(now, a.starts_at)})"
    else:
        ended = a.ends_at or a.received_at
        when = f"resolved {hhmm(ended)} after {ago(ended, a.starts_at)}"
    if _SAFE_URL.match(a.generator_url):
        when += f" · <{a.generator_url.replace('&', '&amp;')}|source>"
    lines.append(when)
    return "\n".join(lines)


def _button(
    text: str, action: AlertAction, value: dict[str, object], style: str | None = None
) -> ButtonElement:
    return ButtonElement(
        text=text, action_id=action.value, value=json.dumps(value, separators=(",", ":")), style=style
    )


def group_message(
    group: Group,
    alerts: Sequence[Occurrence],
    now: datetime,
    *,
    incident: tuple[int, str | None] | None = None,
    offer_declare: bool = False,
    runbook: str | None = None,
    can_silence: bool = False,
) -> tuple[str, list[Block]]:
    """(fallback text, blocks) of a group's one message."""
    firing = [a for a in alerts if a.firing]
    title = title_of(group, alerts)
    if firing:
        head = f"FIRING ({len(firing)}) {title}"
        state = f":rotating_light: {len(firing)} firing" + (
            f", {len(alerts) - len(firing)} resolved" if len(alerts) > len(firing) else ""
        )
    else:
        head = f"RESOLVED {title}"
        state = f":white_check_mark: all {len(alerts)} resolved"
    # Plain text is never parsed for mentions, but a header that shows `<!channel>` still reads
    # like one: angle brackets become look-alikes.
    shown = head.replace("<", "‹").replace(">", "›")[:150]
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=shown, emoji=False))]
    lines = [_alert_lines(a, now) for a in alerts[:SHOWN]]
    for line in lines:
        blocks.append(SectionBlock(text=md(line)))
    if len(alerts) > SHOWN:
        blocks.append(ContextBlock(elements=[md(f"… and {len(alerts) - SHOWN} more alerts in this group")]))
    facts = [state]
    if group.labels:
        facts.append("group " + ", ".join(f"{escape(k)}={code(v)}" for k, v in sorted(group.labels.items())))
    if incident is not None:
        inc_id, channel = incident
        facts.append(f"incident #{inc_id}" + (f" in <#{channel}>" if channel else ""))
    if group.acked_by:
        facts.append(f"acknowledged by <@{group.acked_by}>")
    blocks.append(ContextBlock(elements=[md(" · ".join(facts))]))
    buttons: list[ButtonElement] = []
    value: dict[str, object] = {"g": group.id}
    if firing:
        if offer_declare and incident is None:
            buttons.append(_button("Declare incident", AlertAction.DECLARE, value, "danger"))
        if runbook:
            buttons.append(_button(f"Run {runbook}"[:75], AlertAction.RUNBOOK, value))
        if can_silence:
            buttons.append(_button("Silence 1h", AlertAction.SILENCE_1H, {**value, "d": "1h"}))
            buttons.append(_button("Silence 4h", AlertAction.SILENCE_4H, {**value, "d": "4h"}))
        if not group.acked_by:
            buttons.append(_button("Acknowledge", AlertAction.ACK, value, "primary"))
    if buttons:
        blocks.append(ActionsBlock(block_id=f"alert-group-{group.id}", elements=buttons))
    return escape(head), blocks


def incident_note(alerts: Sequence[Occurrence], now: datetime, *, resolved: bool) -> str:
    """A line for the incident channel when alerts of its group fire or resolve."""
    verb = ":large_green_circle: Resolved" if resolved else ":red_circle: Firing"
    parts = [_alert_lines(a, now).split("\n", 1)[0].split(" ", 1)[1] for a in alerts[:SHOWN]]
    more = f" and {len(alerts) - SHOWN} more" if len(alerts) > SHOWN else ""
    return f"{verb}: " + "; ".join(parts) + more


def decode(value: str) -> tuple[int, str]:
    """(group id, duration) from a button's value."""
    try:
        data = json.loads(value)
        return int(data["g"]), str(data.get("d", ""))
    except (ValueError, KeyError, TypeError):
        raise ValueError("this button's value is not an alert group (was the message edited?)") from None
