"""Buttons on an alert group's message: Declare incident, Run runbook, Silence 1h/4h, Acknowledge.

Silences go through the guard like `/alerts silence` (preview, Confirm, audit); Run runbook runs
the diagnostics with the clicker's access; Declare declares as the clicker (the group's incident,
claimed once across replicas).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Press:
    """One click on a known alert group's button: who, where, and on which group."""

    runtime: Runtime
    user: str
    channel: str
    responder: SlackResponder
    gid: int
    group: astore.Group


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
    press = _Press(runtime, user, channel, responder, gid, group)
    if action in render.SILENCE_FOR:
        _silence(press, render.SILENCE_FOR[action])
        return
    _BUTTONS[action](press)


def _silence(press: _Press, duration: str) -> None:
    """As `/alerts silence`: through the guard (preview, Confirm, audit)."""
    words = silence_words(press.group, duration)
    slash = press.runtime.config.command_name("alerts")
    request = Request(user_id=press.user, command=slash, text=silence_text(words), channel_id=press.channel)
    show(silence_request(press.runtime, request, words), press.responder)


def _ack(press: _Press) -> None:
    started = time.monotonic()
    text = acknowledge(press.runtime, press.gid, press.user)
    ok = text.startswith(":white_check_mark:")
    _audit(press.runtime, press.user, press.channel, "ack", f"ack group {press.gid}", ok, text, started)
    if not ok:
        press.responder.error(text)


def _alerts(press: _Press) -> tuple[Pipeline, list[astore.Occurrence], dict[str, str]]:
    """The alert pipeline, the group's alerts and the labels they share."""
    pipeline = press.runtime.find(Pipeline)
    assert isinstance(pipeline, Pipeline)
    alerts = astore.occurrences(press.runtime.store.engine, press.gid)
    return pipeline, alerts, routing.labels_of(press.group, alerts)


def _declare(press: _Press) -> None:
    """Declare as the clicker: the group's incident, claimed once across replicas."""
    runtime, group, gid, responder = press.runtime, press.group, press.gid, press.responder
    pipeline, alerts, labels = _alerts(press)
    firing = [a for a in alerts if a.firing]
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
    inc = pipeline.ensure_incident(group, severity, labels, firing, user=press.user)
    what = f"declare from group {gid}"
    if inc is None:
        responder.error(
            "An incident for this alert group is being declared already (or could not be): "
            "see the incidents channel."
        )
        _audit(runtime, press.user, press.channel, "declare", what, False, "not declared", started)
        return
    _audit(runtime, press.user, press.channel, "declare", what, True, f"incident #{inc.id}", started)
    pipeline.submit([gid])


def _run(press: _Press) -> None:
    """Run runbook: the diagnostics with the clicker's access, where the group's work goes."""
    from bot.runbooks.commands import catalog_of, run_runbook
    from bot.runbooks.params import ParamError, bind

    runtime, responder = press.runtime, press.responder
    _pipeline, alerts, labels = _alerts(press)
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
    thread = press.group.message_ts if press.group.channel_id == press.channel else ""
    run_runbook(
        runtime,
        rb,
        values,
        user_id=press.user,
        channel=press.channel,
        respond=responder,
        thread_ts=thread or "",
    )


# What each button other than the silences does (those are `render.SILENCE_FOR`).
_BUTTONS: dict[render.AlertAction, Callable[[_Press], None]] = {
    render.AlertAction.ACK: _ack,
    render.AlertAction.DECLARE: _declare,
    render.AlertAction.RUNBOOK: _run,
}


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
