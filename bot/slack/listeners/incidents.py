"""Incident buttons, modals and events.

Buttons (value = the incident number): Acknowledge, Post update (opens a form), Run
runbook, Resolve (opens a form), Snooze 15/30/60. Modals: declare, update, resolve; what is
wrong is shown in the form (`response_action="errors"`). Events: a message pinned, or
marked with :pushpin:, in an incident channel goes on the timeline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, Option, StaticSelectElement

from bot.commands.responder import Responder
from bot.commands.router import dispatch
from bot.executor import Request
from bot.incidents import lifecycle, records, views
from bot.incidents.commands import report_declared
from bot.incidents.desk import Desk
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

SNOOZE_ACTIONS = (
    ActionId.INCIDENT_SNOOZE,
    ActionId.INCIDENT_SNOOZE_15,
    ActionId.INCIDENT_SNOOZE_30,
    ActionId.INCIDENT_SNOOZE_60,
)
PIN_REACTIONS = ("pushpin", "round_pushpin")


class ChannelResponder:
    """A `Responder` for modal submissions (no response_url): ephemeral in the channel the
    form was opened from, or a direct message when the bot cannot post there."""

    def __init__(self, client: Any, *, channel: str, user: str) -> None:
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
                    self.client,
                    "chat.postEphemeral",
                    channel=self.channel,
                    user=self.user,
                    text=text,
                    blocks=payload,
                )
            else:
                call(self.client, "chat.postMessage", channel=self.channel, text=text, blocks=payload)
            return
        except SlackStepError as exc:
            log.info("answering %s in %s failed (%s); sending a direct message", self.user, self.channel, exc)
        try:
            call(self.client, "chat.postMessage", channel=self.user, text=text, blocks=payload)
        except SlackStepError as exc:
            log.error("could not answer %s at all: %s", self.user, exc)

    def result(self, result: Result, *, heading: str = "") -> None:
        rendered = result_blocks(result)
        self.say(rendered.text or heading, blocks=rendered.blocks)

    def error(self, text: str) -> None:
        text = redact(text)
        self.say(text if text.startswith(":") else f":warning: {text}", ephemeral=True)


def _user(body: Mapping[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


def _channel(body: Mapping[str, Any]) -> str:
    return str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")


def _audit(runtime: Runtime, user: str, channel: str, what: str, failure: str = "") -> None:
    record(
        runtime.store.engine,
        request_id=f"{time.time_ns():x}"[-16:],
        user_id=user,
        command=what,
        event=Event.EXECUTE,
        outcome=Outcome.ERROR if failure else Outcome.OK,
        channel_id=channel,
        handler=f"incident.{what.split()[0]}",
        detail=failure,
    )


def _incident_id(value: str) -> int:
    head = value.split(":", 1)[0]
    if not head.isdigit():
        raise IncidentError(f"This button does not name an incident ({value!r}).")
    return int(head)


def register(app: Any, runtime: Runtime) -> None:
    def desk() -> Desk:
        return Desk.of(runtime)

    def button(what: str, fn: Callable[[str, str, str, dict[str, Any], Responder], None]) -> Any:
        """A button listener: ack, run `fn(user, channel, value, body, responder)`, report errors."""

        def on_click(
            ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, client: Any
        ) -> None:
            ack()
            user, channel = _user(body), _channel(body)
            value = str(action.get("value") or (action.get("selected_option") or {}).get("value") or "")
            responder = SlackResponder(respond=respond, client=client, channel_id=channel, user_id=user)
            try:
                fn(user, channel, value, body, responder)
                _audit(runtime, user, channel, f"{what} {value}")
            except IncidentError as exc:
                _audit(runtime, user, channel, f"{what} {value}", str(exc))
                responder.error(str(exc))

        return on_click

    def warn(responder: Responder, warnings: list[str]) -> None:
        if warnings:
            responder.error("\n".join(f"Slack: {w}" for w in warnings))

    def on_ack(user: str, _channel: str, value: str, _body: dict[str, Any], responder: Responder) -> None:
        warn(responder, lifecycle.acknowledge(desk(), _incident_id(value), user=user).warnings)

    def on_snooze(user: str, _channel: str, value: str, _body: dict[str, Any], responder: Responder) -> None:
        _id, _, minutes = value.partition(":")
        out = lifecycle.snooze(desk(), _incident_id(value), user=user, minutes=int(minutes or 30))
        warn(responder, out.warnings)

    def open_form(body: dict[str, Any], view: Any) -> None:
        try:
            call(desk().slack, "views.open", trigger_id=body.get("trigger_id", ""), view=view.to_dict())
        except SlackStepError as exc:
            raise IncidentError(f"Could not open the form: {exc}") from None

    def on_update(_user: str, channel: str, value: str, body: dict[str, Any], _r: Responder) -> None:
        inc = _open_incident(_incident_id(value))
        open_form(body, views.update(desk().config, inc, metadata={"channel": channel}))

    def on_resolve(_user: str, channel: str, value: str, body: dict[str, Any], _r: Responder) -> None:
        inc = _open_incident(_incident_id(value))
        open_form(body, views.resolve(desk().config, inc, metadata={"channel": channel}))

    def _open_incident(incident_id: int) -> records.Incident:
        inc = records.require(desk().engine, incident_id)
        if not inc.is_open:
            raise IncidentError(f"Incident #{inc.id} is already resolved.")
        return inc

    def run_runbook(
        user: str, channel: str, incident: records.Incident, name: str, responder: Responder
    ) -> None:
        slash = desk().command("runbook")
        target = incident.channel_id or channel
        dispatch(
            runtime, Request(user_id=user, command=slash, text=f"run {name}", channel_id=target), responder
        )

    def on_runbook(user: str, channel: str, value: str, _body: dict[str, Any], responder: Responder) -> None:
        inc = _open_incident(_incident_id(value))
        svc = desk().config.services.get(inc.service or "")
        names = list(svc.runbooks) if svc else []
        if not names:
            where = f"services.{inc.service}.runbooks" if inc.service else "a service on the incident"
            raise IncidentError(
                f"No runbooks configured for incident #{inc.id} ({where} in chatops.yaml). "
                f"`{desk().command('runbook')} list` shows them all."
            )
        if len(names) == 1:
            run_runbook(user, channel, inc, names[0], responder)
            return
        picker = StaticSelectElement(
            action_id=ActionId.INCIDENT_RUNBOOK_PICK.value,
            placeholder="Pick a runbook",
            options=[Option(value=f"{inc.id}:{n}"[:150], label=n[:75]) for n in names[:100]],
        )
        text = f"Which runbook for incident #{inc.id}?"
        responder.say(text, blocks=[section(text), ActionsBlock(elements=[picker])], ephemeral=True)

    def on_runbook_pick(
        user: str, channel: str, value: str, _body: dict[str, Any], responder: Responder
    ) -> None:
        inc = _open_incident(_incident_id(value))
        run_runbook(user, channel, inc, value.partition(":")[2], responder)

    app.action(ActionId.INCIDENT_ACK.value)(button("ack", on_ack))
    app.action(ActionId.INCIDENT_UPDATE.value)(button("update-form", on_update))
    app.action(ActionId.INCIDENT_RESOLVE.value)(button("resolve-form", on_resolve))
    app.action(ActionId.INCIDENT_RUNBOOK.value)(button("runbook", on_runbook))
    app.action(ActionId.INCIDENT_RUNBOOK_PICK.value)(button("runbook", on_runbook_pick))
    for snooze_action in SNOOZE_ACTIONS:
        app.action(snooze_action.value)(button("snooze", on_snooze))

    # -- modals --------------------------------------------------------------------------

    def on_declare(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        d = desk()
        vals, meta = views.values(view), views.metadata(view)
        title = " ".join(str(vals.get(views.TITLE) or "").split())
        errors: dict[str, str] = {}
        if vals.get(views.SEVERITY) not in d.config.severities:
            errors[views.SEVERITY] = "Pick a severity."
        if len(title) < 3:
            errors[views.TITLE] = "Say what is broken, for whom (at least 3 characters)."
        elif len(title) > lifecycle.TITLE_MAX:
            errors[views.TITLE] = f"Keep it under {lifecycle.TITLE_MAX} characters."
        service = vals.get(views.SERVICE)
        if service and service not in d.config.services:
            errors[views.SERVICE] = "That service is no longer configured."
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        user = _user(body)
        responder = ChannelResponder(client, channel=str(meta.get("channel") or ""), user=user)
        try:
            out = lifecycle.declare(
                d,
                user=user,
                title=title,
                severity=str(vals[views.SEVERITY]),
                service=service or None,
                description=str(vals.get(views.DESCRIPTION) or ""),
            )
        except IncidentError as exc:
            responder.error(str(exc))
            return
        _audit(runtime, user, str(meta.get("channel") or ""), f"declare #{out.incident.id}")
        report_declared(responder, d, out)

    def change_submitted(
        body: dict[str, Any],
        meta: Mapping[str, Any],
        client: Any,
        incident: records.Incident,
        what: str,
        change: Callable[[str], lifecycle.Outcome],
    ) -> None:
        """After the form was accepted: make the change as its submitter, audit it, pass on warnings."""
        user = _user(body)
        responder = ChannelResponder(client, channel=str(meta.get("channel") or ""), user=user)
        try:
            out = change(user)
        except IncidentError as exc:
            responder.error(str(exc))
            return
        _audit(runtime, user, incident.channel_id or "", f"{what} #{incident.id}")
        warn(responder, out.warnings)

    def on_update_submit(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        vals, meta = views.values(view), views.metadata(view)
        text = str(vals.get(views.TEXT) or "").strip()
        incident = records.get(desk().engine, int(meta.get("incident") or 0))
        if incident is None or not incident.is_open:
            ack(
                response_action="errors",
                errors={views.TEXT: "This incident is resolved (or gone) meanwhile."},
            )
            return
        if not text:
            ack(response_action="errors", errors={views.TEXT: "Say what changed and what is next."})
            return
        ack()
        change_submitted(
            body,
            meta,
            client,
            incident,
            "update",
            lambda user: lifecycle.post_update(
                desk(),
                incident.id,
                user=user,
                text=text,
                public="public" in (vals.get(views.PUBLIC) or []),
                status=vals.get(views.STATUS) or None,
            ),
        )

    def on_resolve_submit(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        vals, meta = views.values(view), views.metadata(view)
        incident = records.get(desk().engine, int(meta.get("incident") or 0))
        if incident is None or not incident.is_open:
            ack(response_action="errors", errors={views.SUMMARY: "This incident is already resolved."})
            return
        ack()
        summary = str(vals.get(views.SUMMARY) or "")
        change_submitted(
            body,
            meta,
            client,
            incident,
            "resolve",
            lambda user: lifecycle.resolve(desk(), incident.id, user=user, summary=summary),
        )

    app.view(CallbackId.INCIDENT_DECLARE.value)(on_declare)
    app.view(CallbackId.INCIDENT_UPDATE.value)(on_update_submit)
    app.view(CallbackId.INCIDENT_RESOLVE.value)(on_resolve_submit)

    # -- events: pins and :pushpin: ------------------------------------------------------

    # Every pin_added and reaction_added is answered (an unhandled event gets a 404, which
    # Slack retries and, if most events fail, stops sending); only pins and :pushpin: marks
    # in incident channels are kept.
    def on_pin(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        message = item.get("message") or {}
        lifecycle.record_pin(
            desk(),
            channel=str(event.get("channel_id") or item.get("channel") or ""),
            user=str(event.get("user") or ""),
            ts=str(message.get("ts") or item.get("ts") or ""),
            text=str(message.get("text") or ""),
            how="pinned",
        )

    def on_reaction(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if event.get("reaction") not in PIN_REACTIONS or item.get("type") != "message":
            return
        lifecycle.record_pin(
            desk(),
            channel=str(item.get("channel") or ""),
            user=str(event.get("user") or ""),
            ts=str(item.get("ts") or ""),
            text=None,
            how="marked with :pushpin:",
        )

    app.event("pin_added")(on_pin)
    app.event("reaction_added")(on_reaction)
