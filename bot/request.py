"""A request and the outcomes of running it: the values the executor, the guard and every
front end share (kept apart from both, so neither needs to import the other)."""

from __future__ import annotations

import secrets
from concurrent.futures import Future
from dataclasses import dataclass, field

from bot.commands.target import Target
from handlers import HandlerSpec
from handlers.params import Params
from handlers.results import Preview, Result


def new_request_id() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Request:
    """Who asked for what, where. `command` is the slash command as typed (`/k8s`)."""

    user_id: str
    command: str
    text: str
    channel_id: str = ""
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True)
class Done:
    spec: HandlerSpec
    params: Params
    target: Target
    result: Result
    elapsed: float
    # The state store refused the audit row: it waits in the local spool (bot/store/spool.py).
    audit_delayed: bool = False


@dataclass(frozen=True)
class Failed:
    message: str
    spec: HandlerSpec | None = None
    audit_delayed: bool = False
    # The target moved on since its preview, so the action refused to run (nothing changed).
    moved: bool = False


@dataclass(frozen=True)
class Refused:
    message: str


@dataclass(frozen=True)
class NeedsConfirmation:
    """A destructive request stored as a pending action; the front end asks to confirm it."""

    action_id: str
    spec: HandlerSpec
    params: Params
    target: Target
    preview: Preview
    needs_approval: bool
    expires_in: float


@dataclass(frozen=True)
class Running:
    """A confirmed action still running when its wait ended: `future` resolves (and is audited)
    when it finishes; nobody may call it failed meanwhile."""

    spec: HandlerSpec
    params: Params
    target: Target
    future: Future[Done | Failed]
    waited: float


HandlerOutcome = Done | Failed | Refused | NeedsConfirmation
