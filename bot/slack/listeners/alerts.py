"""Buttons on an alert group's message: Declare incident, Run runbook, Silence 1h/4h, Acknowledge.

Silences go through the guard like `/alerts silence` (preview, Confirm, audit); Run runbook runs
the diagnostics with the clicker's access; Declare declares as the clicker (the group's incident,
claimed once across replicas).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bot.alerts import render, routing
from bot.alerts import store as astore
from bot.alerts.commands import acknowledge, silence_request, silence_text, silence_words
from bot.alerts.pipeline import SEVERITY_FOR_LABEL, Pipeline
from bot.commands.router import show
from bot.executor import Request
from bot.incidents import records
from bot.runtime import Runtime
from bot.slack.responder import SlackResponder
from bot.store.audit import Event, Outcome, record

log = logging.getLogger(__name__)


def register(app: Any, runtime: Runtime) -> None:
    for action in render.AlertAction:
        app.action(action.value)(_listener(runtime, action))


def _listener(runtime: Runtime, kind: render.AlertAction) -> Any:
    def on_click(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, client: Any) -> None:
        ack()
        user = str((body.get("user") or {}).get("id", ""))
        channel = str(
            (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id", "")
        )
        responder = SlackResponder(
            respond=respond, client=client, channel_id=channel, user_id=user, guard=runtime.guard
        )
        try:
            _click(runtime, kind, str(action.get("value", "")), user, channel, responder)
        except Exception:  # never a stack trace in Slack
            log.exception("alert button %s failed", kind.value)
            responder.error("That button failed unexpectedly; the bot's log has the details.")

    return on_click


def _click(
    runtime: Runtime,
    action: render.AlertAction,
    value: str,
    user: str,
    channel: str,
    responder: SlackResponder,
) -> None:
    try:
        gid, _duration = render.decode(value)
    except ValueError as exc:
        responder.error(str(exc))
        return
    group = astore.group(runtime.store.engine, gid)
    if group is None:
        responder.error(f"Alert group {gid} is not known to this bot any more.")
        return
    if action in render.SILENCE_FOR:
        words = silence_words(group, render.SILENCE_FOR[action])
        slash = runtime.config.command_name("alerts")
        request = Request(user_id=user, command=slash, text=silence_text(words), channel_id=channel)
        show(silence_request(runtime, request, words), responder)
        return
    if action is render.AlertAction.ACK:
        started = time.monotonic()
        text = acknowledge(runtime, gid, user)
        ok = text.startswith(":white_check_mark:")
        _audit(runtime, user, channel, "ack", f"ack group {gid}", ok, text, started)
        if not ok:
            responder.error(text)
        return
    pipeline = runtime.extras.get("alerts.pipeline")
    assert isinstance(pipeline, Pipeline)
    alerts = astore.occurrences(runtime.store.engine, gid)
    firing = [a for a in alerts if a.firing]
    labels = routing.labels_of(group, alerts)
    if action is render.AlertAction.DECLARE:
        started = time.monotonic()
        if not firing:
            responder.error("Every alert of this group has resolved: nothing to declare.")
            return
        open_ = records.get(runtime.store.engine, group.incident_id) if group.incident_id else None
        if open_ is not None and open_.is_open:
            where = f" in <#{open_.channel_id}>" if open_.channel_id else ""
            responder.error(f"Incident #{open_.id} is already open for this alert group{where}.")
            return
        _, route = routing.choose(runtime.config, labels)
        severity = route.declare or SEVERITY_FOR_LABEL.get(labels.get("severity", "").lower(), "P2")
        inc = pipeline.ensure_incident(group, severity, labels, firing, user=user)
        if inc is None:
            responder.error(
                "An incident for this alert group is being declared already (or could not be): "
                "see the incidents channel."
            )
            _audit(
                runtime, user, channel, "declare", f"declare from group {gid}", False, "not declared", started
            )
            return
        _audit(
            runtime,
            user,
            channel,
            "declare",
            f"declare from group {gid}",
            True,
            f"incident #{inc.id}",
            started,
        )
        pipeline.submit([gid])
        return
    # Run runbook: the diagnostics with the clicker's access, where the group's work goes.
    from bot.runbooks.commands import catalog_of, run_runbook
    from bot.runbooks.params import ParamError, bind

    _, route = routing.choose(runtime.config, labels)
    name = routing.runbook_name(route, labels, alerts)
    rb = catalog_of(runtime).get(name) if name else None
    if rb is None:
        responder.error(f"No runbook for this alert group ({render.escape(name or 'none named')}).")
        return
    try:
        values = bind(
            rb, routing.runbook_params(list(rb.params), labels, list(runtime.config.services)), runtime.config
        )
    except ParamError as exc:
        responder.error(f"Runbook {rb.name}: {exc}")
        return
    thread = group.message_ts if group.channel_id == channel else ""
    run_runbook(runtime, rb, values, user_id=user, channel=channel, respond=responder, thread_ts=thread or "")


def _audit(
    runtime: Runtime, user: str, channel: str, sub: str, command: str, ok: bool, detail: str, started: float
) -> None:
    record(
        runtime.store.engine,
        request_id=f"alerts-{int(time.time() * 1000)}",
        user_id=user,
        command=f"{runtime.config.command_name('alerts')} {command} (button)",
        event=Event.EXECUTE,
        outcome=Outcome.OK if ok else Outcome.ERROR,
        channel_id=channel,
        handler=f"alerts.{sub}",
        detail=detail,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
