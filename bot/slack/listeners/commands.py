"""Slash commands: ack at once, then answer on a pool of their own.

Bolt runs each listener on its listener executor and sends the ack once the listener has
called `ack()`. An answer that goes out later (response_url, a cluster, a database) must not
hold that thread: when every executor thread is busy sending answers, the next command's
ack waits in the executor's queue. So after the ack the rest of the work moves to the
answers pool (`ANSWERS`), and the executor thread is free for the next ack at once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.commands.router import dispatch, resolve
from bot.executor import Request
from bot.runtime import Runtime
from bot.slack.responder import SlackResponder
from bot.slack.response_url import ResponseUrl

log = logging.getLogger(__name__)

ANSWERS = "commands.answers"  # runtime.extras key; bot.web.drain waits for it at shutdown
ANSWER_WORKERS = 32  # answers mostly wait on Slack or a target, not on the CPU


def register(app: App, runtime: Runtime) -> None:
    runtime.extras[ANSWERS] = ThreadPoolExecutor(max_workers=ANSWER_WORKERS, thread_name_prefix="answer")
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
    trigger = str(command.get("trigger_id") or "")
    if isinstance(answer, AnswerInAck):
        dispatch(runtime, request, responder, trigger, route)
        answer.finish()
        return
    # The answer goes out on the answers pool: this thread is Bolt's, needed for the next ack.
    answers: ThreadPoolExecutor = runtime.extras[ANSWERS]
    answers.submit(dispatch, runtime, request, responder, trigger, route).add_done_callback(_logged)


def _logged(done: Future[None]) -> None:
    """dispatch never raises; should it ever, say so (Bolt's error handler no longer sees it)."""
    exc = done.exception()
    if exc is not None:
        log.error("answering a command failed", exc_info=exc)
