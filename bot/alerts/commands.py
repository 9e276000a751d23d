"""`/alerts` (list what fires), `/alerts silence MATCHERS --for 2h --comment TEXT`, `/alerts ack`."""

from __future__ import annotations

import shlex
import time
from datetime import datetime

from sqlalchemy import or_

from bot.alerts import render
from bot.alerts import store as astore
from bot.alerts.pipeline import Pipeline
from bot.alerts.tables import alert_groups
from bot.commands.builtin import Call, builtin
from bot.executor import Failed, HandlerOutcome, Request
from bot.runtime import Runtime
from bot.store.audit import Event, Outcome, record
from handlers.alerts.matchers import Matcher


def _audit(c: Call, sub: str, outcome: Outcome, detail: str, started: float) -> None:
    record(
        c.runtime.store.engine,
        request_id=c.request.request_id,
        user_id=c.request.user_id,
        command=f"{c.request.command} {c.request.text}".strip(),
        event=Event.EXECUTE if sub == "ack" else Event.REQUEST,
        outcome=outcome,
        channel_id=c.request.channel_id,
        handler=f"alerts.{sub}",
        detail=detail,
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def firing_text(runtime: Runtime, now: datetime) -> str:
    groups = astore.firing_groups(runtime.store.engine)
    if not groups:
        return ":white_check_mark: No alert is firing."
    lines = [f"*{sum(len(a) for _, a in groups)} firing alert(s) in {len(groups)} group(s):*"]
    for g, alerts in groups[:20]:
        since = g.firing_since or alerts[0].starts_at
        extra = f" · incident #{g.incident_id}" if g.incident_id else ""
        extra += f" · acked by <@{g.acked_by}>" if g.acked_by else ""
        lines.append(
            f"• `{g.id}` *{render.escape(render.title_of(g, alerts))}* — {len(alerts)} firing "
            f"since {render.hhmm(since)} ({render.ago(now, since)}){extra}"
        )
    if len(groups) > 20:
        lines.append(f"… and {len(groups) - 20} more groups")
    return "\n".join(lines)


@builtin("alerts", "list", instant=True, default=True)
def list_(c: Call) -> None:
    """List the firing alerts, grouped as they were posted (the group id is what `ack` takes)."""
    c.respond.say(firing_text(c.runtime, c.runtime.clock()), ephemeral=True)


def acknowledge(runtime: Runtime, group_id: int, user: str) -> str:
    """Mark a firing group acknowledged (its message says by whom); the answer for the user."""
    c = alert_groups.c
    now = runtime.clock()
    g = astore.group(runtime.store.engine, group_id)
    if g is None:
        return f"There is no alert group `{group_id}` (`/alerts` lists the firing ones)."
    if g.firing_since is None:
        return f"Alert group `{group_id}` is not firing."
    won = astore.set_values(
        runtime.store.engine,
        group_id,
        c.firing_since.is_not(None),
        or_(c.acked_by.is_(None)),
        acked_by=user,
        acked_at=now,
        seq=c.seq + 1,
    )
    if not won:
        return f"Alert group `{group_id}` was already acknowledged by <@{g.acked_by}>."
    pipeline = runtime.find(Pipeline)
    if pipeline is not None:
        pipeline.submit([group_id])
    title = render.escape(render.title_of(g, []))
    return f":white_check_mark: You acknowledged alert group `{group_id}` ({title})."


@builtin("alerts", "ack", usage="[GROUP]")
def ack(c: Call) -> None:
    """Acknowledge a firing alert group (the only one, or the GROUP id `/alerts` shows)."""
    started = time.monotonic()
    if c.words:
        if not c.words[0].lstrip("#").isdigit():
            c.respond.error("Usage: /alerts ack [GROUP] (the group id `/alerts` shows)")
            return
        gid = int(c.words[0].lstrip("#"))
    else:
        groups = astore.firing_groups(c.runtime.store.engine)
        if len(groups) != 1:
            msg = (
                "No alert is firing." if not groups else "Several groups are firing: give the id (`/alerts`)."
            )
            c.respond.error(msg)
            return
        gid = groups[0][0].id
    text = acknowledge(c.runtime, gid, c.request.user_id)
    ok = text.startswith(":white_check_mark:")
    _audit(c, "ack", Outcome.OK if ok else Outcome.ERROR, text, started)
    if ok:
        c.respond.say(text)
    else:
        c.respond.error(text)


def silence_request(runtime: Runtime, request: Request, words: list[str]) -> HandlerOutcome:
    """Ask the guard to silence (preview, confirmation, audit), as `/alerts silence` does."""
    spec = runtime.registry.get("alerts.silence")
    if spec is None:
        return Failed("silences are not available (the alerts.silence handler is not loaded)")
    return runtime.executor.handle(request, spec, words)


def silence_words(group: astore.Group, duration: str) -> list[str]:
    labels = group.labels or group.common_labels
    matchers = [str(Matcher(k, "=", v)) for k, v in sorted(labels.items())]
    comment = f"Silenced from Slack (alert group {group.id})"
    return [*matchers, "--for", duration, "--comment", comment]


def silence_text(words: list[str]) -> str:
    return "silence " + " ".join(shlex.quote(w) for w in words)
