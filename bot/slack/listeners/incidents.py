"""Incident buttons, modals and events.

Buttons (value = the incident number): Acknowledge, Post update (opens a form), Run
runbook, Resolve (opens a form), Snooze 15/30/60. Modals: declare, update, resolve; what is
wrong is shown in the form (`response_action="errors"`). Events: a message pinned, or
marked with :pushpin:, in an incident channel goes on the timeline.

Every listener is a module-level function whose first argument is `ListenerDeps`;
`register` binds it with `functools.partial` (Bolt injects the rest by parameter name), so
a test can call any one of them with a real `Ack` and a WebClient on the fake Slack API.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.models.blocks import ActionsBlock, Block, Option, StaticSelectElement
from slack_sdk.models.views import View

from bot.commands.responder import Responder, preview_text
from bot.commands.router import dispatch
from bot.executor import NeedsConfirmation, Request
from bot.incidents import lifecycle, records, views
from bot.incidents.deps import IncidentDeps
from bot.incidents.permits import permit
from bot.incidents.records import IncidentError
from bot.incidents.slackapi import SlackStepError, call
from bot.render.slack import result_blocks, section
from bot.runtime import Runtime
from bot.slack.ids import ActionId, CallbackId
from bot.slack.responder import SlackResponder
from bot.store.audit import Event, Outcome, record
from handlers.redact import redact
from handlers.results import Result

log = logging.getLogger(__name__)

# A Slack payload (body, action, view, event) as Bolt passes it: JSON objects.
Payload = dict[str, Any]

SNOOZE_ACTIONS = (
    ActionId.INCIDENT_SNOOZE,
    ActionId.INCIDENT_SNOOZE_15,
    ActionId.INCIDENT_SNOOZE_30,
    ActionId.INCIDENT_SNOOZE_60,
)
PIN_REACTIONS = ("pushpin", "round_pushpin")


@dataclass(frozen=True)
class ListenerDeps:
    """What the incident listeners work with."""

    runtime: Runtime

    @property
    def desk(self) -> IncidentDeps:
        return IncidentDeps.of(self.runtime)

    def audit(self, user: str, channel: str, what: str, failure: str = "") -> None:
        record(
            self.runtime.store.engine,
            request_id=f"{time.time_ns():x}"[-16:],
            user_id=user,
            command=what,
            event=Event.EXECUTE,
            outcome=Outcome.ERROR if failure else Outcome.OK,
            channel_id=channel,
            handler=f"incident.{what.split()[0]}",
            detail=failure,
        )


class ChannelResponder:
    """A `Responder` for modal submissions (no response_url): ephemeral in the channel the
    form was opened from, or a direct message when the bot cannot post there."""

    def __init__(self, client: WebClient, *, channel: str, user: str) -> None:
        self.client = client
        self.channel = channel
        self.user = user

    def say(self, text: str, *, blocks: list[Block] | None = None, ephemeral: bool = False) -> None:
        payload = [b.to_dict() for b in blocks] if blocks else [section(text).to_dict()]
        try:
            if not self.channel:
                raise SlackStepError("chat.postEphemeral", "no channel")
            if ephemeral:
                call(
                    self.client.chat_postEphemeral,
                    channel=self.channel,
                    user=self.user,
                    text=text,
                    blocks=payload,
                )
            else:
                call(self.client.chat_postMessage, channel=self.channel, text=text, blocks=payload)
            return
        except SlackStepError as exc:
            log.info("answering %s in %s failed (%s); sending a direct message", self.user, self.channel, exc)
        try:
            call(self.client.chat_postMessage, channel=self.user, text=text, blocks=payload)
        except SlackStepError as exc:
            log.error("could not answer %s at all: %s", self.user, exc)

    def result(self, result: Result, *, heading: str = "") -> None:
        rendered = result_blocks(result)
        self.say(rendered.text or heading, blocks=rendered.blocks)

    def error(self, text: str) -> None:
        text = redact(text)
        self.say(text if text.startswith(":") else f":warning: {text}", ephemeral=True)

    def ask_confirmation(self, outcome: NeedsConfirmation) -> None:
        # No response_url to carry buttons back to: say what would change; nothing runs.
        self.say(preview_text(outcome), ephemeral=True)


def _user(body: Mapping[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


def _channel(body: Mapping[str, Any]) -> str:
    return str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")


def _incident_id(value: str) -> int:
    head = value.split(":", 1)[0]
    if not head.isdigit():
        raise IncidentError(f"This button does not name an incident ({value!r}).")
    return int(head)


def _warn(responder: Responder, warnings: list[str]) -> None:
    if warnings:
        responder.error("\n".join(f"Slack: {w}" for w in warnings))


def _open_incident(deps: ListenerDeps, incident_id: int) -> records.Incident:
    inc = records.require(deps.desk.engine, incident_id)
    if not inc.is_open:
        raise IncidentError(f"Incident #{inc.id} is already resolved.")
    return inc


# -- buttons -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Press:
    """One button press: who, where, the button's value, and the trigger for a form."""

    user: str
    channel: str
    value: str
    trigger_id: str


ButtonAction = Callable[[ListenerDeps, Press, Responder], None]


def on_button(
    deps: ListenerDeps,
    what: str,
    act: ButtonAction,
    ack: Ack,
    body: Payload,
    action: Payload,
    respond: Respond,
    client: WebClient,
) -> None:
    """Any incident button: ack, run `act`, audit it; an IncidentError becomes the answer."""
    ack()
    user, channel = _user(body), _channel(body)
    value = str(action.get("value") or (action.get("selected_option") or {}).get("value") or "")
    press = Press(user, channel, value, str(body.get("trigger_id") or ""))
    responder = SlackResponder(respond=respond, client=client, channel_id=channel, user_id=user)
    try:
        act(deps, press, responder)
        deps.audit(user, channel, f"{what} {value}")
    except IncidentError as exc:
        deps.audit(user, channel, f"{what} {value}", str(exc))
        responder.error(str(exc))


def acknowledge(deps: ListenerDeps, press: Press, responder: Responder) -> None:
    permit(deps.runtime, press.user, "incident.ack")
    _warn(responder, lifecycle.acknowledge(deps.desk, _incident_id(press.value), user=press.user).warnings)


def snooze(deps: ListenerDeps, press: Press, responder: Responder) -> None:
    _id, _, minutes = press.value.partition(":")
    permit(deps.runtime, press.user, "incident.snooze")
    out = lifecycle.snooze(deps.desk, _incident_id(press.value), user=press.user, minutes=int(minutes or 30))
    _warn(responder, out.warnings)


def _open_form(deps: ListenerDeps, press: Press, view: View) -> None:
    try:
        call(deps.desk.web.views_open, trigger_id=press.trigger_id, view=view.to_dict())
    except SlackStepError as exc:
        raise IncidentError(f"Could not open the form: {exc}") from None


def open_update_form(deps: ListenerDeps, press: Press, _responder: Responder) -> None:
    inc = _open_incident(deps, _incident_id(press.value))
    permit(deps.runtime, press.user, "incident.update", incident=inc)
    _open_form(deps, press, views.update(deps.desk.config, inc, metadata={"channel": press.channel}))


def open_resolve_form(deps: ListenerDeps, press: Press, _responder: Responder) -> None:
    inc = _open_incident(deps, _incident_id(press.value))
    permit(deps.runtime, press.user, "incident.resolve", incident=inc)
    _open_form(deps, press, views.resolve(deps.desk.config, inc, metadata={"channel": press.channel}))


def _run_runbook(
    deps: ListenerDeps, press: Press, incident: records.Incident, name: str, responder: Responder
) -> None:
    slash = deps.desk.command("runbook")
    target = incident.channel_id or press.channel
    request = Request(user_id=press.user, command=slash, text=f"run {name}", channel_id=target)
    dispatch(deps.runtime, request, responder)


def offer_runbooks(deps: ListenerDeps, press: Press, responder: Responder) -> None:
    """Run the incident's service's runbook, or ask which one when it has several."""
    inc = _open_incident(deps, _incident_id(press.value))
    svc = deps.desk.config.services.get(inc.service or "")
    names = list(svc.runbooks) if svc else []
    if not names:
        where = f"services.{inc.service}.runbooks" if inc.service else "a service on the incident"
        raise IncidentError(
            f"No runbooks configured for incident #{inc.id} ({where} in chatops.yaml). "
            f"`{deps.desk.command('runbook')} list` shows them all."
        )
    if len(names) == 1:
        _run_runbook(deps, press, inc, names[0], responder)
        return
    picker = StaticSelectElement(
        action_id=ActionId.INCIDENT_RUNBOOK_PICK.value,
        placeholder="Pick a runbook",
        options=[Option(value=f"{inc.id}:{n}"[:150], label=n[:75]) for n in names[:100]],
    )
    text = f"Which runbook for incident #{inc.id}?"
    responder.say(text, blocks=[section(text), ActionsBlock(elements=[picker])], ephemeral=True)


def run_picked_runbook(deps: ListenerDeps, press: Press, responder: Responder) -> None:
    inc = _open_incident(deps, _incident_id(press.value))
    _run_runbook(deps, press, inc, press.value.partition(":")[2], responder)


BUTTONS: tuple[tuple[ActionId, str, ButtonAction], ...] = (
    (ActionId.INCIDENT_ACK, "ack", acknowledge),
    (ActionId.INCIDENT_UPDATE, "update-form", open_update_form),
    (ActionId.INCIDENT_RESOLVE, "resolve-form", open_resolve_form),
    (ActionId.INCIDENT_RUNBOOK, "runbook", offer_runbooks),
    (ActionId.INCIDENT_RUNBOOK_PICK, "runbook", run_picked_runbook),
    *((action_id, "snooze", snooze) for action_id in SNOOZE_ACTIONS),
)


# -- modals --------------------------------------------------------------------------------


def _change_submitted(
    deps: ListenerDeps,
    body: Payload,
    meta: Mapping[str, Any],
    client: WebClient,
    incident: records.Incident,
    what: str,
    change: Callable[[str], lifecycle.IncidentChange],
) -> None:
    """After the form was accepted: make the change as its submitter, audit it, pass on warnings."""
    user = _user(body)
    responder = ChannelResponder(client, channel=str(meta.get("channel") or ""), user=user)
    try:
        out = change(user)
    except IncidentError as exc:
        responder.error(str(exc))
        return
    deps.audit(user, incident.channel_id or "", f"{what} #{incident.id}")
    _warn(responder, out.warnings)


def update_submitted(deps: ListenerDeps, ack: Ack, body: Payload, view: Payload, client: WebClient) -> None:
    """The status update form: post the update as its submitter, unless the incident closed."""
    vals, meta = views.values(view), views.metadata(view)
    text = str(vals.get(views.TEXT) or "").strip()
    incident = records.get(deps.desk.engine, int(meta.get("incident") or 0))
    if incident is None or not incident.is_open:
        ack(response_action="errors", errors={views.TEXT: "This incident is resolved (or gone) meanwhile."})
        return
    if not text:
        ack(response_action="errors", errors={views.TEXT: "Say what changed and what is next."})
        return
    ack()

    public = "public" in (vals.get(views.PUBLIC) or [])

    def post(user: str) -> lifecycle.IncidentChange:
        # Who may: checked as the submitter, whatever the form was opened by.
        permit(
            deps.runtime, user, "incident.update.public" if public else "incident.update", incident=incident
        )
        return lifecycle.post_update(
            deps.desk,
            incident.id,
            user=user,
            text=text,
            public=public,
            status=vals.get(views.STATUS) or None,
        )

    _change_submitted(deps, body, meta, client, incident, "update", post)


def resolve_submitted(deps: ListenerDeps, ack: Ack, body: Payload, view: Payload, client: WebClient) -> None:
    """The resolve form: resolve the incident as its submitter, unless someone was faster."""
    vals, meta = views.values(view), views.metadata(view)
    incident = records.get(deps.desk.engine, int(meta.get("incident") or 0))
    if incident is None or not incident.is_open:
        ack(response_action="errors", errors={views.SUMMARY: "This incident is already resolved."})
        return
    ack()
    summary = str(vals.get(views.SUMMARY) or "")

    def resolve(user: str) -> lifecycle.IncidentChange:
        permit(deps.runtime, user, "incident.resolve", incident=incident)
        return lifecycle.resolve(deps.desk, incident.id, user=user, summary=summary)

    _change_submitted(deps, body, meta, client, incident, "resolve", resolve)


# -- events: pins and :pushpin: --------------------------------------------------------------
# Every pin_added and reaction_added is answered (an unhandled event gets a 404, which Slack
# retries and, if most events fail, stops sending); only pins and :pushpin: marks in
# incident channels are kept.


def pin_added(deps: ListenerDeps, event: Payload) -> None:
    item = event.get("item") or {}
    if item.get("type") != "message":
        return
    message = item.get("message") or {}
    lifecycle.record_pin(
        deps.desk,
        channel=str(event.get("channel_id") or item.get("channel") or ""),
        user=str(event.get("user") or ""),
        ts=str(message.get("ts") or item.get("ts") or ""),
        text=str(message.get("text") or ""),
        how="pinned",
    )


def reaction_added(deps: ListenerDeps, event: Payload) -> None:
    item = event.get("item") or {}
    if event.get("reaction") not in PIN_REACTIONS or item.get("type") != "message":
        return
    lifecycle.record_pin(
        deps.desk,
        channel=str(item.get("channel") or ""),
        user=str(event.get("user") or ""),
        ts=str(item.get("ts") or ""),
        text=None,
        how="marked with :pushpin:",
    )


def register(app: App, runtime: Runtime) -> None:
    deps = ListenerDeps(runtime)
    for action_id, what, act in BUTTONS:
        app.action(action_id.value)(partial(on_button, deps, what, act))
    app.view(CallbackId.INCIDENT_UPDATE.value)(partial(update_submitted, deps))
    app.view(CallbackId.INCIDENT_RESOLVE.value)(partial(resolve_submitted, deps))
    app.event("pin_added")(partial(pin_added, deps))
    app.event("reaction_added")(partial(reaction_added, deps))
