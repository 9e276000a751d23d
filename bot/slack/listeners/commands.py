"""Slash commands: ack at once, then route in the worker thread Bolt gives the listener."""

from __future__ import annotations

import re
from typing import Any

from bot.commands.router import dispatch
from bot.executor import Request
from bot.runtime import Runtime
from bot.slack.responder import SlackResponder


def register(app: Any, runtime: Runtime) -> None:
    for key in runtime.commands():
        app.command(runtime.config.command_name(key))(_listener(runtime))
    # Any other slash command routed here (renamed in Slack but not in chatops.yaml, say)
    # still gets an answer naming the commands the bot has, never silence.
    app.command(re.compile(r"^/.*"))(_listener(runtime))


def _listener(runtime: Runtime) -> Any:
    def on_command(ack: Any, command: dict[str, Any], respond: Any, client: Any) -> None:
        ack()
        request = Request(
            user_id=command.get("user_id", ""),
            command=command.get("command", ""),
            text=command.get("text", "") or "",
            channel_id=command.get("channel_id", ""),
        )
        responder = SlackResponder(
            respond=respond,
            client=client,
            channel_id=request.channel_id,
            user_id=request.user_id,
            guard=runtime.guard,
        )
        dispatch(runtime, request, responder, {"trigger_id": command.get("trigger_id", "")})

    return on_command
