"""Slash commands: ack at once, then answer on a pool of their own.

Bolt runs each listener on its listener executor and sends the ack once the listener has
called `ack()`. An answer that goes out later (response_url, a cluster, a database) must not
hold that thread: when every executor thread is busy sending answers, the next command's
ack waits in the executor's queue. So after the ack the rest of the work moves to the
answers pool (`ANSWERS`), and the executor thread is free for the next ack at once.

Nothing here raises into Bolt: an unacked or failed request is a 500, and Slack sends the
command again (it ran twice and the user saw nothing). A failure is told instead, in the
ack itself when there has been none yet.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.commands.router import Route, dispatch, resolve
from bot.executor import Request
from bot.runtime import Runtime
from bot.slack.responder import SlackResponder
from bot.slack.response_url import ResponseUrl
from handlers.redact import redact

log = logging.getLogger(__name__)


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
    url = command.get("response_url") or ""
    later: Callable[..., object] = ResponseUrl(url, runtime.response_pool) if url else respond
    answer: Callable[..., object] = later
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
        trigger = str(command.get("trigger_id") or "")
        if isinstance(answer, AnswerInAck):
            dispatch(runtime, request, responder, trigger, route)
            return
        # The answer goes out on the answers pool: this thread is Bolt's, needed for the next ack.
        runtime.answer_pool.submit(_answer, runtime, request, responder, trigger, route, answer, client)
    except Exception as exc:
        if ack.response is None and not isinstance(answer, AnswerInAck):
            answer = AnswerInAck(ack, later)
        _failed(request, answer, client, exc)
    finally:
        if isinstance(answer, AnswerInAck):
            answer.finish()


def _answer(
    runtime: Runtime,
    request: Request,
    responder: SlackResponder,
    trigger: str,
    route: Route,
    answer: Callable[..., object],
    client: WebClient,
) -> None:
    """On the answers pool: dispatch, and say what happened should anything fail."""
    runtime.acks.wait_quiet()  # acks still being written go first (bot.acks)
    try:
        dispatch(runtime, request, responder, trigger, route)
    except Exception as exc:
        _failed(request, answer, client, exc)


def _failed(request: Request, answer: Callable[..., object], client: WebClient, exc: Exception) -> None:
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
