"""Submitted forms: declare an incident (from anywhere), add a message to a timeline, run a
runbook (App Home). What is wrong is shown in the form (`response_action="errors"`); the
slow work (Slack set-up, the permalink, the runbook) runs after the ack.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.commands.router import dispatch
from bot.executor import Request
from bot.incidents import lifecycle, records
from bot.incidents import views as incident_views
from bot.incidents.commands import report_declared
from bot.incidents.deps import IncidentDeps
from bot.incidents.lifecycle import MessageSource
from bot.incidents.permits import permit
from bot.incidents.records import IncidentError
from bot.incidents.slack_setup import post
from bot.incidents.slackapi import SlackStepError, mention
from bot.runbooks.commands import catalog_of
from bot.runtime import Runtime
from bot.slack import forms
from bot.slack.ids import CallbackId
from bot.slack.listeners.incidents import ChannelResponder, ListenerDeps, Payload
from bot.slack.listeners.shortcuts import permalink
from bot.store.audit import Event, Outcome, record
from bot.store.timeline import events

log = logging.getLogger(__name__)


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _source(meta: dict[str, Any]) -> MessageSource | None:
    raw = meta.get("source")
    if not isinstance(raw, dict) or not raw.get("ts") or not raw.get("channel"):
        return None
    return MessageSource(
        channel=str(raw["channel"]),
        ts=str(raw["ts"]),
        author=str(raw.get("author") or ""),
        text=str(raw.get("text") or ""),
        permalink=str(raw.get("permalink") or ""),
    )


def _audit(runtime: Runtime, user: str, channel: str, what: str, handler: str, failure: str = "") -> None:
    record(
        runtime.store.engine,
        request_id=f"{time.time_ns():x}"[-16:],
        user_id=user,
        command=what,
        event=Event.EXECUTE,
        outcome=Outcome.ERROR if failure else Outcome.OK,
        channel_id=channel,
        handler=handler,
        detail=failure,
    )


def declare_errors(desk: IncidentDeps, vals: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The normalised title and what is wrong with the form, by block id."""
    title = " ".join(str(vals.get(incident_views.TITLE) or "").split())
    errors: dict[str, str] = {}
    if vals.get(incident_views.SEVERITY) not in desk.config.severities:
        errors[incident_views.SEVERITY] = "Pick a severity."
    if len(title) < 3:
        errors[incident_views.TITLE] = "Say what is broken, for whom (at least 3 characters)."
    elif len(title) > lifecycle.TITLE_MAX:
        errors[incident_views.TITLE] = f"Keep it under {lifecycle.TITLE_MAX} characters."
    service = vals.get(incident_views.SERVICE)
    if service and service not in desk.config.services:
        errors[incident_views.SERVICE] = "That service is no longer configured."
    responders = vals.get(incident_views.RESPONDERS) or []
    if len(responders) > incident_views.MAX_RESPONDERS:
        errors[incident_views.RESPONDERS] = f"At most {incident_views.MAX_RESPONDERS} people here."
    return title, errors


def declare_submitted(deps: ListenerDeps, ack: Ack, body: Payload, view: Payload, client: WebClient) -> None:
    """The declare form (from /incident declare, the shortcuts and App Home): refuse it with the
    field errors, or declare with its commander, responders and source message, and report."""
    d = deps.desk
    vals, meta = incident_views.values(view), incident_views.metadata(view)
    title, errors = declare_errors(d, vals)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()
    user = _user(body)
    channel = str(meta.get("channel") or "")
    responder = ChannelResponder(client, channel=channel, user=user)
    src = _source(meta)
    if src is not None and not src.permalink:
        src = MessageSource(**{**src.__dict__, "permalink": permalink(d, src.channel, src.ts)})
    try:
        # Access rules per severity: the form's severity, checked as its submitter.
        permit(deps.runtime, user, "incident.declare", severity=str(vals[incident_views.SEVERITY]))
        out = lifecycle.declare(
            d,
            user=user,
            title=title,
            severity=str(vals[incident_views.SEVERITY]),
            service=vals.get(incident_views.SERVICE) or None,
            description=str(vals.get(incident_views.DESCRIPTION) or ""),
            commander=vals.get(incident_views.COMMANDER) or None,
            responders=list(vals.get(incident_views.RESPONDERS) or []),
            source=src,
        )
    except IncidentError as exc:
        deps.audit(user, channel, "declare (form)", str(exc))
        responder.error(str(exc))
        return
    deps.audit(user, channel, f"declare #{out.incident.id}")
    report_declared(responder, d, out)


def _timeline_error(desk: IncidentDeps, src: MessageSource | None, inc: records.Incident | None) -> str:
    """What keeps the message off the picked incident's timeline; empty when nothing does."""
    if src is None:
        return "This form lost its message; use the shortcut on the message again."
    if inc is None or not inc.is_open:
        return "That incident is resolved (or gone) meanwhile: pick another."
    if any(
        e.data.get("ts") == src.ts and e.data.get("channel") == src.channel
        for e in events(desk.engine, inc.id, kinds=("message",))
    ):
        return f"This message is already on incident #{inc.id}'s timeline."
    return ""


def timeline_add_submitted(
    deps: ListenerDeps, ack: Ack, body: Payload, view: Payload, client: WebClient
) -> None:
    d = deps.desk
    vals, meta = incident_views.values(view), incident_views.metadata(view)
    src = _source(meta)
    picked = str(vals.get(incident_views.INCIDENT) or "")
    inc = records.get(d.engine, int(picked)) if picked.isdigit() else None
    error = _timeline_error(d, src, inc)
    if error or src is None or inc is None:
        ack(response_action="errors", errors={incident_views.INCIDENT: error})
        return
    ack()
    user = _user(body)
    responder = ChannelResponder(client, channel=src.channel, user=user)
    link = permalink(d, src.channel, src.ts)
    try:
        lifecycle.add_message(
            d, inc.id, MessageSource(**{**src.__dict__, "permalink": link}), added_by=user, at=d.clock()
        )
    except IncidentError as exc:  # added by someone else in between
        responder.error(str(exc))
        return
    _audit(deps.runtime, user, src.channel, f"timeline-add #{inc.id} {src.ts}", "incident.timeline")
    shown = f"<{link}|a message>" if link else "a message"
    by = f" by {mention(src.author)}" if src.author else ""
    note = f":pushpin: {mention(user)} added {shown}{by} to the timeline of incident #{inc.id}."
    try:
        post(d, inc, note)
    except SlackStepError as exc:
        log.info("incident #%s: could not say the message was added: %s", inc.id, exc)
    responder.say(
        f":white_check_mark: Added to the timeline of incident #{inc.id} ({inc.title}).", ephemeral=True
    )


def runbook_run_submitted(
    deps: ListenerDeps, ack: Ack, body: Payload, view: Payload, client: WebClient
) -> None:
    vals = forms.values(view)
    loaded = catalog_of(deps.runtime).current()
    errors: dict[str, str] = {}
    if vals[forms.RUNBOOK] not in loaded.runbooks:
        errors[forms.RUNBOOK] = "That runbook is no longer loaded: pick another."
    if not vals[forms.CHANNEL]:
        errors[forms.CHANNEL] = "Pick the channel for the progress message."
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()
    user, channel = _user(body), vals[forms.CHANNEL]
    text = f"run {vals[forms.RUNBOOK]} {vals[forms.PARAMS]}".strip()
    request = Request(user_id=user, command=deps.desk.command("runbook"), text=text, channel_id=channel)
    dispatch(deps.runtime, request, ChannelResponder(client, channel=channel, user=user))


def register(app: App, runtime: Runtime) -> None:
    deps = ListenerDeps(runtime)
    app.view(CallbackId.INCIDENT_DECLARE.value)(partial(declare_submitted, deps))
    app.view(CallbackId.TIMELINE_ADD.value)(partial(timeline_add_submitted, deps))
    app.view(CallbackId.RUNBOOK_RUN.value)(partial(runbook_run_submitted, deps))
