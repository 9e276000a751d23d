"""Runbook resolution buttons: a click runs that step through the executor and the guard."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.commands.router import show
from bot.runbooks.actions import perform
from bot.runtime import Runtime
from bot.slack.ids import ActionId
from bot.slack.responder import SlackResponder

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    app.action(ActionId.RUNBOOK_STEP.value)(partial(on_step, runtime))


def on_step(
    runtime: Runtime,
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
) -> None:
    """A runbook's resolution button: run that step through the executor (and the guard)."""
    ack()
    user_id = str((body.get("user") or {}).get("id", ""))
    channel_id = str(
        (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id", "")
    )
    responder = SlackResponder(
        respond=respond, client=client, channel_id=channel_id, user_id=user_id, guard=runtime.guard
    )
    try:
        outcome = perform(runtime, value=str(action.get("value", "")), user_id=user_id, channel_id=channel_id)
    except Exception:  # never a stack trace in Slack: say what failed, log the rest
        log.exception("runbook step button failed")
        responder.error("That runbook step failed unexpectedly; the bot's log has the details.")
        return
    show(outcome, responder)
