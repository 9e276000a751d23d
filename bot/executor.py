"""Run a handler request the same way from Slack and from the console.

parse → expand (service, default target) → validate → access → run on a worker with a
timeout → audit. The outcome is a value the front end renders; nothing here talks to Slack.

Two worker pools: read-only handlers share `pool`, where each person has at most
`limits.user_inflight` handlers (and previews) in flight, counted until a handler really ends,
also after its answer timed out; confirmed destructive actions run on `action_pool`, which
read-only traffic never reaches. A confirmed action that outlasts its wait is `Running`, never
failed: it is audited when it ends (bot/guard/flow.py posts that outcome).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Protocol, TypeVar

from bot.commands.parse import ParseError, parse_args, validate
from bot.commands.target import Target, UnknownService, expand, service_fills
from bot.config import ChatopsConfig
from bot.request import (
    Done,
    Failed,
    HandlerOutcome,
    NeedsConfirmation,
    Refused,
    Request,
    Running,
    new_request_id,
)
from bot.services import Clients
from bot.store.audit import Event, Outcome
from bot.store.auditlog import AuditLog
from handlers import Context, HandlerSpec, Registry
from handlers.errors import HandlerError, TargetMoved
from handlers.params import Params
from handlers.pin import with_pin
from handlers.redact import redact
from handlers.results import Pin, Preview, Result

__all__ = [
    "Done",
    "Executor",
    "Failed",
    "HandlerOutcome",
    "Hold",
    "NeedsConfirmation",
    "Policy",
    "Refused",
    "Request",
    "Running",
    "new_request_id",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds a front end waits for a read-only handler beyond its own calls' timeouts (it may
# queue behind others); a destructive one has workers of its own, so it waits less.
READ_GRACE = 5.0
ACTION_GRACE = 1.0


class Verdict(Protocol):
    """Whether a person may run a handler on a target (bot.guard.Decision)."""

    @property
    def allowed(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def needs_approval(self) -> bool: ...


class Policy(Protocol):
    """Who may run what (bot.guard.Access): the executor asks, the guard's layer answers."""

    def check(self, user_id: str, spec: HandlerSpec, target: Target) -> Verdict: ...


class Hold(Protocol):
    """Stores a previewed destructive request as a pending action (bot.guard.ActionStore.hold)."""

    def __call__(
        self,
        req: Request,
        spec: HandlerSpec,
        params: Params,
        target: Target,
        preview: Preview,
        needs_approval: bool,
    ) -> NeedsConfirmation | Refused | Failed: ...


class Executor:
    def __init__(
        self,
        *,
        config: ChatopsConfig,
        registry: Registry,
        clients: Clients,
        access: Policy,
        audit: AuditLog,
        hold: Hold,
        pool: ThreadPoolExecutor,
        action_pool: ThreadPoolExecutor,
        on_result: Callable[[HandlerSpec, str, float], None] | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.clients = clients
        self.access = access
        self.audit = audit
        self.hold = hold
        self.pool = pool
        self.action_pool = action_pool
        # Metrics hook: (spec, outcome, seconds).
        self.on_result = on_result
        self._inflight: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- one person's work in flight ------------------------------------------------------

    def _take(self, user_id: str) -> bool:
        cap = self.config.limits.user_inflight
        with self._lock:
            n = self._inflight.get(user_id, 0)
            if n >= cap:
                return False
            self._inflight[user_id] = n + 1
            return True

    def _release(self, user_id: str) -> None:
        with self._lock:
            n = self._inflight.get(user_id, 0) - 1
            if n > 0:
                self._inflight[user_id] = n
            else:
                self._inflight.pop(user_id, None)

    @contextmanager
    def _slot(
        self, user_id: str, pool: ThreadPoolExecutor, fn: Callable[[], T]
    ) -> Iterator[Future[T] | None]:
        """Submit `fn` in one of the user's slots (None when all are taken); the slot is freed
        when `fn` really ends, not when the caller stops waiting."""
        if not self._take(user_id):
            yield None
            return
        try:
            future = pool.submit(fn)
        except BaseException:
            self._release(user_id)
            raise
        future.add_done_callback(lambda _f: self._release(user_id))
        yield future

    def _busy(self, req: Request, spec: HandlerSpec, params: Params | None, target: Target) -> Refused:
        cap = self.config.limits.user_inflight
        msg = (
            f"You already have {cap} commands running (limits.user_inflight); {spec.name} on "
            f"{target.describe() or 'its target'} was not started. Wait for one to finish, then ask again."
        )
        self._audit(req, spec, params, Event.REFUSE, Outcome.REFUSED, msg, target)
        return Refused(msg)

    # -- requests -------------------------------------------------------------------------

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

    def handle(self, req: Request, spec: HandlerSpec, words: list[str]) -> HandlerOutcome:
        """Parse, check access, then run (read-only) or store a pending action (destructive)."""
        try:
            params = self.prepare(spec, words, req.command)
        except ParseError as exc:
            self._audit(req, spec, None, Event.REQUEST, Outcome.ERROR, str(exc))
            return Failed(str(exc), spec)
        target = Target.of(params)
        decision = self.access.check(req.user_id, spec, target)
        if not decision.allowed:
            self._audit(req, spec, params, Event.REFUSE, Outcome.REFUSED, decision.reason, target)
            return Refused(decision.reason)
        wide = self._too_wide(spec, params, req.command)
        if wide:
            self._audit(req, spec, params, Event.REFUSE, Outcome.REFUSED, wide, target)
            return Refused(wide)
        if spec.destructive:
            return self._request_destructive(req, spec, params, target, decision.needs_approval)
        return self.run(req, spec, params, target)

    def run(self, req: Request, spec: HandlerSpec, params: Params, target: Target) -> Done | Failed | Refused:
        """Run a read-only handler in one of the requester's slots, within its timeout; audit it."""
        started = time.monotonic()
        try:
            ctx = self._context(req, spec, params)
        except Exception as exc:
            return self._finish(req, spec, params, target, started, self._error(spec, target, exc))
        with self._slot(req.user_id, self.pool, lambda: self._call(spec, ctx, params)) as future:
            if future is None:
                return self._busy(req, spec, params, target)
            wait = ctx.timeout * 3 + READ_GRACE
            try:
                result: Result | Failed = future.result(timeout=wait)
            except FutureTimeout:
                result = Failed(
                    f"{spec.name} on {target.describe() or 'its target'} did not answer within {wait:.0f} s; "
                    "stopped waiting for it (it only reads, so nothing was changed)",
                    spec,
                )
        return self._finish(req, spec, params, target, started, result)

    def run_confirmed(
        self, req: Request, spec: HandlerSpec, params: Params, target: Target, pin: Pin
    ) -> Done | Failed | Running:
        """Run a confirmed action on the action workers (a `RunConfirmed` for bot.guard.Guard).

        The job itself audits its outcome when it ends, so a front end that stops waiting
        (`Running`) never loses it.
        """
        started = time.monotonic()
        try:
            ctx = self._context(req, spec, params)
        except Exception as exc:
            return self._finish(req, spec, params, target, started, self._error(spec, target, exc))
        if pin:
            ctx = with_pin(ctx, pin)

        def job() -> Done | Failed:
            return self._finish(req, spec, params, target, started, self._call(spec, ctx, params))

        future = self.action_pool.submit(job)
        try:
            return future.result(timeout=ctx.timeout * 3 + ACTION_GRACE)
        except FutureTimeout:
            return Running(spec, params, target, future, time.monotonic() - started)

    def _request_destructive(
        self, req: Request, spec: HandlerSpec, params: Params, target: Target, needs_approval: bool
    ) -> HandlerOutcome:
        """Preview, then hold the request for confirmation. A preview only reads: it runs on the
        read-only workers in one of the requester's slots, never on the actions' own."""
        assert spec.preview is not None
        started = time.monotonic()
        preview_fn = spec.preview
        try:
            ctx = self._context(req, spec, params)
            with self._slot(req.user_id, self.pool, lambda: preview_fn(ctx, params)) as future:
                if future is None:
                    return self._busy(req, spec, params, target)
                preview: Preview = future.result(timeout=ctx.timeout * 3 + READ_GRACE)
        except FutureTimeout:
            return self._failed(
                req, spec, params, target, f"{spec.name}: the preview did not finish in time", started
            )
        except HandlerError as exc:
            return self._failed(req, spec, params, target, redact(str(exc)), started)
        except Exception as exc:
            msg = f"{spec.name} preview failed on {target.describe()}: {type(exc).__name__}: {exc}"
            return self._failed(req, spec, params, target, redact(msg), started)
        return self.hold(req, spec, params, target, preview, needs_approval)

    def _too_wide(self, spec: HandlerSpec, params: Params, command: str) -> str:
        """One request fans out at most `limits.fan_out` ways per list argument (`--url` ×N)."""
        cap = self.config.limits.fan_out
        for name, info in type(params).model_fields.items():
            value = getattr(params, name)
            if isinstance(value, list | tuple | set | frozenset) and len(value) > cap:
                extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
                flags = extra.get("flags")
                flag = str(flags[0]) if isinstance(flags, list) and flags else "--" + name.replace("_", "-")
                return (
                    f"{command} {spec.sub}: {flag} names {len(value)} items; one command takes at most "
                    f"{cap} (limits.fan_out). Nothing was run; split it up."
                )
        return ""

    # -- calling a handler ----------------------------------------------------------------

    def _context(self, req: Request, spec: HandlerSpec, params: Params) -> Context[object]:
        ctx = self.clients.context(spec, getattr(params, spec.target_field or "", None))
        # Who asked, for what the target records (a silence's author).
        return dataclasses.replace(ctx, requester=req.user_id)

    def _call(self, spec: HandlerSpec, ctx: Context[object], params: Params) -> Result | Failed:
        """The handler's result, or its failure as a message; never raises."""
        try:
            return spec.fn(ctx, params)
        except TargetMoved as exc:
            return Failed(redact(str(exc)), spec, moved=True)
        except Exception as exc:
            return self._error(spec, Target.of(params), exc)

    def _error(self, spec: HandlerSpec, target: Target, exc: Exception) -> Failed:
        if isinstance(exc, HandlerError):
            return Failed(redact(str(exc)), spec)
        # A bug or an unmapped client error: still a clear message.
        msg = f"{spec.name} failed on {target.describe() or 'its target'}: {type(exc).__name__}: {exc}"
        return Failed(redact(msg), spec)

    def _finish(
        self,
        req: Request,
        spec: HandlerSpec,
        params: Params,
        target: Target,
        started: float,
        got: Result | Failed,
    ) -> Done | Failed:
        elapsed = time.monotonic() - started
        event = Event.EXECUTE if spec.destructive else Event.REQUEST
        if isinstance(got, Failed):
            written = self._audit(req, spec, params, event, Outcome.ERROR, got.message, target, elapsed)
            self._observe(spec, "error", elapsed)
            return Failed(got.message, spec, audit_delayed=not written, moved=got.moved)
        written = self._audit(req, spec, params, event, Outcome.OK, "", target, elapsed)
        self._observe(spec, "ok", elapsed)
        return Done(spec, params, target, got, elapsed, audit_delayed=not written)

    def _failed(
        self, req: Request, spec: HandlerSpec, params: Params | None, target: Target, msg: str, started: float
    ) -> Failed:
        elapsed = time.monotonic() - started
        event = Event.EXECUTE if spec.destructive else Event.REQUEST
        written = self._audit(req, spec, params, event, Outcome.ERROR, msg, target, elapsed)
        self._observe(spec, "error", elapsed)
        return Failed(msg, spec, audit_delayed=not written)

    def _observe(self, spec: HandlerSpec, outcome: str, elapsed: float) -> None:
        if self.on_result is None:
            return
        try:
            self.on_result(spec, outcome, elapsed)
        except Exception:  # a metrics hook must never turn an outcome into an error
            log.exception("metrics hook failed")

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
    ) -> bool:
        """True when the row is in the store; False when it waits in the spool."""
        return self.audit.record(
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
