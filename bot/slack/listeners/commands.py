"""Slash commands: ack at once, then route in the worker thread Bolt gives the listener."""

from __future__ import annotations

import re
from typing import Any

from bot.commands.router import dispatch, resolve
from bot.executor import Request
from bot.runtime import Runtime
from bot.slack.responder import SlackResponder
from bot.slack.response_url import ResponseUrl


def register(app: Any, runtime: Runtime) -> None:
    for key in runtime.commands():
        app.command(runtime.config.command_name(key))(_listener(runtime))
    # Any other slash command routed here (renamed in Slack but not in chatops.yaml, say)
    # still gets an answer naming the commands the bot has, never silence.
    app.command(re.compile(r"^/.*"))(_listener(runtime))


class AnswerInAck:
    """A `respond` whose first message goes back in the ack itself (Slack shows it at once,
    with no second request); any later message goes through response_url as usual."""

    def __init__(self, ack: Any, respond: Any) -> None:
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


def _listener(runtime: Runtime) -> Any:
    def on_command(ack: Any, command: dict[str, Any], respond: Any, client: Any) -> None:
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
        dispatch(runtime, request, responder, {"trigger_id": command.get("trigger_id", "")}, route)
        if isinstance(answer, AnswerInAck):
            answer.finish()

    return on_command
