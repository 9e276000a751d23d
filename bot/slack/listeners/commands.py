"""Slash commands: ack at once, then route in the worker thread Bolt gives the listener."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.commands.router import dispatch, resolve
from bot.executor import Request
from bot.runtime import Runtime
from bot.slack.responder import SlackResponder
from bot.slack.response_url import ResponseUrl


def register(app: App, runtime: Runtime) -> None:
    listener = partial(on_command, runtime)
    for key in runtime.commands():
        app.command(runtime.config.command_name(key))(listener)
    # Any other slash command routed here (renamed in Slack but not in chatops.yaml, say)
    # still gets an answer naming the commands the bot has, never silence.
    app.command(re.compile(r"^/.*"))(listener)


class AnswerInAck:
    """A `respond` whose first message goes back in the ack itself (Slack shows it at once,
    with no second request); any later message goes through response_url as usual."""

    def __init__(self, ack: Ack, respond: Callable[..., object]) -> None:
        self.ack = ack
        self.respond = respond
        self.acked = False

    def __call__(self, **message: Any) -> None:
        if self.acked:
            self.respond(**message)
            return
        self.acked = True
        self.ack(
            text=message.get("text", ""),
            blocks=message.get("blocks"),
            response_type=message.get("response_type", "ephemeral"),
        )

    def finish(self) -> None:
        if not self.acked:
            self.acked = True
            self.ack()


def on_command(
    runtime: Runtime, ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient
) -> None:
    """A slash command: ack at once (with the answer when it needs no outside call), then route."""
    request = Request(
        user_id=command.get("user_id", ""),
        command=command.get("command", ""),
        text=command.get("text", "") or "",
        channel_id=command.get("channel_id", ""),
    )
    route = resolve(runtime, request)
    instant = route.instant
    if not instant:
        ack()  # at once: what follows may call a cluster, a database or Slack
    url = command.get("response_url") or ""
    later = ResponseUrl(url, runtime.response_pool) if url else respond
    answer = AnswerInAck(ack, later) if instant else later
    responder = SlackResponder(
        respond=answer,
        client=client,
        channel_id=request.channel_id,
        user_id=request.user_id,
        guard=runtime.guard,
    )
    dispatch(runtime, request, responder, str(command.get("trigger_id") or ""), route)
    if isinstance(answer, AnswerInAck):
        answer.finish()
