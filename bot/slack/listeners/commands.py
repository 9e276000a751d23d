"""Slash commands: ack at once, then route in the worker thread Bolt gives the listener."""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.commands.router import dispatch, resolve
from bot.executor import Request
from bot.runtime import Runtime
from bot.slack.responder import SlackResponder
from bot.slack.response_url import ResponseUrl
from handlers.redact import redact

log = logging.getLogger(__name__)


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
        url = command.get("response_url") or ""
        later = ResponseUrl(url, runtime.response_pool) if url else respond
        answer: Any = later
        try:
            route = resolve(runtime, request)
            if not route.instant:
                ack()  # at once: what follows may call a cluster, a database or Slack
            answer = AnswerInAck(ack, later) if route.instant else later
            responder = SlackResponder(
                respond=answer,
                client=client,
                channel_id=request.channel_id,
                user_id=request.user_id,
                guard=runtime.guard,
            )
            dispatch(runtime, request, responder, {"trigger_id": command.get("trigger_id", "")}, route)
        except Exception as exc:
            # Never raise into Bolt: an unacked or failed request is a 500, and Slack sends the
            # command again (it ran twice and the user saw nothing). Say what happened instead,
            # in the ack itself when there has been none yet.
            if getattr(ack, "response", None) is None and not isinstance(answer, AnswerInAck):
                answer = AnswerInAck(ack, later)
            _failed(request, answer, client, exc)
        finally:
            if isinstance(answer, AnswerInAck):
                answer.finish()

    return on_command


def _failed(request: Request, answer: Any, client: Any, exc: Exception) -> None:
    log.error(
        "%s failed inside the bot: %s",
        request.command,
        redact(f"{type(exc).__name__}: {exc}")[:500],
        extra={"request_id": request.request_id},
    )
    if isinstance(exc, SQLAlchemyError):
        why = "the state store is unreachable (the bot's database did not answer)"
    else:
        why = f"the bot hit an internal error ({type(exc).__name__})"
    text = (
        f":warning: `{request.command} {request.text}`"[:200]
        + f" could not be completed: {why}. Try again in a moment; "
        f"if it persists, tell the bot's operators (request {request.request_id})."
    )
    responder = SlackResponder(
        respond=answer, client=client, channel_id=request.channel_id, user_id=request.user_id
    )
    try:
        responder.say(text, ephemeral=True)
    except Exception:
        log.exception("could not tell %s that %s failed", request.user_id, request.command)
