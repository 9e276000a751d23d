"""Run a handler request the same way from Slack and from the console.

parse → expand (service, default target) → validate → guard → run in the worker pool with a
timeout → audit. The outcome is a value the front end renders; nothing here talks to Slack.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from bot.commands.parse import ParseError, parse_args, validate
from bot.commands.target import Target, UnknownService, expand, service_fills
from bot.config import ChatopsConfig
from bot.services import Clients
from bot.store import Store
from bot.store.audit import Event, Outcome, record
from handlers import HandlerSpec, Registry
from handlers.errors import HandlerError
from handlers.params import Params
from handlers.redact import redact
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


@dataclass(frozen=True)
class Failed:
    message: str
    spec: HandlerSpec | None = None


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


Outcome_ = Done | Failed | Refused | NeedsConfirmation


class Executor:
    def __init__(
        self,
        *,
        config: ChatopsConfig,
        registry: Registry,
        clients: Clients,
        store: Store,
        guard: Any,
        pool: ThreadPoolExecutor,
        on_result: Callable[[HandlerSpec, str, float], None] | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.clients = clients
        self.store = store
        self.guard = guard
        self.pool = pool
        # Metrics hook: (spec, outcome, seconds).
        self.on_result = on_result

    def prepare(self, spec: HandlerSpec, words: list[str], command: str) -> Params:
        raw = parse_args(spec, words, command)
        filled = service_fills(spec, raw, self.config)
        if filled & raw.keys():
            # A bare word landed in a field the named service fills: read the words again
            # with those fields taken by the service.
            raw = parse_args(spec, words, command, filled=filled)
        try:
            raw = expand(spec, raw, self.config)
        except UnknownService as exc:
            raise ParseError(str(exc)) from None
        return validate(spec, raw, command)

    def handle(self, req: Request, spec: HandlerSpec, words: list[str]) -> Outcome_:
        """Parse, check access, then run (read-only) or store a pending action (destructive)."""
        try:
            params = self.prepare(spec, words, req.command)
        except ParseError as exc:
            self._audit(req, spec, None, Event.REQUEST, Outcome.ERROR, str(exc))
            return Failed(str(exc), spec)
        target = Target.of(params)
        decision = self.guard.check(req.user_id, spec, target)
        if not decision.allowed:
            self._audit(req, spec, params, Event.REFUSE, Outcome.REFUSED, decision.reason, target)
            return Refused(decision.reason)
        if spec.destructive:
            return self._request_destructive(req, spec, params, target)
        return self.run(req, spec, params, target)

    def run(self, req: Request, spec: HandlerSpec, params: Params, target: Target) -> Done | Failed:
        """Run a handler in the worker pool within its timeout, and audit the outcome."""
        started = time.monotonic()
        try:
            ctx = self.clients.context(spec, getattr(params, spec.target_field or "", None))
            ctx = dataclasses.replace(ctx, requester=req.user_id)
            future = self.pool.submit(spec.fn, ctx, params)
            # The handler's own calls time out at ctx.timeout; this bounds the whole handler.
            result = future.result(timeout=ctx.timeout * 3 + 5)
        except FutureTimeout:
            msg = f"{spec.name} on {target.describe() or 'its target'} did not finish in time"
            return self._failed(req, spec, params, target, msg, started)
        except HandlerError as exc:
            return self._failed(req, spec, params, target, redact(str(exc)), started)
        except Exception as exc:  # a bug or an unmapped client error: still a clear message
            msg = f"{spec.name} failed on {target.describe() or 'its target'}: {type(exc).__name__}: {exc}"
            return self._failed(req, spec, params, target, redact(msg), started)
        elapsed = time.monotonic() - started
        event = Event.EXECUTE if spec.destructive else Event.REQUEST
        self._audit(req, spec, params, event, Outcome.OK, "", target, elapsed)
        if self.on_result:
            self.on_result(spec, "ok", elapsed)
        return Done(spec, params, target, result, elapsed)

    def preview(self, spec: HandlerSpec, params: Params) -> Preview:
        assert spec.preview is not None
        ctx = self.clients.context(spec, getattr(params, spec.target_field or "", None))
        future = self.pool.submit(spec.preview, ctx, params)
        return future.result(timeout=ctx.timeout * 3 + 5)

    def _request_destructive(
        self, req: Request, spec: HandlerSpec, params: Params, target: Target
    ) -> Outcome_:
        started = time.monotonic()
        try:
            preview = self.preview(spec, params)
        except FutureTimeout:
            return self._failed(
                req, spec, params, target, f"{spec.name}: the preview did not finish in time", started
            )
        except HandlerError as exc:
            return self._failed(req, spec, params, target, redact(str(exc)), started)
        except Exception as exc:
            msg = f"{spec.name} preview failed on {target.describe()}: {type(exc).__name__}: {exc}"
            return self._failed(req, spec, params, target, redact(msg), started)
        outcome: Outcome_ = self.guard.request(req, spec, params, target, preview)
        return outcome

    def _failed(
        self, req: Request, spec: HandlerSpec, params: Params | None, target: Target, msg: str, started: float
    ) -> Failed:
        elapsed = time.monotonic() - started
        event = Event.EXECUTE if spec.destructive else Event.REQUEST
        self._audit(req, spec, params, event, Outcome.ERROR, msg, target, elapsed)
        if self.on_result:
            self.on_result(spec, "error", elapsed)
        return Failed(msg, spec)

    def _audit(
        self,
        req: Request,
        spec: HandlerSpec | None,
        params: Params | None,
        event: Event,
        outcome: Outcome,
        detail: str,
        target: Target | None = None,
        elapsed: float | None = None,
    ) -> None:
        record(
            self.store.engine,
            request_id=req.request_id,
            user_id=req.user_id,
            channel_id=req.channel_id,
            command=f"{req.command} {req.text}".strip(),
            handler=spec.name if spec else None,
            args=params.model_dump(mode="json") if params else {},
            target=target.describe() if target else "",
            event=event,
            outcome=outcome,
            detail=detail,
            duration_ms=int(elapsed * 1000) if elapsed is not None else None,
        )
